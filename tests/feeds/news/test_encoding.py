"""Mislabelled encodings are decoded by what the bytes are, or the document is rejected: never mojibake."""
from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

import pytest

from feeds.news.archive import NewsArchive
from feeds.news.collect import collect_once
from feeds.news.config import parse_config
from feeds.news.encoding import UndecodableError, decode_document
from feeds.news.fetch import Fetcher
from tests.feeds.news.loopback import FeedServer, Route

TITLE = "沪深300指数收涨1.2% 半导体领涨"
SUMMARY = "英伟达概念股走强，半导体板块领涨两市，成交额放大。"
NOW = datetime(2024, 1, 6, 12, 0, tzinfo=timezone.utc)


def chinese_feed(declared: str = "utf-8") -> str:
    return (f'<?xml version="1.0" encoding="{declared}"?>\n<rss version="2.0"><channel><title>新浪财经</title>'
            f"<item><title>{TITLE}</title><description>{SUMMARY}</description>"
            "<guid>https://finance.sina.example/1</guid><pubDate>Thu, 04 Jan 2024 08:00:00 GMT</pubDate></item>"
            "</channel></rss>")


def collect(server: FeedServer, archive: NewsArchive, route: Route) -> object:
    server.routes["/cn.xml"] = route
    config = parse_config({"defaults": {"timeout": 2, "retries": 0}, "symbols": {"NVDA": ["英伟达"]},
                           "feeds": [{"name": "sina", "url": server.url("/cn.xml")}]})
    with Fetcher(retries=0) as fetcher:
        return collect_once(config, archive, fetcher, clock=lambda: NOW).feeds[0]


def test_gb18030_sent_as_utf8_is_decoded_and_stored_correctly(feed_server: FeedServer, archive: NewsArchive) -> None:
    body = chinese_feed("utf-8").encode("gb18030")
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")  # the label is really wrong
    report = collect(feed_server, archive, Route(body, content_type="application/rss+xml; charset=utf-8"))
    assert report.status == "ok" and report.new == 1
    assert "encoding: declared utf-8, decoded as gb18030" in report.line()
    [item] = archive.items_for("NVDA", until=NOW + timedelta(days=1))
    assert item.title == TITLE and item.summary == SUMMARY and item.lang == "zh"


def test_utf8_sent_as_gb2312_is_read_as_utf8(feed_server: FeedServer, archive: NewsArchive) -> None:
    body = chinese_feed("gb2312").encode("utf-8")
    report = collect(feed_server, archive, Route(body, content_type="text/xml; charset=gb2312"))
    [item] = archive.items_for("NVDA", until=NOW + timedelta(days=1))
    assert item.title == TITLE and "decoded as utf-8" in report.line()


def test_a_correctly_labelled_legacy_feed_is_not_flagged() -> None:
    decoded = decode_document(chinese_feed("gb2312").encode("gb2312"), "text/xml")
    assert decoded.encoding == "gb2312" and not decoded.mislabelled
    assert decoded.body.decode("utf-8").startswith('<?xml version="1.0" encoding="utf-8"?>')
    assert TITLE in decoded.body.decode("utf-8")


def test_a_document_of_unknown_encoding_is_rejected_whole(feed_server: FeedServer, archive: NewsArchive) -> None:
    noise = os.urandom(4000)  # random bytes: not UTF-8, and no encoding decodes them into clean text
    body = chinese_feed().encode("utf-8").replace(TITLE.encode(), noise)
    with pytest.raises(UndecodableError):
        decode_document(body, "text/xml; charset=utf-8")
    report = collect(feed_server, archive, Route(body, content_type="text/xml; charset=utf-8"))
    assert report.new == 0 and "rejected, text encoding unknown" in report.line()
    assert archive.frame("NVDA").empty


def test_undated_and_recovered_items_are_counted_in_the_collect_line(feed_server: FeedServer,
                                                                     archive: NewsArchive) -> None:
    items = "".join(f"<item><title>Nvidia story {i}</title><guid>https://n.example/{i}</guid></item>"
                    for i in range(3))
    body = f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}'.encode()
    truncated = body + b"<item><title>Nvidia story 3</title><guid>https://n.ex"  # the connection dropped
    report = collect(feed_server, archive, Route(truncated))
    assert report.status == "ok" and report.undated == 4 and report.recovered == 4  # the cut item too
    line = report.line()
    assert "undated=4 (stamped with the fetch time)" in line
    assert "ill-formed:" in line and "4 item(s) recovered from the damaged document and stored" in line
