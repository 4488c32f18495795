"""yfinance against a local HTTP server on 127.0.0.1 that answers like Yahoo's v8 chart API."""
from __future__ import annotations

import copy
import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import numpy as np
import pandas as pd
import pytest
import requests
import yfinance as yf

from feeds import yahoo
from feeds.yahoo import fetch_yahoo, probe_yahoo
from ground.errors import SourceUnavailableError

FIXTURES = Path(__file__).resolve().parents[1] / "data" / "prices"
NVDA_CHART = json.loads((FIXTURES / "yahoo_chart_NVDA.json").read_text())
NOT_FOUND = (FIXTURES / "yahoo_chart_not_found.json").read_bytes()


class YahooServer(ThreadingHTTPServer):
    """Serves recorded chart documents by symbol, filtered to [period1, period2) as Yahoo does.

    ``fail[symbol] = n`` makes the next n price requests for that symbol answer HTTP 500;
    ``garbage[symbol]`` is sent as the chart answer instead of JSON. A CONNECT (as to a proxy) is answered 200.
    """

    daemon_threads = True

    def __init__(self, charts: dict[str, dict]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.charts = charts
        self.fail: dict[str, int] = {}
        self.garbage: dict[str, bytes] = {}
        self.requests: list[tuple[str, str, dict[str, list[str]]]] = []

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def price_requests(self, symbol: str) -> list[dict[str, list[str]]]:
        return [q for _, p, q in self.requests if p == f"/v8/finance/chart/{symbol}" and "period1" in q]


class _Handler(BaseHTTPRequestHandler):
    server: YahooServer

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        parts = urlsplit(self.path)
        host, _, path = parts.path.lstrip("/").partition("/")
        query = parse_qs(parts.query)
        self.server.requests.append((host, "/" + path, query))
        if host == "fc.yahoo.com":
            # yfinance's cookie step; the A3 cookie needs Max-Age or a later call fails on its expiry.
            self._send(404, b"", "text/html", cookie="A3=d=local&S=test; Max-Age=31557600; Path=/")
        elif path == "v1/test/getcrumb":
            self._send(200, b"localcrumb", "text/plain")
        elif path.startswith("v8/finance/chart/"):
            self._chart(unquote(path.rsplit("/", 1)[1]), query)
        else:
            self._send(404, b"{}", "application/json")

    def do_CONNECT(self) -> None:  # noqa: N802 (http.server's naming)
        self.send_response(200, "Connection established")
        self.end_headers()
        self.close_connection = True

    def _chart(self, symbol: str, query: dict[str, list[str]]) -> None:
        if symbol in self.server.garbage:
            self._send(200, self.server.garbage[symbol], "application/json")
            return
        if "period1" in query and self.server.fail.get(symbol, 0) > 0:
            self.server.fail[symbol] -= 1
            self._send(500, b"Will be right back", "text/html")
            return
        doc = self.server.charts.get(symbol)
        if doc is None:
            self._send(404, NOT_FOUND, "application/json")
            return
        if "period1" in query:
            doc = _window(doc, int(query["period1"][0]), int(query["period2"][0]))
        self._send(200, json.dumps(doc).encode(), "application/json")

    def _send(self, status: int, body: bytes, ctype: str, cookie: str | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        if cookie:
            self.send_header("Set-Cookie", cookie)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        """Keep the test output quiet."""


def _window(doc: dict, period1: int, period2: int) -> dict:
    doc = copy.deepcopy(doc)
    result = doc["chart"]["result"][0]
    keep = [i for i, t in enumerate(result["timestamp"]) if period1 <= t < period2]
    result["timestamp"] = [result["timestamp"][i] for i in keep]
    quote = result["indicators"]["quote"][0]
    for key in quote:
        quote[key] = [quote[key][i] for i in keep]
    adj = result["indicators"]["adjclose"][0]
    adj["adjclose"] = [adj["adjclose"][i] for i in keep]
    return doc


def chart_for(symbol: str) -> dict:
    """The recorded NVDA document under another symbol (tests use distinct symbols so that yfinance's
    in-process response cache never serves one test's answer to another)."""
    doc = copy.deepcopy(NVDA_CHART)
    doc["chart"]["result"][0]["meta"]["symbol"] = symbol
    return doc


class LocalSession(requests.Session):
    """Sends every request to the local server, keeping the original host as the first path segment."""

    def __init__(self, base: str) -> None:
        super().__init__()
        self.base = base

    def request(self, method: str, url: str, *args: object, **kwargs: object) -> requests.Response:
        parts = urlsplit(url)
        local = f"{self.base}/{parts.hostname}{parts.path}" + (f"?{parts.query}" if parts.query else "")
        return super().request(method, local, *args, **kwargs)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[YahooServer]:
    yf.set_tz_cache_location(str(tmp_path_factory.mktemp("yf-cache")))
    charts = {s: chart_for(s) for s in ("NVDA", "RANGE", "MAXH", "FLAKY", "DOWN", "OFFLN", "JUNK")}
    srv = YahooServer(charts)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def session(server: YahooServer) -> LocalSession:
    return LocalSession(server.base)


def test_fetch_returns_adjusted_validated_bars(server: YahooServer, session: LocalSession) -> None:
    frame = fetch_yahoo("NVDA", date(2024, 1, 2), date(2024, 1, 12), session=session, timeout=5)

    result = NVDA_CHART["chart"]["result"][0]
    quote, adj = result["indicators"]["quote"][0], np.array(result["indicators"]["adjclose"][0]["adjclose"])
    first = 2  # the fixture starts 2023-12-28; 2024-01-02 is its third bar
    assert list(frame.columns) == ["open", "high", "low", "close", "volume"]
    assert frame.index.name == "date" and frame.index.tz is None
    assert frame.index[0] == pd.Timestamp("2024-01-02") and frame.index[-1] == pd.Timestamp("2024-01-12")
    assert len(frame) == 9 and (frame.dtypes == "float64").all()
    # auto_adjust: close is Yahoo's adjclose and the whole bar is scaled by adjclose/close
    np.testing.assert_allclose(frame["close"], adj[first:], rtol=1e-9)
    ratio = adj[first:] / np.array(quote["close"][first:])
    np.testing.assert_allclose(frame["open"], np.array(quote["open"][first:]) * ratio, rtol=1e-6)
    np.testing.assert_allclose(frame["volume"], quote["volume"][first:])
    assert server.price_requests("NVDA")


def test_end_date_is_inclusive(server: YahooServer, session: LocalSession) -> None:
    frame = fetch_yahoo("RANGE", date(2024, 1, 3), date(2024, 1, 5), session=session, timeout=5)

    assert [d.date() for d in frame.index] == [date(2024, 1, 3), date(2024, 1, 4), date(2024, 1, 5)]
    asked = server.price_requests("RANGE")[-1]
    end = pd.Timestamp(int(asked["period2"][0]), unit="s", tz="UTC").tz_convert("America/New_York")
    assert end == pd.Timestamp("2024-01-06", tz="America/New_York")


def test_no_start_asks_for_the_whole_history(server: YahooServer, session: LocalSession) -> None:
    frame = fetch_yahoo("MAXH", None, date(2024, 1, 12), session=session, timeout=5)

    assert frame.index[0] == pd.Timestamp("2023-12-28") and len(frame) == 11
    asked = server.price_requests("MAXH")[-1]
    assert int(asked["period1"][0]) < int(pd.Timestamp("1930-01-01", tz="UTC").timestamp())


def test_unknown_symbol_is_source_unavailable(server: YahooServer, session: LocalSession) -> None:
    with pytest.raises(SourceUnavailableError) as err:
        fetch_yahoo("NOSUCH", date(2024, 1, 2), date(2024, 1, 12), session=session, timeout=5, retries=0)

    text = str(err.value)
    assert "NOSUCH" in text and "yfinance" in text and "1 attempts" in text


def test_failed_answer_is_retried(server: YahooServer, session: LocalSession) -> None:
    server.fail["FLAKY"] = 2  # yfinance itself asks twice per call (it retries with its other cookie strategy)

    frame = fetch_yahoo("FLAKY", date(2024, 1, 2), date(2024, 1, 12), session=session, timeout=5,
                        retries=2, backoff=0.01)

    assert len(frame) == 9
    assert len(server.price_requests("FLAKY")) == 3


def test_gives_up_after_retries(server: YahooServer, session: LocalSession) -> None:
    server.fail["DOWN"] = 100

    with pytest.raises(SourceUnavailableError, match=r"DOWN: .*after 3 attempts"):
        fetch_yahoo("DOWN", date(2024, 1, 2), date(2024, 1, 12), session=session, timeout=5,
                    retries=2, backoff=0.01)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize("target", [("127.0.0.1", "closed"), ("no-such-host.invalid", 443)])
def test_probe_reports_offline_quickly(target: tuple[str, object], no_proxy: None) -> None:
    host, port = target
    started = time.monotonic()
    with pytest.raises(SourceUnavailableError, match="offline: cannot reach Yahoo Finance"):
        probe_yahoo(0.5, (host, _closed_port() if port == "closed" else int(port)))
    assert time.monotonic() - started < 1.0


def test_probe_gives_up_on_a_hanging_lookup(no_proxy: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Name resolution has no timeout of its own: a lookup that hangs costs the probe's timeout, not more."""
    def hang(address: tuple[str, int], timeout: float) -> socket.socket:
        time.sleep(3)
        raise OSError("resolver gave up")

    monkeypatch.setattr(yahoo.socket, "create_connection", hang)
    started = time.monotonic()
    with pytest.raises(SourceUnavailableError, match=r"offline: cannot reach Yahoo Finance \(no answer within 0.3 s\)"):
        probe_yahoo(0.3, ("query2.finance.yahoo.com", 443))
    assert time.monotonic() - started < 1.0


def test_probe_passes_when_reachable(server: YahooServer, no_proxy: None) -> None:
    assert probe_yahoo(0.5, ("127.0.0.1", server.server_address[1])) is None  # no SourceUnavailableError


def test_probe_goes_through_configured_proxy(server: YahooServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yahoo, "YAHOO_PROBE", ("127.0.0.1", _closed_port()))
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{server.server_address[1]}")
    monkeypatch.setenv("https_proxy", f"http://127.0.0.1:{server.server_address[1]}")
    assert probe_yahoo(0.5) is None  # the proxy answers, so Yahoo counts as reachable (no error raised)


def test_fetch_without_session_stops_at_the_probe(monkeypatch: pytest.MonkeyPatch, no_proxy: None) -> None:
    monkeypatch.setattr(yahoo, "YAHOO_PROBE", ("127.0.0.1", _closed_port()))
    calls: list[str] = []
    monkeypatch.setattr(yahoo.yf, "Ticker", lambda *a, **k: calls.append("Ticker"))
    started = time.monotonic()

    with pytest.raises(SourceUnavailableError) as err:
        fetch_yahoo("OFFLN", date(2024, 1, 2), date(2024, 1, 12))

    assert time.monotonic() - started < 1.0
    assert str(err.value).startswith("offline: cannot reach Yahoo Finance")
    assert calls == []


def _silent_proxy(monkeypatch: pytest.MonkeyPatch, silent: socket.socket) -> None:
    url = f"http://127.0.0.1:{silent.getsockname()[1]}"
    for name in ("HTTPS_PROXY", "https_proxy"):
        monkeypatch.setenv(name, url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)


@pytest.fixture
def silent() -> Iterator[socket.socket]:
    """A listening socket that accepts connections (through its backlog) and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock


def test_a_silent_https_proxy_fails_fast_with_a_network_message(monkeypatch: pytest.MonkeyPatch,
                                                                 silent: socket.socket) -> None:
    _silent_proxy(monkeypatch, silent)
    calls: list[str] = []
    monkeypatch.setattr(yahoo.yf, "Ticker", lambda *a, **k: calls.append("Ticker"))
    started = time.monotonic()
    with pytest.raises(SourceUnavailableError) as err:
        fetch_yahoo("PROXY", date(2024, 1, 2), date(2024, 1, 12), timeout=0.5)
    assert time.monotonic() - started < 1.5
    text = str(err.value)
    assert "through the HTTPS proxy 127.0.0.1" in text and "no answer within 0.5 s" in text
    assert "HTTPS_PROXY" in text and "delisted" not in text and "symbol" not in text
    assert calls == []


def test_the_default_probe_bound_behind_a_silent_proxy(monkeypatch: pytest.MonkeyPatch,
                                                       silent: socket.socket) -> None:
    """With default settings the probe, not yfinance's minutes of waits, ends it: PROBE_TIMEOUT_S."""
    _silent_proxy(monkeypatch, silent)
    started = time.monotonic()
    with pytest.raises(SourceUnavailableError, match="network connection"):
        probe_yahoo()
    assert time.monotonic() - started < yahoo.PROBE_TIMEOUT_S + 0.5


def test_a_session_to_a_silent_server_ends_at_the_deadline(silent: socket.socket, tmp_path: Path) -> None:
    yf.set_tz_cache_location(str(tmp_path))
    started = time.monotonic()
    with pytest.raises(SourceUnavailableError) as err:
        fetch_yahoo("HANG", date(2024, 1, 2), date(2024, 1, 12), timeout=5, deadline_s=1.0,
                    session=LocalSession(f"http://127.0.0.1:{silent.getsockname()[1]}"))
    assert time.monotonic() - started < 1.5
    assert "network problem" in str(err.value) and "1 s deadline" in str(err.value)


def test_invalid_json_from_the_price_source_is_one_clear_error(server: YahooServer, session: LocalSession) -> None:
    server.garbage["JUNK"] = b'{"chart": {"result": [ {"meta": '
    with pytest.raises(SourceUnavailableError, match=r"JUNK: .*after 1 attempts"):
        fetch_yahoo("JUNK", date(2024, 1, 2), date(2024, 1, 12), session=session, timeout=5, retries=0)
