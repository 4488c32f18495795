"""The whole live path at 5-minute bars: a Yahoo chart server on 127.0.0.1 replaying bars on an accelerated clock,
yfinance, the poller's thread and backtrader's loop; a malformed stretch of answers is survived."""
from __future__ import annotations

import threading
from collections.abc import Iterator

import backtrader as bt
import pandas as pd
import pytest
import yfinance as yf

from feeds.live.backtrader_feed import LiveData
from feeds.live.clock import ScaledClock
from feeds.live.poller import BarPoller, PollPolicy
from feeds.live.runner import LiveFeedRunner
from feeds.live.sessions import ExchangeSessions
from feeds.live.source import YahooChartSource
from tests.feeds.live.bars import intraday_bars
from tests.feeds.live.replay_server import ReplayServer
from tests.feeds.test_yahoo import LocalSession

FIVE = ExchangeSessions("XNYS", "5m")
T = lambda text: pd.Timestamp(text, tz="UTC")  # noqa: E731


@pytest.fixture(autouse=True)
def tz_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    yf.set_tz_cache_location(str(tmp_path_factory.mktemp("yf-cache")))
    yield


class Recorder(bt.Strategy):
    params = (("server", None),)

    def __init__(self) -> None:
        self.seen: list[tuple[pd.Timestamp, tuple[float, ...]]] = []
        self.states: list[str] = []

    def notify_data(self, data: bt.DataBase, status: int, *args: object, **kwargs: object) -> None:
        self.states.append(data._getstatusname(status))

    def next(self) -> None:
        d = self.data
        self.seen.append((pd.Timestamp(d.datetime.datetime(0)), (d.open[0], d.high[0], d.low[0], d.close[0])))
        if len(self.seen) == 14 and self.p.server is not None:  # live by now: the source breaks for a while
            self.p.server.broken = True
            threading.Timer(0.4, lambda: setattr(self.p.server, "broken", False)).start()


@pytest.mark.slow
def test_intraday_bars_arrive_once_in_order_with_the_recorded_values() -> None:
    table = intraday_bars(FIVE, "2024-12-26 14:00", "2024-12-26 17:00", seed=5)
    clock = ScaledClock(T("2024-12-26 15:00:30").to_pydatetime(), speed=900)  # 5 minutes in a third of a second
    with ReplayServer({"LIVE5": table}, clock, FIVE.step, "5m") as server:
        source = YahooChartSource("LIVE5", "5m", session=LocalSession(server.base), timeout=5)
        poller = BarPoller(source, FIVE, history_start=T("2024-12-26 14:30"), until=T("2024-12-26 16:00:30"),
                           policy=PollPolicy(settle_s=10, retry_s=15, backoff_s=20))
        cerebro = bt.Cerebro(stdstats=False)
        cerebro.adddata(LiveData(runner=LiveFeedRunner(poller, clock), qcheck=0.1))
        cerebro.addstrategy(Recorder, server=server)
        strat = cerebro.run()[0]

    expected = table[(table.index >= T("2024-12-26 14:30")) & (table.index + FIVE.step <= T("2024-12-26 16:00"))]
    labels = [label for label, _ in strat.seen]
    assert labels == [FIVE.label_for_start(t) for t in expected.index]  # every bar once, in order, none forming
    assert labels[0] == pd.Timestamp("2024-12-26 09:35") and labels[-1] == pd.Timestamp("2024-12-26 11:00")
    for (_, values), (_, row) in zip(strat.seen, expected.iterrows(), strict=True):
        assert values == pytest.approx(tuple(row[["open", "high", "low", "close"]]), rel=1e-9)
    assert strat.states[:2] == ["DELAYED", "LIVE"]
    assert "DISCONNECTED" in strat.states[2:]  # the broken answers were seen...
    assert strat.states[-1] == "LIVE"  # ...and the feed came back
