"""The whole collection path: HTTP on 127.0.0.1 -> fetch -> parse -> archive, and again with 304s and updates."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

from feeds.news.archive import NewsArchive
from feeds.news.collect import CollectReport, collect_every, collect_once
from feeds.news.config import NewsConfig, parse_config
from feeds.news.fetch import Fetcher
from tests.feeds.news.loopback import FeedServer, Route

START = datetime(2024, 1, 6, 12, 0, tzinfo=timezone.utc)


def clock_from(start: datetime) -> Callable[[], datetime]:
    ticks = iter(range(10_000))
    return lambda: start + timedelta(seconds=next(ticks))


def serve_fixtures(server: FeedServer, data_dir: Path) -> NewsConfig:
    server.routes["/yahoo.xml"] = Route((data_dir / "yahoo_nvda.xml").read_bytes())
    server.routes["/sina.xml"] = Route((data_dir / "sina_zh_gb2312.xml").read_bytes(),
                                       content_type="text/xml; charset=gb2312")
    server.routes["/atom.xml"] = Route((data_dir / "atom_updates.xml").read_bytes(),
                                       content_type="application/atom+xml")
    return parse_config({
        "defaults": {"timeout": 2, "retries": 0},
        "symbols": {"NVDA": ["Nvidia", "英伟达"], "AMD": ["Advanced Micro Devices"], "TSM": ["TSMC"]},
        "feeds": [
            {"name": "yahoo-nvda", "url": server.url("/yahoo.xml"), "lang": "en", "symbols": ["NVDA"]},
            {"name": "sina", "url": server.url("/sina.xml"), "lang": "zh"},
            {"name": "chipwire", "url": server.url("/atom.xml")},
            {"name": "gone", "url": server.url("/gone.xml")},
        ],
    })


def by_name(report: CollectReport) -> dict[str, object]:
    return {feed.name: feed for feed in report.feeds}


def test_collect_from_a_local_server(feed_server: FeedServer, data_dir: Path, archive: NewsArchive) -> None:
    config = serve_fixtures(feed_server, data_dir)
    with Fetcher(retries=0) as fetcher:
        report = collect_once(config, archive, fetcher, clock=clock_from(START))
    feeds = by_name(report)
    yahoo, sina, chipwire, gone = feeds["yahoo-nvda"], feeds["sina"], feeds["chipwire"], feeds["gone"]
    assert (yahoo.status, yahoo.entries, yahoo.new, len(yahoo.rejected)) == ("ok", 4, 2, 2)
    assert yahoo.rejection_reasons() == {"unreliable date": 1, "no title or summary": 1}
    assert (sina.status, sina.new, sina.ill_formed) == ("ok", 2, "")
    assert (chipwire.new, chipwire.future_dated) == (3, 1)
    assert gone.status == "error" and "HTTP 404" in gone.error
    assert not report.all_failed
    assert "rejected=2 (no title or summary: 1, unreliable date: 1)" in yahoo.line()

    nvda = archive.items_for("NVDA", until=START + timedelta(days=1))
    titles = [i.title for i in nvda]
    assert titles == [
        "英伟达股价创新高，市值突破1.2万亿美元",  # 2024-01-04 02:00 UTC
        "Nvidia shares jump 6% after record data-center revenue",
        "AMD and $NVDA slip as chip stocks cool",
        "Nvidia to present at CES keynote",
    ]  # the 2030 item waits for its date
    assert {i.lang for i in nvda} == {"en", "zh"}
    assert [i.title for i in archive.items_for("TSM", until=START + timedelta(days=1))] == [
        "TSMC guides first-quarter sales above estimates"]


def test_second_run_is_not_modified_then_an_update_is_versioned(
    feed_server: FeedServer, data_dir: Path, archive: NewsArchive
) -> None:
    config = serve_fixtures(feed_server, data_dir)
    with Fetcher(retries=0) as fetcher:
        collect_once(config, archive, fetcher, clock=clock_from(START))
        again = by_name(collect_once(config, archive, fetcher, clock=clock_from(START + timedelta(hours=1))))
        assert {again[n].status for n in ("yahoo-nvda", "sina", "chipwire")} == {"not-modified"}
        assert "not modified (304)" in again["sina"].line()
        sent = [headers.get("If-None-Match") for path, headers in feed_server.requests if path == "/atom.xml"]
        assert sent[0] is None and sent[1] == feed_server.routes["/atom.xml"].etag

        feed_server.routes["/atom.xml"] = Route((data_dir / "atom_updates_v2.xml").read_bytes(),
                                                content_type="application/atom+xml",
                                                last_modified="Sat, 06 Jan 2024 17:00:00 GMT")
        update_time = START + timedelta(hours=5)
        third = by_name(collect_once(config, archive, fetcher, clock=clock_from(update_time)))
    chipwire = third["chipwire"]
    assert (chipwire.status, chipwire.new, chipwire.updated, chipwire.unchanged) == ("ok", 0, 1, 2)

    def keynote(until: datetime) -> str:
        [item] = [i for i in archive.items_for("NVDA", until=until) if "CES" in i.title]
        return item.title

    assert keynote(update_time - timedelta(seconds=1)) == "Nvidia to present at CES keynote"
    assert keynote(update_time + timedelta(minutes=1)) == "Nvidia cancels CES keynote"
    versions = archive.frame("NVDA")
    assert len(versions[versions["title"].str.contains("CES")]) == 2


def test_collect_every_runs_on_schedule(feed_server: FeedServer, data_dir: Path, archive: NewsArchive) -> None:
    config = serve_fixtures(feed_server, data_dir)
    reports: list[CollectReport] = []
    sleeps: list[float] = []
    with Fetcher(retries=0) as fetcher:
        runs = collect_every(config, archive, fetcher, every_s=900.0, max_runs=3, on_report=reports.append,
                             clock=clock_from(START), sleep=sleeps.append)
    assert runs == 3 and len(reports) == 3 and len(sleeps) == 2
    assert all(880.0 < s <= 900.0 for s in sleeps)
    assert by_name(reports[0])["yahoo-nvda"].new == 2
    assert by_name(reports[2])["yahoo-nvda"].status == "not-modified"


def test_all_feeds_failing_is_flagged(archive: NewsArchive, feed_server: FeedServer) -> None:
    config = parse_config({"defaults": {"retries": 0},
                           "feeds": [{"name": "gone", "url": feed_server.url("/nothing.xml")}]})
    with Fetcher(retries=0) as fetcher:
        report = collect_once(config, archive, fetcher)
    assert report.all_failed and report.feeds[0].line().startswith("gone: error:")
