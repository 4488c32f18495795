"""Fills, round trips and refused orders as the report counts them, on a small scripted strategy."""
from __future__ import annotations

import backtrader as bt
import numpy as np
import pandas as pd
import pytest

from backtests.presets.config import RunConfig
from backtests.run.analyzers import EquityRecorder, FillRecorder
from backtests.run.runner import run_strategy, with_history
from feeds.prices import PriceLoad
from strategies.baselines import SmaParams
from strategies.registry import strategy_spec
from strategies.signal_data import FrameFeed

# decision bar (len(strategy)) -> signed order size; fills come at the next bar's open
SCRIPT = {1: 10, 3: 5, 5: -15, 7: -10, 9: 20, 11: 1_000_000}


def _prices(n: int, start: str = "2024-01-02") -> pd.DataFrame:
    level = 100.0 + np.arange(n)
    index = pd.bdate_range(start, periods=n, name="date")
    return pd.DataFrame({"open": level, "high": level, "low": level, "close": level, "volume": 1e6}, index=index)


class Scripted(bt.Strategy):
    def next(self) -> None:
        size = SCRIPT.get(len(self))
        if size:
            (self.buy if size > 0 else self.sell)(size=abs(size))


def _run() -> dict:
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.broker.setcash(10_000.0)
    cerebro.adddata(FrameFeed(dataname=_prices(13), name="TEST"))
    cerebro.addstrategy(Scripted)
    cerebro.addanalyzer(EquityRecorder, _name="equity")
    cerebro.addanalyzer(FillRecorder, _name="fills")
    return cerebro.run()[0].analyzers.fills.get_analysis()


def test_round_trips_are_flat_to_flat_or_a_side_flip_with_average_cost_attribution() -> None:
    rec = _run()
    fills = pd.DataFrame(rec["fills"])
    assert list(fills["size"]) == [10, 5, -15, -10, 20]
    assert list(fills["price"]) == [101, 103, 105, 107, 109]
    # 15 bought at an average of (1010 + 515) / 15 and sold at 105: +50; the short of 10 at 107 bought back at 109
    assert list(fills["realised_pnl"]) == pytest.approx([0, 0, 50, 0, -20])
    assert list(fills["position"]) == [10, 15, 0, -10, 10]
    trips = pd.DataFrame(rec["closed"])
    assert list(trips["status"]) == ["closed", "closed", "open"]
    assert list(trips["fills"]) == [3, 2, 1]  # the flipping fill closes one trip and opens the next
    assert list(trips["max_size"]) == [15, 10, 10]
    # the open long of 10 from 109, marked at the last close 112
    assert list(trips["pnl"]) == pytest.approx([50, -20, 30])
    assert trips["pnl_net"].sum() == pytest.approx(60)


def test_a_refused_order_is_recorded_and_counted() -> None:
    rejected = _run()["rejected"]
    assert len(rejected) == 1
    assert rejected[0]["status"] == "margin" and rejected[0]["size"] == 1_000_000 and rejected[0]["side"] == "buy"


def test_baselines_warm_up_on_history_and_trade_only_from_the_start() -> None:
    frame = _prices(160, "2023-06-01")
    frame["close"] = frame["open"] = 100 + 10 * np.sin(np.arange(160) / 8.0) + np.arange(160) * 0.2
    first = frame.index[120]
    window = {"TEST": frame.loc[first:]}
    loads = {"TEST": PriceLoad("TEST", frame, "test", frame.index[0].date(), frame.index[-1].date(), None, True, ())}
    cfg = RunConfig(sma=SmaParams(fast=5, slow=20))
    warm = run_strategy(strategy_spec("sma"), with_history(window, loads, 21), cfg, trade_from=first)
    cold = run_strategy(strategy_spec("sma"), window, cfg)
    assert warm.equity.index[0] == first and len(warm.equity) == len(cold.equity) == 40
    assert pd.Timestamp(warm.fills["date"].iloc[0]) >= first
    # the warmed-up SMA can act on the first bars of the window; the cold one waits 20 bars for its slow mean
    assert pd.Timestamp(warm.fills["date"].iloc[0]) < pd.Timestamp(cold.fills["date"].iloc[0])


def test_exposure_line_names_the_null_benchmark_and_the_never_invested_case() -> None:
    from backtests.report.records import Outcome
    from backtests.run.runner import exposure_line

    empty = pd.DataFrame()
    idx = pd.bdate_range("2024-01-01", periods=3)
    flat = pd.Series(1.0, index=idx)
    main = Outcome("hybrid", flat, flat * 0, empty, empty, {"sharpe": float("nan"), "total_return": 0.0})
    none = Outcome("exposure_matched", flat, flat * 0, empty, empty, {"matched_weight": 0.0})
    assert "never held a position" in exposure_line(main, none)
    stats = {"sharpe": 1.3, "total_return": 0.5, "vs_exposure_alpha_ann": -0.01,
             "vs_exposure_information_ratio": -0.1, "vs_exposure_active_t": -0.4, "vs_exposure_active_p": 0.69}
    line = exposure_line(Outcome("hybrid", flat, flat, empty, empty, stats),
                         Outcome("exposure_matched", flat, flat, empty, empty,
                                 {"matched_weight": 0.43, "sharpe": 1.4, "total_return": 0.6}))
    assert "constant weight 0.43" in line and "null benchmark" in line and "p 0.690" in line
