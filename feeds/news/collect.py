"""Collect the configured feeds into the archive, once or on a schedule, with a report per feed.

A feed that fails is reported and skipped; the others still run. A feed's HTTP validators are saved only after
its items are stored, so a crash between the two means a refetch, never a lost item. When the archive stays
locked by another process past its wait bound, that feed is reported as failed, the remaining feeds are skipped
without waiting again, and the report says so (`CollectReport.archive_locked`).
"""
from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone

from feeds.news.archive import ArchiveLockedError, FeedState, NewsArchive
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
    undated: int = 0
    recovered: int = 0
    encoding_note: str = ""
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
        if self.undated:
            text += f" undated={self.undated} (stamped with the fetch time)"
        if self.encoding_note:
            text += f" encoding: {self.encoding_note}"
        if self.ill_formed:
            text += f" ill-formed: {self.ill_formed}"
            if self.recovered:
                text += f" ({self.recovered} item(s) recovered from the damaged document and stored)"
        return text


@dataclass(frozen=True)
class CollectReport:
    """One collection run over all feeds."""

    started_at: datetime
    feeds: tuple[FeedReport, ...] = field(default_factory=tuple)
    archive_locked: str = ""  # the lock error when the archive stayed locked; later feeds were skipped

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
    if parsed.undated:
        logger.info("%s: %d undated item(s) stamped with the fetch time", feed.name, parsed.undated)
    recovered = len(parsed.items) if parsed.ill_formed else 0
    if recovered:
        logger.warning("%s: %d item(s) recovered from an ill-formed document (%s)", feed.name, recovered,
                       parsed.ill_formed)
    return FeedReport(feed.name, "ok", parsed.entries, added.new, added.updated, added.unchanged, parsed.rejected,
                      parsed.ill_formed, parsed.future_dated, parsed.undated, recovered, parsed.encoding_note)


def collect_once(
    config: NewsConfig, archive: NewsArchive, fetcher: Fetcher, *, clock: Clock = utc_now,
    on_feed: Callable[[FeedReport], None] | None = None,
) -> CollectReport:
    """Fetch every configured feed once and store what is new; `on_feed` hears each feed as it finishes."""
    started = clock()
    matcher = config.matcher()
    reports: list[FeedReport] = []
    locked = ""
    for feed in config.feeds:
        if locked:
            report = FeedReport(feed.name, "error", error="skipped: the news archive is locked")
        else:
            try:
                report = _collect_feed(feed, archive, fetcher, matcher, clock)
            except ArchiveLockedError as exc:
                locked = str(exc)
                report = FeedReport(feed.name, "error", error=f"not stored: {exc.what}")
        reports.append(report)
        if on_feed is not None:
            on_feed(report)
    return CollectReport(started, tuple(reports), locked)


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
    on_feed: Callable[[FeedReport], None] | None = None,
) -> int:
    """Collect every `every_s` seconds (start to start) until `max_runs` runs (None: forever); returns runs.

    A run that found the archive locked past its bound is reported and the next run tries again.
    """
    if every_s <= 0:
        raise ValueError("every_s must be positive")
    runs = 0
    while max_runs is None or runs < max_runs:
        started = time.monotonic()
        on_report(collect_once(config, archive, fetcher, clock=clock, on_feed=on_feed))
        runs += 1
        if max_runs is not None and runs >= max_runs:
            break
        sleep(max(0.0, every_s - (time.monotonic() - started)))
    return runs
