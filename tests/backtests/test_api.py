"""The Python API for notebooks: the same configuration and code path as bt-run, outputs as pandas objects."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from backtests.api import run_backtest
from ground.errors import ConfigError


@pytest.mark.slow
def test_a_backtest_from_python_returns_its_outputs_as_pandas(tmp_path: Path) -> None:
    bt = run_backtest("sma", start="2015-01-01", end="2016-12-31", symbols=["NVDA"],
                      overrides={"sma.fast": 10, "sma.slow": 50, "run.data": "bundled",
                                 "run.reports_dir": str(tmp_path / "reports")})
    assert bt.path.parent == tmp_path / "reports" and (bt.path / "report.html").is_file()
    assert bt.config.sma.fast == 10 and bt.config.run.strategy == "sma"
    assert isinstance(bt.metrics, pd.DataFrame) and {"sma", "buyhold", "benchmark"} <= set(bt.metrics.columns)
    assert bt.metrics.loc["total_return", "sma"] == bt.document["metrics"]["sma"]["total_return"]
    assert isinstance(bt.equity.index, pd.DatetimeIndex) and bt.equity.index[0] >= pd.Timestamp("2015-01-01")
    assert bt.equity.index[-1] <= pd.Timestamp("2016-12-31") and "sma" in bt.equity.columns
    assert len(bt.trades) > 0 and {"opened", "closed", "pnl_net"} <= set(bt.trades.columns)
    assert bt.signals is None  # a price-only strategy has no signals


def test_a_bad_value_names_the_argument_it_came_from(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"sma.fast: need 1 <= fast < slow.*\(at run_backtest\(fast=...\)\)"):
        run_backtest("sma", overrides={"sma.fast": 500, "run.reports_dir": str(tmp_path)})
