"""One backtest run: load and validate prices, produce signals if the strategy needs them, run Cerebro for the
strategy and its baselines, compute metrics, and write the run folder."""
from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import backtrader as bt
import pandas as pd
import tomli_w

from backtests.presets.config import RunConfig
from backtests.report import metrics as m
from backtests.report.folder import LIBRARIES, RunFolder, new_run_id
from backtests.report.records import Outcome, ProducedSignals, RunRecord
from backtests.report.writer import write_run_outputs
from backtests.run.assemble import build_cerebro
from feeds.prices import PriceLoad, load_prices
from ground.config import to_mapping
from ground.errors import ConfigError
from ground.provenance import library_versions
from strategies.registry import StrategySpec, strategy_spec

log = logging.getLogger(__name__)


@dataclass
class RunResult:
    """Everything a run produced; the files are already written to ``path``."""

    run_id: str
    path: Path
    outcomes: dict[str, Outcome]
    benchmark: pd.Series
    metrics: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)


class SignalProducer(Protocol):
    """What a strategy that reads signals needs: how much history to load, and the signals over the window."""

    def warmup_bars(self, cfg: RunConfig) -> int | None:
        """Bars to load before the first trading bar (None: all history)."""
        ...

    def produce(
        self, cfg: RunConfig, spec: StrategySpec, loads: Mapping[str, PriceLoad], frames: Mapping[str, pd.DataFrame]
    ) -> ProducedSignals:
        """Signal lines for every symbol over its trading window, and what explains them."""
        ...


def min_bars(spec: StrategySpec, cfg: RunConfig) -> int:
    """Bars a strategy needs before it can decide at all, from its own parameters."""
    return spec.min_bars(cfg.strategy_params(spec.section))


def load_frames(cfg: RunConfig, warmup_bars: int | None = 0) -> dict[str, PriceLoad]:
    """Validated prices for every symbol, from the configured source.

    ``warmup_bars`` bars before the start are loaded too (history for training); None loads all history.
    """
    loads: dict[str, PriceLoad] = {}
    for i, symbol in enumerate(cfg.run.symbols):
        csv_path = Path(cfg.run.csv[i]) if cfg.run.csv else None
        load = load_prices(
            symbol,
            start=cfg.run.start if warmup_bars is not None else None,
            end=cfg.run.end,
            source=cfg.run.data,
            csv_path=csv_path,
            offline=cfg.run.offline,
            warmup_bars=warmup_bars or 0,
            accept_jumps=cfg.run.accept_jumps,
        )
        log.info("%s: %d bars %s..%s from %s", symbol, len(load.frame), load.first, load.last, load.source)
        loads[symbol] = load
    return loads


def trading_window(frame: pd.DataFrame, cfg: RunConfig) -> pd.DataFrame:
    """The bars the strategy trades on: [start, end] of the config (history before start is only for training)."""
    start = pd.Timestamp(cfg.run.start) if cfg.run.start else frame.index[0]
    end = pd.Timestamp(cfg.run.end) if cfg.run.end else frame.index[-1]
    window = frame.loc[(frame.index >= start) & (frame.index <= end)]
    if len(window) < 2:
        raise ConfigError(f"fewer than 2 bars between {start.date()} and {end.date()}", "--from/--to", "widen the date range")
    return window


