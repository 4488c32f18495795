"""Feed documents built to hurt: a gzip bomb, entity expansion (billion laughs) and external entities (XXE)."""
from __future__ import annotations

import gzip
import time
from datetime import datetime, timezone

import pytest

from feeds.news.config import FeedConfig
from feeds.news.fetch import Fetcher
from feeds.news.parse import parse_feed
from ground.errors import SourceUnavailableError
from tests.feeds.news.loopback import FeedServer, Route

FEED = FeedConfig(name="hostile", url="https://feed.example/rss")
NOW = datetime(2024, 1, 6, tzinfo=timezone.utc)


def test_a_gzip_bomb_is_cut_at_the_size_cap(feed_server: FeedServer) -> None:
    bomb = gzip.compress(b"<rss>" + b" " * 64_000_000 + b"</rss>", compresslevel=9)  # 64 MB in about 60 KB
    feed_server.routes["/bomb.xml"] = Route(bomb, content_encoding="gzip")
    started = time.monotonic()
    with Fetcher(retries=0) as fetcher, pytest.raises(SourceUnavailableError, match="larger than the 1000000-byte"):
        fetcher.fetch(feed_server.url("/bomb.xml"), timeout=2, max_bytes=1_000_000)
    assert time.monotonic() - started < 2.0


def test_entity_expansion_is_not_performed() -> None:
    doc = ('<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY lol0 "lol">'
           + "".join(f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">' for i in range(1, 10))
           + ']><rss version="2.0"><channel><title>t</title><item><title>Laughs &lol9;</title>'
           "<guid>https://x.example/1</guid></item></channel></rss>")
    started = time.monotonic()
    parsed = parse_feed(doc.encode(), FEED, fetched_at=NOW)
    assert time.monotonic() - started < 0.5
    assert parsed.items == () and "declares XML entities" in parsed.ill_formed


def test_external_entities_are_not_read(tmp_path) -> None:  # noqa: ANN001 (pytest's tmp_path)
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-VALUE", encoding="utf-8")
    doc = (f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY xxe SYSTEM "file://{secret}">]>'
           '<rss version="2.0"><channel><title>t</title><item><title>Leak &xxe; here</title>'
           "<guid>https://x.example/1</guid></item></channel></rss>")
    parsed = parse_feed(doc.encode(), FEED, fetched_at=NOW)
    assert parsed.items == () and "declares XML entities" in parsed.ill_formed
