"""Baselines hold what they should: a buy-and-hold whose first order meets a gap up is re-sized and filled."""
from __future__ import annotations

import backtrader as bt
import numpy as np
import pandas as pd

from strategies.baselines import BuyHold, BuyHoldParams


def _frame(gap: float, bars: int = 30) -> pd.DataFrame:
    """Flat prices at 100 with the second bar opening ``gap`` above the first close (e.g. 0.105 = +10.5%)."""
    index = pd.bdate_range("2024-01-02", periods=bars, name="date")
    close = np.full(bars, 100.0)
    close[1:] = 100.0 * (1 + gap)
    opens = close.copy()
    frame = pd.DataFrame({"open": opens, "high": close * 1.01, "low": close * 0.99, "close": close,
                          "volume": 1e6}, index=index)
    return frame


def _run(frame: pd.DataFrame, fraction: float = 0.98) -> tuple[float, int]:
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.broker.setcash(100_000.0)
    cerebro.adddata(bt.feeds.PandasData(dataname=frame))
    cerebro.addstrategy(BuyHold, config=BuyHoldParams(invest_fraction=fraction))
    strat = cerebro.run()[0]
    position = strat.getposition(strat.datas[0])
    return float(position.size), len(strat.datas[0])


def test_gap_up_on_first_bar_is_resized_and_held() -> None:
    size, _ = _run(_frame(gap=0.105))
    # the first order (980 shares at a 110.5 open) is refused for cash; the next bar's order is sized at 110.5
    assert size == int(100_000 * 0.98 / 110.5)


def test_no_gap_fills_on_first_open() -> None:
    size, _ = _run(_frame(gap=0.0))
    assert size == int(100_000 * 0.98 / 100.0)
