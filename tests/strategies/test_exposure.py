"""The exposure-matched buy-and-hold: holds its weight, rebalances on drift, validates its parameters."""
from __future__ import annotations

import backtrader as bt
import numpy as np
import pandas as pd
import pytest

from ground.errors import InvalidValue
from strategies.exposure import ExposureHold, ExposureParams
from strategies.registry import STRATEGIES
from strategies.signal_data import FrameFeed


def _frame(n: int = 120) -> pd.DataFrame:
    close = 100 * np.exp(np.cumsum(np.random.default_rng(0).normal(0.002, 0.02, n)))
    index = pd.bdate_range("2024-01-02", periods=n, name="date")
    return pd.DataFrame({"open": close, "high": close, "low": close, "close": close, "volume": 1e6}, index=index)


class _Exposure(bt.Analyzer):
    def start(self) -> None:
        self.values: list[float] = []

    def next(self) -> None:
        data = self.strategy.datas[0]
        self.values.append(self.strategy.getposition(data).size * data.close[0] / self.strategy.broker.getvalue())

    def get_analysis(self) -> list[float]:
        return self.values


def test_holds_the_weight_within_the_band() -> None:
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.broker.setcash(100_000)
    cerebro.adddata(FrameFeed(dataname=_frame(), name="X"))
    cerebro.addstrategy(ExposureHold, config=ExposureParams(weight=0.4, rebalance_band=0.05))
    cerebro.addanalyzer(_Exposure, _name="exp")
    held = np.array(cerebro.run()[0].analyzers.exp.get_analysis()[2:])  # invested from the second bar's open
    assert np.all(np.abs(held - 0.4) < 0.05 + 0.02) and abs(held.mean() - 0.4) < 0.02


def test_params_are_validated_and_registered() -> None:
    with pytest.raises(InvalidValue, match="weight"):
        ExposureParams(weight=1.5)
    with pytest.raises(InvalidValue, match="rebalance_band"):
        ExposureParams(rebalance_band=0.0)
    spec = STRATEGIES["exposure"]
    assert spec.params is ExposureParams and spec.signals is None and "null benchmark" in spec.description