def run_strategy(
    spec: StrategySpec,
    frames: Mapping[str, pd.DataFrame],
    cfg: RunConfig,
    *,
    signals: Mapping[str, pd.DataFrame] | None = None,
) -> Outcome:
    """Run one strategy through Cerebro and turn its recorders into series, tables and metrics."""
    strat = build_cerebro(frames, spec, cfg, signals=signals).run()[0]
    eq = strat.analyzers.equity.get_analysis()
    index = pd.DatetimeIndex([bt.num2date(d) for d in eq["dates"]], name="date").normalize()
    equity = pd.Series(eq["values"], index=index, name=spec.name)
    exposure = pd.Series(eq["exposure"], index=index, name="exposure")
    rec = strat.analyzers.fills.get_analysis()
    fills = pd.DataFrame(rec["fills"], columns=["date", "symbol", "side", "size", "price", "value", "commission"])
    trades = pd.DataFrame(
        rec["closed"], columns=["symbol", "status", "opened", "closed", "bars", "size", "pnl", "pnl_net"]
    )
    traded = fills.groupby("date")["value"].sum() if len(fills) else pd.Series(dtype=float)
    traded.index = pd.DatetimeIndex(traded.index)
    stats = {
        **m.curve_metrics(equity),
        **m.trade_metrics(m.TradeStats(tuple(trades["pnl_net"].astype(float)))),
        **m.position_metrics(exposure, traded, equity),
        "commission_paid": float(fills["commission"].sum()) if len(fills) else 0.0,
    }
    return Outcome(spec.name, equity, exposure, fills, trades, stats)


def benchmark_equity(frames: Mapping[str, pd.DataFrame], cash: float) -> pd.Series:
    """Buy-and-hold of the symbols, equal weights, no costs: the yardstick every run is measured against."""
    parts = [m.buy_and_hold_equity(f["close"], cash / len(frames)) for f in frames.values()]
    bench = pd.concat(parts, axis=1).ffill().bfill().sum(axis=1)
    bench.name = "buy-and-hold benchmark"
    return bench


def execute(cfg: RunConfig, *, signal_producer: SignalProducer | None = None, now: datetime | None = None) -> RunResult:
    """Run the configured strategy end to end and write ``reports/<run-id>/``.

    ``signal_producer`` makes the signal lines of strategies that read them (``backtests.signals``); price-only
    strategies need none.
    """
    timings: dict[str, float] = {}
    spec = strategy_spec(cfg.run.strategy)
    t0 = time.perf_counter()
    warmup: int | None = 0
    if spec.signals is not None:
        if signal_producer is None:
            raise ConfigError(f"strategy '{spec.name}' needs a signal producer", "--strategy")
        warmup = signal_producer.warmup_bars(cfg)
    loads = load_frames(cfg, warmup_bars=warmup)
    frames = {s: trading_window(load.frame, cfg) for s, load in loads.items()}
    timings["load_s"] = time.perf_counter() - t0

    produced = None
    if signal_producer is not None and spec.signals is not None:
        t1 = time.perf_counter()
        produced = signal_producer.produce(cfg, spec, loads, frames)
        timings["signals_s"] = time.perf_counter() - t1
        timings.update(produced.timings)

    bars = min(len(f) for f in frames.values())
    if bars < min_bars(spec, cfg):
        raise ConfigError(f"strategy '{spec.name}' needs at least {min_bars(spec, cfg)} bars, the window has {bars}",
                          "--from/--to", "widen the date range")
    t2 = time.perf_counter()
    outcomes = {spec.name: run_strategy(spec, frames, cfg, signals=produced.signals if produced else None)}
    for base in cfg.report.baselines:
        base_spec = strategy_spec(base, "report.baselines")
        if base == spec.name:
            continue
        if bars < min_bars(base_spec, cfg):
            log.warning("baseline %s skipped: it needs %d bars, the window has %d", base, min_bars(base_spec, cfg), bars)
            continue
        outcomes[base] = run_strategy(base_spec, frames, cfg)
    timings["backtest_s"] = time.perf_counter() - t2
    bench = benchmark_equity(frames, cfg.run.cash)

    config_text = tomli_w.dumps(to_mapping(cfg))
    folder = RunFolder(Path(cfg.run.reports_dir), new_run_id(spec.name, config_text, now))
    t3 = time.perf_counter()
    record = RunRecord(folder.run_id, cfg, config_text, spec, outcomes, bench, loads, produced, timings,
                       library_versions(LIBRARIES))
    all_metrics = write_run_outputs(folder, record)
    timings["report_s"] = time.perf_counter() - t3
    timings["total_s"] = time.perf_counter() - t0
    return RunResult(folder.run_id, folder.path, outcomes, bench, all_metrics, timings)
