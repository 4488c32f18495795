"""Feed bytes over HTTP with a timeout, a size cap, conditional GET and a few retries.

feedparser's own fetching has no timeout, so the bytes are fetched here and parsed afterwards. A server that
never answers costs `timeout` seconds (no byte for that long ends the attempt); one that trickles bytes is cut
off by a wall-clock deadline of `timeout` x DEADLINE_FACTOR, enforced while a read is blocked
(feeds.http_deadline), not only between chunks. A cut-off is not retried (a server that trickles once
trickles again), so it costs exactly that deadline: 40 s with the default timeout of 10 s, 8 s with 2 s.
Failures that may pass (no answer, a refused or reset connection, HTTP 429/5xx) are retried `retries`
times, waiting Retry-After (capped at 60 s) or an exponential backoff.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import requests

from feeds.http_deadline import Deadline, DeadlineAdapter
from ground.errors import SourceUnavailableError

logger = logging.getLogger(__name__)

USER_AGENT = "bt-hybrid-news/0.1 (RSS collector)"
ACCEPT = "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
#: Wall-clock deadline of one attempt = timeout x this (against servers that trickle bytes).
DEADLINE_FACTOR = 4
_MAX_RETRY_AFTER_S = 60.0
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class FetchResult:
    """A feed document (status 200) or a not-modified answer (304, empty body)."""

    url: str
    status: int
    body: bytes
    etag: str
    last_modified: str
    content_type: str

    @property
    def not_modified(self) -> bool:
        """True when the server answered 304: nothing new since the validators we sent."""
        return self.status == 304


class _RetryableError(Exception):
    def __init__(self, message: str, wait_s: float | None = None) -> None:
        super().__init__(message)
        self.wait_s = wait_s


class Fetcher:
    """Fetches feed documents; one instance per collection run (it holds a connection pool)."""

    def __init__(
        self,
        session: requests.Session | None = None,
        *,
        retries: int = 2,
        backoff_s: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._session = session or requests.Session()
        self._session.max_redirects = 5
        self._adapter = DeadlineAdapter.install(self._session)
        self._retries = retries
        self._backoff_s = backoff_s
        self._sleep = sleep

    def close(self) -> None:
        """Release pooled connections."""
        self._session.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def fetch(
        self, url: str, *, timeout: float, max_bytes: int, etag: str = "", last_modified: str = ""
    ) -> FetchResult:
        """GET `url`, sending the validators of the last fetch; raise SourceUnavailableError on failure."""
        headers = {"User-Agent": USER_AGENT, "Accept": ACCEPT}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        attempt = 0
        while True:
            try:
                return self._once(url, headers, timeout, max_bytes, etag, last_modified)
            except _RetryableError as exc:
                if attempt >= self._retries:
                    raise SourceUnavailableError(
                        f"feed unavailable after {attempt + 1} tries: {exc}", where=url,
                        fix="check the URL and the network, or raise timeout/retries in the feeds config",
                    ) from None
                wait = exc.wait_s if exc.wait_s is not None else self._backoff_s * 2**attempt
                logger.info("retrying %s in %.1f s: %s", url, wait, exc)
                self._sleep(wait)
                attempt += 1

    def _once(
        self, url: str, headers: dict[str, str], timeout: float, max_bytes: int, etag: str, last_modified: str
    ) -> FetchResult:
        with Deadline(self._adapter, timeout * DEADLINE_FACTOR) as deadline:
            try:
                response = self._session.get(url, headers=headers, timeout=(timeout, timeout), stream=True)
            except requests.Timeout:
                raise _RetryableError(f"no answer within {timeout:g} s") from None
            except requests.TooManyRedirects:
                raise SourceUnavailableError("too many redirects", where=url, fix="use the feed's final URL") from None
            except requests.ConnectionError as exc:
                if deadline.expired:
                    raise _deadline_error(url, deadline) from None
                raise _RetryableError(f"connection failed ({type(exc).__name__})") from None
            except requests.RequestException as exc:
                raise SourceUnavailableError(f"request failed: {exc}", where=url) from None
            with response:
                status = response.status_code
                if status == 304:
                    return FetchResult(url, 304, b"", response.headers.get("ETag", etag),
                                       response.headers.get("Last-Modified", last_modified),
                                       response.headers.get("Content-Type", ""))
                if status in _RETRY_STATUS:
                    raise _RetryableError(f"HTTP {status}", _retry_after(response.headers.get("Retry-After")))
                if not 200 <= status < 300:
                    raise SourceUnavailableError(f"HTTP {status} {response.reason}", where=url,
                                                 fix="check the feed URL in the feeds config")
                body = self._read_capped(response, url, max_bytes, deadline)
                return FetchResult(response.url or url, status, body, response.headers.get("ETag", ""),
                                   response.headers.get("Last-Modified", ""),
                                   response.headers.get("Content-Type", ""))

    @staticmethod
    def _read_capped(response: requests.Response, url: str, max_bytes: int, deadline: Deadline) -> bytes:
        too_big = SourceUnavailableError(f"feed is larger than the {max_bytes}-byte limit", where=url,
                                         fix="raise max_bytes for this feed if the feed is genuine")
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            raise too_big
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in response.iter_content(_CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise too_big
                chunks.append(chunk)
        except requests.RequestException as exc:
            if deadline.expired:
                raise _deadline_error(url, deadline) from None
            raise _RetryableError(f"download interrupted ({type(exc).__name__})") from None
        # A body without a Content-Length ends when the connection closes: a cut looks like its end.
        if deadline.expired:
            raise _deadline_error(url, deadline)
        return b"".join(chunks)


def _deadline_error(url: str, deadline: Deadline) -> SourceUnavailableError:
    return SourceUnavailableError(
        f"no complete answer within the {deadline.seconds:g} s deadline (the server sends too slowly)", where=url,
        fix=f"raise timeout for this feed in the feeds config (the deadline is {DEADLINE_FACTOR} x timeout)",
    )


def _retry_after(value: str | None) -> float | None:
    """Seconds from a numeric Retry-After header, capped; None when absent or given as a date."""
    if value and value.strip().isdigit():
        return min(float(value.strip()), _MAX_RETRY_AFTER_S)
    return None
