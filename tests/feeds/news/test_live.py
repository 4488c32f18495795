"""Live news in a background thread: stored point in time, and a hanging feed never holds up the caller."""
from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path

import pandas as pd

from feeds.live.clock import ScaledClock
from feeds.news.archive import NewsArchive
from feeds.news.config import parse_config
from feeds.news.live import LiveNews
from tests.feeds.news.loopback import FeedServer, Route, SilentServer

START = pd.Timestamp("2024-01-06 12:00", tz="UTC").to_pydatetime()


def test_items_count_from_the_later_of_published_and_fetched(
    feed_server: FeedServer, data_dir: Path, tmp_path: Path
) -> None:
    feed_server.routes["/yahoo.xml"] = Route((data_dir / "yahoo_nvda.xml").read_bytes())
    config = parse_config({"defaults": {"timeout": 2, "retries": 0}, "symbols": {"NVDA": ["Nvidia"]},
                           "feeds": [{"name": "y", "url": feed_server.url("/yahoo.xml"), "symbols": ["NVDA"]}]})
    done = threading.Event()
    news = LiveNews(config, tmp_path / "news.sqlite", every_s=3600, clock=ScaledClock(START, speed=1.0),
                    on_report=lambda report: done.set())
    news.start()
    assert done.wait(10)
    assert news.stop(5)

    with NewsArchive(tmp_path / "news.sqlite") as archive:
        frame = archive.frame("NVDA")
        assert len(frame) == 2
        fetched = frame["fetched_at"].iloc[0]
        assert abs(fetched - pd.Timestamp(START)) < pd.Timedelta(seconds=5)  # the session's clock, not the wall's
        assert (frame["visible_at"] == frame[["published", "fetched_at"]].max(axis=1)).all()
        assert (frame["published"] < frame["fetched_at"]).all()  # old news: they count from when they were seen
        assert archive.items_for("NVDA", until=fetched - timedelta(seconds=1)) == []
        assert len(archive.items_for("NVDA", until=fetched)) == 2
    runs, last, busy = news.state()
    assert runs == 1 and last is not None and not last.all_failed and busy is None


def test_a_hanging_news_source_never_blocks_the_bar_loop(silent_server: SilentServer, tmp_path: Path) -> None:
    config = parse_config({"defaults": {"timeout": 3, "retries": 0},
                           "feeds": [{"name": "hangs", "url": silent_server.url()}]})
    news = LiveNews(config, tmp_path / "news.sqlite", every_s=60, clock=ScaledClock(START, speed=1.0))
    news.start()
    ticks, started = 0, time.monotonic()
    while time.monotonic() - started < 1.0:  # a stand-in bar loop: it keeps its own pace meanwhile
        time.sleep(0.05)
        ticks += 1
    assert ticks >= 15
    runs, _, busy = news.state()
    assert runs == 0 and busy is not None  # the collection is still waiting on the silent server
    stop_started = time.monotonic()
    news.stop(0.2)
    assert time.monotonic() - stop_started < 0.5
