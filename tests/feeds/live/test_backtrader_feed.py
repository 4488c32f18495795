"""The live feed inside backtrader: bars in order, DELAYED/LIVE/DISCONNECTED notifications, an end, no spinning."""
from __future__ import annotations

import time

import backtrader as bt
import pandas as pd

from feeds.live.backtrader_feed import LiveData
from feeds.live.clock import ScaledClock
from feeds.live.poller import BarPoller, PollPolicy
from feeds.live.runner import LiveFeedRunner
from feeds.live.sessions import ExchangeSessions
from tests.feeds.live.bars import TableSource, daily_bars

DAILY = ExchangeSessions("XNYS", "1d")


class Recorder(bt.Strategy):
    def __init__(self) -> None:
        self.seen: list[tuple[str, float]] = []
        self.states: list[str] = []

    def notify_data(self, data: bt.DataBase, status: int, *args: object, **kwargs: object) -> None:
        self.states.append(data._getstatusname(status))

    def next(self) -> None:
        self.seen.append((self.data.datetime.date(0).isoformat(), self.data.close[0]))


def run(source: TableSource, start: str, until: str, speed: float, **policy: float) -> tuple[Recorder, LiveData]:
    clock = ScaledClock(pd.Timestamp(start, tz="UTC").to_pydatetime(), speed=speed)
    poller = BarPoller(source, DAILY, history_start=pd.Timestamp("2024-12-01", tz="UTC"),
                       until=pd.Timestamp(until, tz="UTC"), policy=PollPolicy(**policy))
    cerebro = bt.Cerebro(stdstats=False)
    data = LiveData(runner=LiveFeedRunner(poller, clock), qcheck=0.2)
    cerebro.adddata(data)
    cerebro.addstrategy(Recorder)
    return cerebro.run()[0], data


def test_history_then_live_bars_arrive_in_order_and_the_feed_ends() -> None:
    table = daily_bars(DAILY, "2024-12-02", "2025-01-10")
    # 20 days of feed time in about 2.5 s of wall time: history up to the 20th, then four live closes
    strat, data = run(TableSource("NVDA", table), "2024-12-20 22:00", "2024-12-27 22:30", speed=3600 * 24 * 3)

    days = [d for d, _ in strat.seen]
    assert days[0] == "2024-12-02" and days[-1] == "2024-12-27" and "2024-12-25" not in days
    assert len(days) == len(set(days)) == 19
    assert [c for _, c in strat.seen] == list(table["close"].iloc[:19])
    assert strat.states[:2] == ["DELAYED", "LIVE"]
    assert "reached the end time" in data.end_reason


def test_a_source_down_at_start_is_reported_and_recovered() -> None:
    table = daily_bars(DAILY, "2024-12-02", "2025-01-10")
    source = TableSource("NVDA", table)
    source.answers = [ConnectionError_("refused"), ConnectionError_("refused")]
    strat, _ = run(source, "2024-12-20 22:00", "2024-12-20 22:10", speed=1200, backoff_s=1)
    assert strat.states[:3] == ["DISCONNECTED", "DELAYED", "LIVE"]
    assert len(strat.seen) == 15


def test_waiting_for_bars_does_not_spin() -> None:
    """A second of wall time with no bar due costs almost no CPU: the loop waits on the queue with a timeout."""
    table = daily_bars(DAILY, "2024-12-02", "2025-01-10")
    cpu, wall = time.process_time(), time.monotonic()
    run(TableSource("NVDA", table), "2024-12-23 12:00", "2024-12-23 12:00:01", speed=1.0)
    wall, cpu = time.monotonic() - wall, time.process_time() - cpu
    assert wall >= 0.9
    assert cpu < 0.5 * wall


def ConnectionError_(text: str) -> Exception:  # noqa: N802 (reads as the error it makes)
    from ground.errors import SourceUnavailableError

    return SourceUnavailableError(f"NVDA: {text}", where="table")


def test_a_clock_that_jumps_back_delivers_nothing_twice() -> None:
    table = daily_bars(DAILY, "2024-12-02", "2025-01-10")
    clock = ScaledClock(pd.Timestamp("2024-12-20 22:00", tz="UTC").to_pydatetime(), speed=3600 * 24 * 3)
    poller = BarPoller(TableSource("NVDA", table), DAILY, history_start=pd.Timestamp("2024-12-01", tz="UTC"),
                       until=pd.Timestamp("2024-12-27 22:30", tz="UTC"))
    runner = LiveFeedRunner(poller, clock)

    class JumpBack(Recorder):
        def next(self) -> None:
            super().next()
            if self.seen[-1][0] == "2024-12-23":
                clock.jump(-pd.Timedelta(days=2))  # the system clock is set back two days

    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(LiveData(runner=runner, qcheck=0.2))
    cerebro.addstrategy(JumpBack)
    strat = cerebro.run()[0]

    days = [d for d, _ in strat.seen]
    assert len(days) == len(set(days)) == 19 and days[-1] == "2024-12-27"
    assert any(n.kind == "clock" and "went back" in n.text for n in runner.notices)
