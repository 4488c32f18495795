"""Live news for a paper session: the configured feeds collected on their own schedule, in a background thread,
into the same archive that backtests read.

The thread owns its own archive connection (SQLite connections stay in their thread; WAL lets the bar loop read
while this one writes) and its own fetcher, whose timeouts bound every request. The bar loop never waits for it:
a feed that hangs delays only the next collection. Fetch times come from the session's clock, and the archive
counts an item from the later of its published and fetched times, so a bar sees exactly what had been seen by
its cutoff, as in backtests.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from feeds.live.clock import Clock
from feeds.news.archive import NewsArchive
from feeds.news.collect import CollectReport, collect_once
from feeds.news.config import NewsConfig
from feeds.news.fetch import Fetcher

logger = logging.getLogger(__name__)


class LiveNews:
    """Collects ``config``'s feeds into the archive at ``archive_path`` every ``every_s`` seconds of ``clock``."""

    def __init__(
        self,
        config: NewsConfig,
        archive_path: str | Path,
        *,
        every_s: float,
        clock: Clock,
        on_report: Callable[[CollectReport], None] | None = None,
    ) -> None:
        if every_s <= 0:
            raise ValueError("every_s must be positive")
        self.config, self.archive_path, self.every_s, self.clock = config, Path(archive_path), every_s, clock
        self._on_report = on_report
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._runs = 0
        self._last: CollectReport | None = None
        self._busy_since: datetime | None = None

    def start(self) -> None:
        """Start collecting (the first run starts at once)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="live-news", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> bool:
        """Ask the thread to stop; True when it ended within ``timeout`` (a hanging fetch is left to its own
        timeout in a daemon thread, so stopping never hangs the session)."""
        self._stop.set()
        if self._thread is None:
            return True
        self._thread.join(timeout)
        if self._thread.is_alive():
            logger.warning("news collection still waiting on a feed after %.1f s; leaving it to its timeout", timeout)
            return False
        return True

    def state(self) -> tuple[int, CollectReport | None, datetime | None]:
        """Runs finished, the last report, and since when a run has been in progress (None when idle)."""
        with self._lock:
            return self._runs, self._last, self._busy_since

    def _run(self) -> None:
        try:
            with NewsArchive(self.archive_path) as archive, Fetcher(retries=self.config.retries) as fetcher:
                while not self._stop.is_set():
                    with self._lock:
                        self._busy_since = self.clock.now()
                    report = collect_once(self.config, archive, fetcher, clock=self.clock.now)
                    with self._lock:
                        self._runs, self._last, self._busy_since = self._runs + 1, report, None
                    for feed in report.feeds:
                        (logger.warning if feed.status == "error" else logger.info)("news %s", feed.line())
                    if self._on_report is not None:
                        self._on_report(report)
                    if self.clock.wait(self.every_s, self._stop):
                        break
        except Exception:  # news is an input, not the session: log it and let the bars go on without it
            logger.exception("live news collection stopped")
