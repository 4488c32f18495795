from __future__ import annotations

import time

import pytest

from feeds.news.fetch import Fetcher
from ground.errors import SourceUnavailableError
from tests.feeds.news.loopback import FeedServer, Route, SilentServer

BODY = b"<rss version='2.0'><channel><title>t</title></channel></rss>"


def test_fetch_returns_body_and_validators(feed_server: FeedServer) -> None:
    feed_server.routes["/a.xml"] = Route(BODY)
    with Fetcher(retries=0) as fetcher:
        result = fetcher.fetch(feed_server.url("/a.xml"), timeout=2, max_bytes=10_000)
    assert result.status == 200 and result.body == BODY and not result.not_modified
    assert result.etag == feed_server.routes["/a.xml"].etag
    assert result.last_modified == "Thu, 04 Jan 2024 08:00:00 GMT"
    assert result.content_type.startswith("application/rss+xml")


def test_conditional_get_with_etag_gives_304(feed_server: FeedServer) -> None:
    feed_server.routes["/a.xml"] = Route(BODY)
    url = feed_server.url("/a.xml")
    with Fetcher(retries=0) as fetcher:
        first = fetcher.fetch(url, timeout=2, max_bytes=10_000)
        second = fetcher.fetch(url, timeout=2, max_bytes=10_000, etag=first.etag)
    assert second.not_modified and second.body == b"" and second.etag == first.etag
    assert feed_server.requests[-1][1].get("If-None-Match") == first.etag


def test_conditional_get_with_last_modified_gives_304(feed_server: FeedServer) -> None:
    feed_server.routes["/a.xml"] = Route(BODY)
    with Fetcher(retries=0) as fetcher:
        result = fetcher.fetch(feed_server.url("/a.xml"), timeout=2, max_bytes=10_000,
                               last_modified="Thu, 04 Jan 2024 08:00:00 GMT")
    assert result.not_modified
    assert result.last_modified == "Thu, 04 Jan 2024 08:00:00 GMT"


@pytest.mark.parametrize("declare_length", [True, False])
def test_size_limit(feed_server: FeedServer, declare_length: bool) -> None:
    feed_server.routes["/big.xml"] = Route(b"<rss>" + b"x" * 300_000 + b"</rss>", declare_length=declare_length)
    feed_server.routes["/small.xml"] = Route(BODY, declare_length=declare_length)
    with Fetcher(retries=0) as fetcher:
        with pytest.raises(SourceUnavailableError, match="larger than the 100000-byte limit"):
            fetcher.fetch(feed_server.url("/big.xml"), timeout=2, max_bytes=100_000)
        assert fetcher.fetch(feed_server.url("/small.xml"), timeout=2, max_bytes=100_000).body == BODY


def test_timeout_against_a_server_that_never_answers(silent_server: SilentServer) -> None:
    started = time.monotonic()
    with Fetcher(retries=0) as fetcher, pytest.raises(SourceUnavailableError, match=r"no answer within 0\.5 s"):
        fetcher.fetch(silent_server.url(), timeout=0.5, max_bytes=10_000)
    assert time.monotonic() - started < 3.0


def test_retries_on_503_then_succeeds(feed_server: FeedServer) -> None:
    feed_server.routes["/flaky.xml"] = Route(BODY, fail_first=2)
    waits: list[float] = []
    with Fetcher(retries=2, sleep=waits.append) as fetcher:
        result = fetcher.fetch(feed_server.url("/flaky.xml"), timeout=2, max_bytes=10_000)
    assert result.body == BODY
    assert waits == [0.0, 0.0]  # the server's Retry-After: 0
    assert len(feed_server.requests) == 3


def test_gives_up_after_the_retries(feed_server: FeedServer) -> None:
    feed_server.routes["/down.xml"] = Route(BODY, fail_first=5)
    waits: list[float] = []
    with Fetcher(retries=1, sleep=waits.append) as fetcher:
        with pytest.raises(SourceUnavailableError, match="after 2 tries: HTTP 503"):
            fetcher.fetch(feed_server.url("/down.xml"), timeout=2, max_bytes=10_000)
    assert len(waits) == 1


