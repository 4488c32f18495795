"""The live feed's Yahoo source through yfinance, against the recorded chart API on 127.0.0.1."""
from __future__ import annotations

import copy
import threading
from collections.abc import Iterator

import pandas as pd
import pytest
import yfinance as yf

from feeds.live.poller import DISCONNECTED, LIVE, BarPoller, LiveBar, StatusChange
from feeds.live.sessions import ExchangeSessions
from feeds.live.source import YahooChartSource
from tests.feeds.test_yahoo import LocalSession, YahooServer, chart_for

DAILY = ExchangeSessions("XNYS", "1d")
T = lambda text: pd.Timestamp(text, tz="UTC")  # noqa: E731


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[YahooServer]:
    yf.set_tz_cache_location(str(tmp_path_factory.mktemp("yf-cache")))
    broken = copy.deepcopy(chart_for("BROKEN"))
    del broken["chart"]["result"][0]["indicators"]["quote"][0]["close"]  # a malformed answer
    srv = YahooServer({"LIVEA": chart_for("LIVEA"), "LIVEB": chart_for("LIVEB"), "BROKEN": broken})
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def test_polls_deliver_each_recorded_day_once_as_it_closes(server: YahooServer) -> None:
    source = YahooChartSource("LIVEA", "1d", session=LocalSession(server.base), timeout=5)
    feed = BarPoller(source, DAILY, history_start=T("2023-12-27"))
    first, _ = feed.poll(T("2024-01-09 21:05"))
    later, _ = feed.poll(T("2024-01-12 21:05"))

    got = [e.label.date().isoformat() for e in first + later if isinstance(e, LiveBar)]
    assert got == ["2023-12-28", "2023-12-29", "2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05",
                   "2024-01-08", "2024-01-09", "2024-01-10", "2024-01-11", "2024-01-12"]
    assert any(isinstance(e, StatusChange) and e.status == LIVE for e in first)
    asked = server.price_requests("LIVEA")[-1]  # the second poll asks again from a few bars back only
    assert int(asked["period1"][0]) >= int(T("2024-01-04").timestamp())


def test_source_down_then_back(server: YahooServer) -> None:
    server.fail["LIVEB"] = 2  # yfinance asks twice per call: one failed poll
    source = YahooChartSource("LIVEB", "1d", session=LocalSession(server.base), timeout=5)
    feed = BarPoller(source, DAILY, history_start=T("2023-12-27"))
    down, wait = feed.poll(T("2024-01-12 21:05"))
    assert [e.status for e in down if isinstance(e, StatusChange)] == [DISCONNECTED] and wait == 2.0
    up, _ = feed.poll(T("2024-01-12 21:05") + pd.Timedelta(seconds=wait))
    assert len([e for e in up if isinstance(e, LiveBar)]) == 11


def test_a_malformed_answer_is_a_failed_poll_not_a_crash(server: YahooServer) -> None:
    source = YahooChartSource("BROKEN", "1d", session=LocalSession(server.base), timeout=5)
    feed = BarPoller(source, DAILY, history_start=T("2023-12-27"))
    events, _ = feed.poll(T("2024-01-12 21:05"))
    assert [e.status for e in events if isinstance(e, StatusChange)] == [DISCONNECTED]
    assert "BROKEN" in events[0].reason
