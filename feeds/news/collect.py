"""Collect the configured feeds into the archive, once or on a schedule, with a report per feed.

A feed that fails is reported and skipped; the others still run. A feed's HTTP validators are saved only after
its items are stored, so a crash between the two means a refetch, never a lost item.
"""
from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone

from feeds.news.archive import FeedState, NewsArchive
from feeds.news.config import FeedConfig, NewsConfig
from feeds.news.fetch import Fetcher
from feeds.news.parse import Rejection, parse_feed
from feeds.news.symbols import SymbolMatcher
from ground.errors import SourceUnavailableError

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The wall clock in UTC (the fetch time recorded for what is seen now)."""
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class FeedReport:
    """Outcome for one feed: ok, not-modified (HTTP 304) or error."""

    name: str
    status: str
    entries: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: tuple[Rejection, ...] = ()
    ill_formed: str = ""
    future_dated: int = 0
    error: str = ""

    def rejection_reasons(self) -> Counter[str]:
        """Rejections counted by reason kind (the text before the first colon)."""
        return Counter(r.reason.split(":")[0] for r in self.rejected)

    def line(self) -> str:
        """One human-readable line for the command line."""
        if self.status == "error":
            return f"{self.name}: error: {self.error}"
        if self.status == "not-modified":
            return f"{self.name}: not modified (304)"
        text = (f"{self.name}: fetched={self.entries} new={self.new} updated={self.updated} "
                f"unchanged={self.unchanged} rejected={len(self.rejected)}")
        reasons = self.rejection_reasons()
        if reasons:
            text += " (" + ", ".join(f"{reason}: {n}" for reason, n in sorted(reasons.items())) + ")"
        if self.future_dated:
            text += f" future-dated={self.future_dated}"
        if self.ill_formed:
            text += f" ill-formed: {self.ill_formed}"
        return text


@dataclass(frozen=True)
class CollectReport:
    """One collection run over all feeds."""

    started_at: datetime
    feeds: tuple[FeedReport, ...] = field(default_factory=tuple)

    @property
    def all_failed(self) -> bool:
        """True when there were feeds and every one of them failed."""
        return bool(self.feeds) and all(f.status == "error" for f in self.feeds)


def _collect_feed(
    feed: FeedConfig, archive: NewsArchive, fetcher: Fetcher, matcher: SymbolMatcher, clock: Clock
) -> FeedReport:
    state = archive.feed_state(feed.url)
    try:
        result = fetcher.fetch(feed.url, timeout=feed.timeout, max_bytes=feed.max_bytes,
                               etag=state.etag if state else "", last_modified=state.last_modified if state else "")
    except SourceUnavailableError as exc:
        logger.info("%s: %s", feed.name, exc)  # the report carries the error; this keeps it in the log
        return FeedReport(feed.name, "error", error=str(exc))
    fetched_at = clock()
    if result.not_modified:
        archive.save_feed_state(FeedState(feed.url, result.etag, result.last_modified, fetched_at))
        return FeedReport(feed.name, "not-modified")
    parsed = parse_feed(result.body, feed, fetched_at=fetched_at, matcher=matcher, content_type=result.content_type)
    added = archive.add(parsed.items)
    archive.save_feed_state(FeedState(feed.url, result.etag, result.last_modified, fetched_at))
    for rejection in parsed.rejected:
        logger.info("%s: entry %d %r rejected: %s", feed.name, rejection.entry, rejection.title, rejection.reason)
    return FeedReport(feed.name, "ok", parsed.entries, added.new, added.updated, added.unchanged, parsed.rejected,
                      parsed.ill_formed, parsed.future_dated)


def collect_once(
    config: NewsConfig, archive: NewsArchive, fetcher: Fetcher, *, clock: Clock = utc_now
) -> CollectReport:
    """Fetch every configured feed once and store what is new."""
    started = clock()
    matcher = config.matcher()
    reports = tuple(_collect_feed(feed, archive, fetcher, matcher, clock) for feed in config.feeds)
    return CollectReport(started, reports)


def collect_every(
    config: NewsConfig,
    archive: NewsArchive,
    fetcher: Fetcher,
    *,
    every_s: float,
    max_runs: int | None,
    on_report: Callable[[CollectReport], None],
    clock: Clock = utc_now,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Collect every `every_s` seconds (start to start) until `max_runs` runs (None: forever); returns runs."""
    if every_s <= 0:
        raise ValueError("every_s must be positive")
    runs = 0
    while max_runs is None or runs < max_runs:
        started = time.monotonic()
        on_report(collect_once(config, archive, fetcher, clock=clock))
        runs += 1
        if max_runs is not None and runs >= max_runs:
            break
        sleep(max(0.0, every_s - (time.monotonic() - started)))
    return runs
