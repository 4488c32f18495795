"""A Yahoo chart API on 127.0.0.1 that replays a table of bars as time passes on a shared clock.

A request sees the bars whose start lies in [period1, period2) and has begun by the clock's now; the bar still
forming at that moment is shown with its values so far (open, and the close as the last price), as Yahoo does.
yfinance reaches it through ``LocalSession`` (tests/feeds/test_yahoo.py), which keeps the original host in the path.
"""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

import numpy as np
import pandas as pd

from feeds.live.clock import Clock
from feeds.live.sessions import ExchangeSessions


class ReplayServer(ThreadingHTTPServer):
    """``tables[symbol]``: bars indexed by their UTC start; ``step``: the bar length; ``broken``: answer garbage."""

    daemon_threads = True

    def __init__(self, tables: dict[str, pd.DataFrame], clock: Clock, step: pd.Timedelta, interval: str,
                 sessions: ExchangeSessions | None = None) -> None:
        """``sessions``: when given, a bar is finished at its session slot's end (a daily bar at the close), else
        ``step`` after its start."""
        super().__init__(("127.0.0.1", 0), _Handler)
        self.tables, self.clock, self.step, self.interval = tables, clock, step, interval
        self.sessions = sessions
        self.broken = False
        self.hits = 0
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def __enter__(self) -> ReplayServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()

    def chart(self, symbol: str, period1: int, period2: int) -> dict | None:
        table = self.tables.get(symbol)
        if table is None:
            return None
        now = pd.Timestamp(self.clock.now())
        lo, hi = pd.Timestamp(period1, unit="s", tz="UTC"), pd.Timestamp(period2, unit="s", tz="UTC")
        part = table[(table.index >= lo) & (table.index < hi) & (table.index <= now)].copy()
        forming = np.array([self._end(t) > now for t in part.index], dtype=bool)
        if forming.any():  # the bar in progress: only what has traded so far
            part.loc[forming, "close"] = part.loc[forming, "open"]
            part.loc[forming, "high"] = part.loc[forming, "open"]
            part.loc[forming, "low"] = part.loc[forming, "open"]
            part.loc[forming, "volume"] = 0.0
        stamps = [int(t.timestamp()) for t in part.index]
        quote = {c: [float(v) for v in part[c]] for c in ("open", "high", "low", "close")}
        quote["volume"] = [int(v) for v in part["volume"]]
        result = {
            "meta": {"currency": "USD", "symbol": symbol, "exchangeName": "NMS", "instrumentType": "EQUITY",
                     "gmtoffset": -18000, "timezone": "EST", "exchangeTimezoneName": "America/New_York",
                     "regularMarketTime": int(now.timestamp()), "dataGranularity": self.interval,
                     "priceHint": 2, "range": ""},
            "timestamp": stamps,
            "indicators": {"quote": [quote]},
        }
        if self.interval.endswith("d"):
            result["indicators"]["adjclose"] = [{"adjclose": quote["close"]}]
        else:  # intraday answers carry the regular sessions; yfinance drops bars outside them
            result["meta"]["tradingPeriods"] = self._periods(table)
        return {"chart": {"result": [result], "error": None}}


    def _end(self, start: pd.Timestamp) -> pd.Timestamp:
        if self.sessions is None:
            return start + self.step
        slot = self.sessions.slot_of(self.sessions.label_for_start(start))
        return slot.end if slot is not None else start + self.step

    def _periods(self, table: pd.DataFrame) -> list[list[dict[str, object]]]:
        days = table.index.tz_convert("America/New_York").normalize()
        out = []
        for _, starts in table.index.to_series().groupby(days):
            out.append([{"timezone": "EST", "gmtoffset": -18000, "start": int(starts.min().timestamp()),
                         "end": int((starts.max() + self.step).timestamp())}])
        return out


class _Handler(BaseHTTPRequestHandler):
    server: ReplayServer

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        parts = urlsplit(self.path)
        host, _, path = parts.path.lstrip("/").partition("/")
        query = parse_qs(parts.query)
        if host == "fc.yahoo.com":
            self._send(404, b"", "text/html", cookie="A3=d=local&S=test; Max-Age=31557600; Path=/")
        elif path == "v1/test/getcrumb":
            self._send(200, b"localcrumb", "text/plain")
        elif path.startswith("v8/finance/chart/"):
            if "period1" not in query:  # yfinance's timezone lookup (range=1d): meta is what it reads
                query = {"period1": ["0"], "period2": [str(2**31)]}
            self.server.hits += 1
            if self.server.broken:
                self._send(200, b'{"chart": {"result": [{"meta": ', "application/json")
                return
            doc = self.server.chart(unquote(path.rsplit("/", 1)[1]), int(query["period1"][0]),
                                    int(query["period2"][0]))
            body = json.dumps(doc if doc is not None else {"chart": {"result": None, "error": {
                "code": "Not Found", "description": "No data found, symbol may be delisted"}}}).encode()
            self._send(200 if doc is not None else 404, body, "application/json")
        else:
            self._send(404, b"{}", "application/json")

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