def test_client_errors_are_not_retried(feed_server: FeedServer) -> None:
    waits: list[float] = []
    with Fetcher(retries=3, sleep=waits.append) as fetcher:
        with pytest.raises(SourceUnavailableError, match="HTTP 404"):
            fetcher.fetch(feed_server.url("/missing.xml"), timeout=2, max_bytes=10_000)
    assert waits == [] and len(feed_server.requests) == 1


def test_refused_connection_is_retried_with_backoff() -> None:
    with SilentServer() as server:
        url = server.url()
    # The port is closed now: connections are refused.
    waits: list[float] = []
    with Fetcher(retries=2, backoff_s=0.25, sleep=waits.append) as fetcher:
        with pytest.raises(SourceUnavailableError, match="connection failed"):
            fetcher.fetch(url, timeout=1, max_bytes=10_000)
    assert waits == [0.25, 0.5]


@pytest.mark.parametrize("trickle_headers", [False, True], ids=["body", "headers"])
def test_a_trickling_server_is_cut_off_at_the_deadline(feed_server: FeedServer, trickle_headers: bool) -> None:
    # One byte every 50 ms never trips the 0.25 s read timeout; the 1 s deadline (0.25 x 4) must end it.
    feed_server.routes["/slow.xml"] = Route(BODY * 3, trickle_s=0.05, trickle_headers=trickle_headers)
    started = time.monotonic()
    with Fetcher(retries=0) as fetcher, pytest.raises(SourceUnavailableError, match=r"within the 1 s deadline"):
        fetcher.fetch(feed_server.url("/slow.xml"), timeout=0.25, max_bytes=10_000)
    assert time.monotonic() - started < 1.6


def test_a_deadline_cut_is_not_retried(feed_server: FeedServer) -> None:
    feed_server.routes["/slow.xml"] = Route(BODY * 3, trickle_s=0.05)
    waits: list[float] = []
    started = time.monotonic()
    with Fetcher(retries=2, sleep=waits.append) as fetcher, pytest.raises(SourceUnavailableError, match="deadline"):
        fetcher.fetch(feed_server.url("/slow.xml"), timeout=0.1, max_bytes=10_000)
    assert time.monotonic() - started < 0.9 and waits == [] and len(feed_server.requests) == 1


def test_a_connection_reset_mid_body_is_retried_then_reported(feed_server: FeedServer) -> None:
    feed_server.routes["/reset.xml"] = Route(BODY * 20, reset_after=100)
    waits: list[float] = []
    with Fetcher(retries=1, sleep=waits.append) as fetcher:
        with pytest.raises(SourceUnavailableError, match=r"after 2 tries: download interrupted"):
            fetcher.fetch(feed_server.url("/reset.xml"), timeout=1, max_bytes=10_000)
    assert len(waits) == 1


@pytest.mark.parametrize(("status", "retry_after", "waited"), [(429, "3", 3.0), (500, "7", 7.0), (503, "86400", 60.0),
                                                                (429, "Wed, 21 Oct 2015 07:28:00 GMT", 0.5)])
def test_retry_after_is_honoured_and_capped(feed_server: FeedServer, status: int, retry_after: str,
                                            waited: float) -> None:
    feed_server.routes["/busy.xml"] = Route(BODY, status=status, retry_after=retry_after)
    waits: list[float] = []
    with Fetcher(retries=1, sleep=waits.append) as fetcher:
        with pytest.raises(SourceUnavailableError, match=f"after 2 tries: HTTP {status}"):
            fetcher.fetch(feed_server.url("/busy.xml"), timeout=1, max_bytes=10_000)
    assert waits == [waited]  # a date instead of seconds falls back to the backoff
