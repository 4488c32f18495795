"""Run folders written from fixed outcomes: what the report writer and the comparison read, with no backtest run."""
from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tomli_w

from backtests.presets.config import RunConfig, load_config
from backtests.report import metrics as m
from backtests.report.folder import RunFolder
from backtests.report.records import Outcome, RunRecord
from backtests.report.writer import write_run_outputs
from feeds.prices import PriceLoad
from ground.config import to_mapping
from strategies.registry import STRATEGIES

INDEX = pd.bdate_range("2024-01-01", periods=30, name="date")


def fixed_outcome(name: str, daily: float) -> Outcome:
    """A strategy whose equity grows by ``daily`` every bar, with one round trip."""
    equity = pd.Series(100_000.0 * (1 + daily) ** np.arange(len(INDEX)), index=INDEX, name=name)
    exposure = pd.Series(0.5, index=INDEX, name="exposure")
    fills = pd.DataFrame([[INDEX[1], "ACME", "buy", 10, 100.0, 1000.0, 0.5], [INDEX[20], "ACME", "sell", -10, 110.0,
                          1100.0, 0.55]], columns=["date", "symbol", "side", "size", "price", "value", "commission"])
    trades = pd.DataFrame([["ACME", "closed", INDEX[1], INDEX[20], 19, 10, 100.0, 98.95]],
                          columns=["symbol", "status", "opened", "closed", "bars", "size", "pnl", "pnl_net"])
    metrics = {**m.curve_metrics(equity), **m.trade_metrics(m.TradeStats((98.95,)))}
    return Outcome(name, equity, exposure, fills, trades, metrics)


def fixed_record(folder: RunFolder, cfg: RunConfig, daily: float) -> RunRecord:
    prices = pd.DataFrame({"open": 100.0, "high": 101.0, "low": 99.0, "close": 100.0, "volume": 1e6}, index=INDEX)
    load = PriceLoad(symbol="ACME", frame=prices, source="csv", first=date(2024, 1, 1), last=date(2024, 2, 9),
                     fetched_at=None, fully_covered=True, notes=())
    outcomes = {"buyhold": fixed_outcome("buyhold", daily)}
    bench = pd.Series(100_000.0 * 1.0005 ** np.arange(len(INDEX)), index=INDEX, name="benchmark")
    return RunRecord(folder.run_id, cfg, tomli_w.dumps(to_mapping(cfg)), STRATEGIES["buyhold"], outcomes, bench,
                     {"ACME": load}, None, {"load_s": 0.1}, {"python": "3.11"})


@pytest.fixture
def write_run(tmp_path: Path) -> Callable[..., Path]:
    """Writes a run folder from a fixed outcome; returns its path."""

    def write(run_id: str, daily: float = 0.001, **overrides: object) -> Path:
        cfg = load_config("default", {"run.symbols": ["ACME"], **overrides})
        folder = RunFolder(tmp_path / "reports", run_id)
        write_run_outputs(folder, fixed_record(folder, cfg, daily))
        return folder.path

    return write
