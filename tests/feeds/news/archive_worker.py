"""A separate process that writes to a news archive, for the concurrency and crash tests.

    python archive_worker.py import  ARCHIVE_PREFIX ROUNDS TAG GO_FILE ROWS
    python archive_worker.py collect ARCHIVE_PREFIX ROUNDS TAG GO_FILE FEED_URL
    python archive_worker.py crash   ARCHIVE COMMITTED_ROWS READY_FILE

import/collect wait for GO_FILE (so that every worker starts at once), then write to
ARCHIVE_PREFIX-<round>.sqlite for each round, so each round races on creating a new archive too.
crash commits one batch, then starts a second one and reports READY_FILE mid-transaction and sleeps,
waiting to be killed with SIGKILL.
"""
from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

from feeds.news.archive import NewsArchive
from feeds.news.collect import collect_once
from feeds.news.config import FeedConfig, FeedDefaults, NewsConfig
from feeds.news.fetch import Fetcher
from feeds.news.importer import import_file
from feeds.news.items import NewsItem

T0 = datetime(2024, 1, 4, 14, 30, tzinfo=timezone.utc)


def _wait_for(path: Path) -> None:
    deadline = time.monotonic() + 30
    while not path.exists():
        if time.monotonic() > deadline:
            sys.exit("the go file never appeared")
        time.sleep(0.005)


def _item(item_id: str, n: int) -> NewsItem:
    published = T0 + timedelta(minutes=n)
    return NewsItem(id=item_id, published=published, title=f"Item {item_id}", summary="", source="crash",
                    link="", lang="en", symbols=("NVDA",), fetched_at=published)


def _import(prefix: str, rounds: int, tag: str, go: Path, rows: int) -> None:
    _wait_for(go)
    folder = Path(prefix).parent
    for r in range(rounds):
        csv = folder / f"{tag}-{r}.csv"
        lines = ["published,title,symbols,id"] + [
            f"2024-01-{1 + i % 28:02d}T10:00:00Z,{tag} round {r} row {i},NVDA,{tag}-{r}-{i}" for i in range(rows)]
        csv.write_text("\n".join(lines) + "\n", encoding="utf-8")
        with NewsArchive(f"{prefix}-{r}.sqlite") as archive:
            report = import_file(csv, archive)
        assert report.added.new == rows, report


def _collect(prefix: str, rounds: int, tag: str, go: Path, url: str) -> None:
    _wait_for(go)
    config = NewsConfig(feeds=(FeedConfig(name=tag, url=url, symbols=("NVDA",), timeout=5.0),),
                        defaults=FeedDefaults(retries=0))
    for r in range(rounds):
        with NewsArchive(f"{prefix}-{r}.sqlite") as archive, Fetcher(retries=0) as fetcher:
            report = collect_once(config, archive, fetcher)
        assert report.feeds[0].status == "ok", report


def _crash(path: str, committed: int, ready: Path) -> None:
    with NewsArchive(path) as archive:
        archive.add([_item(f"kept-{i}", i) for i in range(committed)])

        def second_batch() -> Iterator[NewsItem]:
            for i in range(committed):
                yield _item(f"lost-{i}", i)
            ready.write_text("mid-transaction", encoding="utf-8")
            time.sleep(60)  # killed here, with the second batch written but not committed

        archive.add(second_batch())


if __name__ == "__main__":
    mode, *args = sys.argv[1:]
    if mode == "import":
        _import(args[0], int(args[1]), args[2], Path(args[3]), int(args[4]))
    elif mode == "collect":
        _collect(args[0], int(args[1]), args[2], Path(args[3]), args[4])
    else:
        _crash(args[0], int(args[1]), Path(args[2]))
