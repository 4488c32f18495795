"""The Python entry point for notebooks: one backtest with the same configuration and code path as ``bt-run``.

>>> from backtests.api import run_backtest
>>> bt = run_backtest("sma", start="2015-01-01", end="2019-12-31", overrides={"sma.fast": 10})
>>> bt.metrics.loc["sharpe"]        # one column per strategy and the benchmark
>>> bt.equity["sma"].plot()         # equity curves, drawdown and exposure by date
>>> bt.trades, bt.signals, bt.path  # round trips, per-bar signals (ML strategies), the run folder

Errors are the project's ``UserInputError`` subclasses, with the same one-line messages as the command line.
"""
from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from backtests.presets.config import RunConfig, load_config
from backtests.run.runner import execute
from backtests.signals import producer_for


@dataclass(frozen=True)
class Backtest:
    """A finished run, read back from its folder as pandas objects.

    - ``metrics``: one row per metric, one column per strategy (the main one, its baselines) and the benchmark.
    - ``equity``: equity of each strategy and the benchmark, the main strategy's drawdown and exposure, by date.
    - ``trades``: the main strategy's round trips.
    - ``signals``: per-bar signals of ML strategies (None for price-only strategies).
    - ``document``: metrics.json as a dict (conventions, per-symbol fold and fusion records).
    """

    run_id: str
    path: Path
    config: RunConfig
    metrics: pd.DataFrame
    equity: pd.DataFrame
    trades: pd.DataFrame
    signals: pd.DataFrame | None
    document: dict[str, Any]


def run_backtest(
    strategy: str | None = None,
    *,
    config: str | Path = "default",
    start: str | date | None = None,
    end: str | date | None = None,
    symbols: Sequence[str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Backtest:
    """Run a backtest like ``bt-run`` and return its outputs.

    ``config`` is a preset name or a TOML path; ``overrides`` are dotted keys like ``--set`` takes
    (``{"sma.fast": 10, "run.cash": 5e4}``). ``strategy``, ``start``, ``end`` and ``symbols`` are shortcuts for
    ``run.strategy``, ``run.start``, ``run.end`` and ``run.symbols``.
    """
    keys: dict[str, Any] = dict(overrides or {})
    for key, value in (("run.strategy", strategy), ("run.start", start), ("run.end", end)):
        if value is not None:
            keys[key] = str(value)
    if symbols is not None:
        keys["run.symbols"] = list(symbols)
    cfg = load_config(config, keys, {k: f"run_backtest({k.split('.')[-1]}=...)" for k in keys})
    result = execute(cfg, signal_producer=producer_for(cfg.run.strategy))
    return read_run(result.path, cfg)


def read_run(path: Path, config: RunConfig) -> Backtest:
    """The outputs of a finished run folder as pandas objects."""
    document = json.loads((path / "metrics.json").read_text(encoding="utf-8"))
    metrics = pd.DataFrame(document["metrics"])
    equity = pd.read_csv(path / "equity.csv", index_col="date", parse_dates=["date"])
    trades = pd.read_csv(path / "trades.csv")
    signals_file = path / "signals.csv"
    signals = pd.read_csv(signals_file, index_col="date", parse_dates=["date"]) if signals_file.is_file() else None
    return Backtest(document["run_id"], path, config, metrics, equity, trades, signals, document)
