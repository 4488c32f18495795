"""SignalStrategy in a tiny Cerebro run: hand-made signals give exactly the expected orders and fills."""
from __future__ import annotations

import math

import backtrader as bt
import numpy as np
import pandas as pd
import pytest

from ground.errors import UserInputError
from ground.signals import SIGNAL_LINES
from strategies.signal_data import SignalData
from strategies.signal_strategy import SignalStrategy
from strategies.sizer import ConfidenceSizer, SizerConfig

CASH = 100_000.0
BUY, HOLD, SELL = 1.0, 0.0, -1.0


class Recorder(SignalStrategy):
    """Records every fill as (bar number, signed size, price)."""

    def __init__(self) -> None:
        super().__init__()
        self.fills: list[tuple[int, int, float]] = []

    def notify_order(self, order: bt.Order) -> None:
        if order.status == order.Completed:
            self.fills.append((len(self), int(order.executed.size), float(order.executed.price)))
        super().notify_order(order)


def signal_frame(actions: list[float], confidence: list[float]) -> pd.DataFrame:
    n = len(actions)
    close = 100.0 + np.arange(n, dtype=float)  # rising by 1 a bar
    frame = pd.DataFrame(
        {"open": close - 0.5, "high": close + 1, "low": close - 1, "close": close, "volume": 1e6},
        index=pd.bdate_range("2024-01-01", periods=n, name="date"),
    )
    for name in SIGNAL_LINES:
        frame[name] = np.nan
    frame["action"], frame["confidence"] = actions, confidence
    return frame


def run(frame: pd.DataFrame, **sizer: object) -> Recorder:
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(SignalData(dataname=frame))
    cerebro.addstrategy(Recorder)
    cerebro.addsizer(ConfidenceSizer, config=SizerConfig(**sizer))  # type: ignore[arg-type]
    cerebro.broker.setcash(CASH)
    return cerebro.run()[0]


def test_buy_resize_hold_and_sell_fill_at_the_next_open() -> None:
    actions = [HOLD, BUY, HOLD, BUY, HOLD, BUY, SELL, HOLD, BUY, HOLD]
    conf = [0.0, 0.5, 0.0, 0.275, 0.0, 0.28, 0.9, 0.0, 0.03, 0.0]
    frame = signal_frame(actions, conf)
    strat = run(frame)
    close, open_ = frame["close"].to_numpy(), frame["open"].to_numpy()
    first = math.floor(0.95 * CASH / close[1])  # full confidence: the cap, sized at bar 1's close
    cash_after = CASH - first * open_[2]
    value_3 = cash_after + first * close[3]
    second = math.floor(0.95 * 0.5 * value_3 / close[3])  # half confidence at bar 3: cut the position
    expected = [
        (3, first, open_[2]),  # decided at bar 1 (len 2), filled at bar 2's open (len 3)
        (5, second - first, open_[4]),
        # bar 5's small resize (0.275 -> 0.28) is inside the rebalance band: no order
        (8, -second, open_[7]),  # sell: flat
        # bar 8: buy below the sizer's threshold targets zero, already flat: no order
    ]
    assert [(b, s, pytest.approx(p)) for b, s, p in strat.fills] == expected
    assert strat.getposition(strat.data).size == 0


def test_shorting_when_allowed() -> None:
    frame = signal_frame([HOLD, SELL, HOLD, BUY, HOLD], [0.0, 0.5, 0.0, 0.5, 0.0])
    strat = run(frame, allow_short=True)
    close = frame["close"].to_numpy()
    short = math.floor(0.95 * CASH / close[1])
    assert strat.fills[0][:2] == (3, -short)
    assert strat.fills[1][0] == 5 and strat.fills[1][1] > short  # buy covers the short and goes long


def test_nan_actions_hold() -> None:
    frame = signal_frame([np.nan, BUY, np.nan, np.nan], [np.nan, 0.5, np.nan, np.nan])
    strat = run(frame)
    assert len(strat.fills) == 1 and strat.getposition(strat.data).size > 0


def test_needs_the_confidence_sizer() -> None:
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(SignalData(dataname=signal_frame([BUY], [0.5])))
    cerebro.addstrategy(SignalStrategy)
    with pytest.raises(UserInputError, match="ConfidenceSizer"):
        cerebro.run()
