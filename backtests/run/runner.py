"""One backtest run: load and validate prices, produce signals if the strategy needs them, run Cerebro for the
strategy and its baselines, compute metrics, record the run in the trial ledger, and write the run folder.

Baselines are fair: each warms up on the history before the start date (the bars its indicators need), trading
only from the start, so an SMA does not sit in cash for its first 100 bars. An ML run always has buy-and-hold and
the exposure-matched buy-and-hold beside it (see ``strategies.exposure``: a null benchmark whose weight is the ML
strategy's mean exposure, known only after the run), with alpha and information ratio against the latter and a
HAC t-test of the mean active return."""
from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any, Protocol

import backtrader as bt
import numpy as np
import pandas as pd
import tomli_w

from backtests.presets.config import RunConfig
from backtests.report import metrics as m
from backtests.report.audit_checks import fill_timing_check, truncated_fills_check
from backtests.report.folder import LIBRARIES, RunFolder, new_run_id
from backtests.report.ml_sections import leakage_part
from backtests.report.records import Outcome, ProducedSignals, RunRecord
from backtests.report.trials import Trial, TrialLedger, config_hash, ledger_path, return_moments
from backtests.report.writer import write_run_outputs
from backtests.run.assemble import build_cerebro
from feeds.prices import PriceLoad, load_prices
from ground.config import to_mapping
from ground.errors import ConfigError
from ground.provenance import library_versions
from strategies.registry import StrategySpec, strategy_spec

EXPOSURE_MATCHED = "exposure_matched"
ML_BASELINES = ("buyhold",)  # beside the exposure-matched one, in every ML run

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


def _gated(cls: type[bt.Strategy], first: date) -> type[bt.Strategy]:
    """The strategy, deciding only from ``first`` on: the bars before it only warm its indicators up."""

    class Gated(cls):
        def next(self) -> None:
            if self.datas[0].datetime.date(0) >= first:
                super().next()

    Gated.__name__ = Gated.__qualname__ = cls.__name__
    return Gated


def with_history(frames: Mapping[str, pd.DataFrame], loads: Mapping[str, PriceLoad], bars: int) -> dict[str, pd.DataFrame]:
    """Each window with up to ``bars`` bars of the loaded history before it prepended (warm-up for indicators)."""
    out = {}
    for symbol, frame in frames.items():
        before = loads[symbol].frame.loc[loads[symbol].frame.index < frame.index[0]].tail(bars)
        out[symbol] = pd.concat([before, frame])
    return out


def run_strategy(
    spec: StrategySpec,
    frames: Mapping[str, pd.DataFrame],
    cfg: RunConfig,
    *,
    signals: Mapping[str, pd.DataFrame] | None = None,
    trade_from: pd.Timestamp | None = None,
) -> Outcome:
    """Run one strategy through Cerebro and turn its recorders into series, tables and metrics.

    With ``trade_from``, the frames may start earlier (warm-up): the strategy decides only from that bar, and
    equity, exposure and metrics cover only the bars from it.
    """
    if trade_from is not None:
        spec = replace(spec, cls=_gated(spec.cls, trade_from.date()))
    strat = build_cerebro(frames, spec, cfg, signals=signals).run()[0]
    eq = strat.analyzers.equity.get_analysis()
    index = pd.DatetimeIndex([bt.num2date(d) for d in eq["dates"]], name="date").normalize()
    equity = pd.Series(eq["values"], index=index, name=spec.name)
    exposure = pd.Series(eq["exposure"], index=index, name="exposure")
    if trade_from is not None:
        equity, exposure = equity.loc[trade_from:], exposure.loc[trade_from:]
    rec = strat.analyzers.fills.get_analysis()
    fills = pd.DataFrame(rec["fills"], columns=["date", "decided", "symbol", "side", "size", "price", "value",
                                                "commission", "position", "realised_pnl"])
    trades = pd.DataFrame(rec["closed"], columns=["symbol", "status", "opened", "closed", "bars", "fills",
                                                  "max_size", "size", "pnl", "commission", "pnl_net"])
    rejected = pd.DataFrame(rec["rejected"], columns=["date", "symbol", "side", "size", "status"])
    if len(rejected):
        log.warning("%s: %d orders the broker did not fill (%s)", spec.name, len(rejected),
                    ", ".join(f"{k} {v}" for k, v in rejected["status"].value_counts().items()))
    traded = fills.groupby("date")["value"].sum() if len(fills) else pd.Series(dtype=float)
    traded.index = pd.DatetimeIndex(traded.index)
    stats = {
        **m.curve_metrics(equity),
        **m.trade_metrics(m.TradeStats(tuple(trades["pnl_net"].astype(float)))),
        **m.position_metrics(exposure, traded, equity),
        "commission_paid": float(fills["commission"].sum()) if len(fills) else 0.0,
        "fills": float(len(fills)),
        "orders_not_filled": float(len(rejected)),
        "realised_pnl": float(fills["realised_pnl"].sum()) if len(fills) else 0.0,
    }
    return Outcome(spec.name, equity, exposure, fills, trades, stats, rejected)


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
    else:
        warmup = max([min_bars(strategy_spec(b, "report.baselines"), cfg) for b in cfg.report.baselines]
                     + [min_bars(spec, cfg), 0])
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
    if produced is not None:
        outcomes = {spec.name: run_strategy(spec, frames, cfg, signals=produced.signals)}
    elif min_bars(spec, cfg) > 2:  # a price-only strategy warms up on the history before the start, as baselines do
        first = min(f.index[0] for f in frames.values())
        outcomes = {spec.name: run_strategy(spec, with_history(frames, loads, min_bars(spec, cfg) - 2), cfg,
                                            trade_from=first)}
    else:
        outcomes = {spec.name: run_strategy(spec, frames, cfg)}
    if produced is not None and produced.audits:
        audit_fills(spec, cfg, frames, produced, outcomes[spec.name])
    outcomes.update(run_baselines(spec, cfg, frames, loads, outcomes[spec.name]))
    if produced is not None and EXPOSURE_MATCHED in outcomes:
        produced.headline.append(exposure_line(outcomes[spec.name], outcomes[EXPOSURE_MATCHED]))
    timings["backtest_s"] = time.perf_counter() - t2
    bench = benchmark_equity(frames, cfg.run.cash)

    config_text = tomli_w.dumps(to_mapping(cfg))
    folder = RunFolder(Path(cfg.run.reports_dir), new_run_id(spec.name, config_text, now))
    outcomes[spec.name] = deflate(outcomes[spec.name], cfg, folder.run_id, produced)
    t3 = time.perf_counter()
    record = RunRecord(folder.run_id, cfg, config_text, spec, outcomes, bench, loads, produced, timings,
                       library_versions(LIBRARIES))
    all_metrics = write_run_outputs(folder, record)
    timings["report_s"] = time.perf_counter() - t3
    timings["total_s"] = time.perf_counter() - t0
    return RunResult(folder.run_id, folder.path, outcomes, bench, all_metrics, timings)


def run_baselines(
    spec: StrategySpec, cfg: RunConfig, frames: Mapping[str, pd.DataFrame], loads: Mapping[str, PriceLoad],
    main: Outcome,
) -> dict[str, Outcome]:
    """The configured baselines, warmed up on the same history; for ML runs also buy-and-hold and the
    exposure-matched buy-and-hold, with the main strategy's figures against the latter added to its metrics."""
    out: dict[str, Outcome] = {}
    first = min(f.index[0] for f in frames.values())
    names = list(dict.fromkeys([*cfg.report.baselines, *(ML_BASELINES if spec.signals else ())]))
    for base in names:
        base_spec = strategy_spec(base, "report.baselines")
        if base == spec.name:
            continue
        need = min_bars(base_spec, cfg)
        if need <= 2:  # decides on its first bar: nothing to warm up
            out[base] = run_strategy(base_spec, frames, cfg)
            continue
        warm = with_history(frames, loads, need - 2)  # its indicators are ready on the window's first bar
        if min(len(f) for f in warm.values()) < need:
            log.warning("baseline %s skipped: it needs %d bars, the history has %d", base, need,
                        min(len(f) for f in warm.values()))
            continue
        out[base] = run_strategy(base_spec, warm, cfg, trade_from=first)
    if spec.signals is not None:
        weight = float(min(max(main.exposure.mean(), 0.0), 1.0))
        matched_cfg = replace(cfg, exposure=replace(cfg.exposure, weight=weight))
        matched = run_strategy(strategy_spec("exposure"), frames, matched_cfg)
        out[EXPOSURE_MATCHED] = replace(matched, name=EXPOSURE_MATCHED,
                                        metrics={**matched.metrics, "matched_weight": weight})
        main.metrics.update({f"vs_exposure_{k}": v for k, v in m.active_test(main.equity, matched.equity).items()})
    return out


def deflate(main: Outcome, cfg: RunConfig, run_id: str, produced: ProducedSignals | None) -> Outcome:
    """Record the run in the trial ledger and add the Deflated Sharpe Ratio that counts every trial there."""
    returns = m.returns_from_equity(main.equity).to_numpy(dtype=float)
    sr, skew, kurt, n = return_moments(returns)
    symbols = sorted(cfg.run.symbols)
    start, end = main.equity.index[0].date().isoformat(), main.equity.index[-1].date().isoformat()
    ledger = TrialLedger(ledger_path(Path(cfg.run.reports_dir)))
    flat = {f"{section}.{k}": v for section, values in to_mapping(cfg).items() for k, v in values.items()}
    ledger.record([Trial(run_id, main.name, ",".join(symbols), start, end, config_hash(flat), sr, skew, kurt, n)])
    count = ledger.count(symbols, start, end)
    dsr = m.deflated_sharpe_of(returns, count.n_configs, count.sharpe_var)
    figures = {"deflated_sharpe": dsr, "dsr_trials": float(count.n_configs), "dsr_sharpe_var": count.sharpe_var,
               "dsr_threshold_sr": m.expected_max_sharpe_of(count.n_configs, count.sharpe_var)}
    if produced is not None:
        shown = f"{dsr:.3f}" if np.isfinite(dsr) else "n/a (returns without variance: the strategy never invested)"
        produced.headline.append(f"Deflated Sharpe {shown}: {count.text()}")
        produced.metrics["trials"] = {"n_configs": count.n_configs, "sharpe_var": count.sharpe_var,
                                      "sources": dict(count.sources), "ledger": count.ledger}
    return replace(main, metrics={**main.metrics, **figures})


def audit_fills(spec: StrategySpec, cfg: RunConfig, frames: Mapping[str, pd.DataFrame], produced: ProducedSignals,
                main: Outcome) -> None:
    """The leakage audit's fill checks, then its report section and figures for each symbol.

    Fill timing is checked on every fill; the truncation check re-runs the strategy on prices and signals cut at
    the latest audited cut and compares the fills up to it (one extra backtest).
    """
    cuts = [a.last_cut for a in produced.audits.values() if a.last_cut is not None]
    truncated = None
    if cuts:
        cut = min(cuts)
        cut_frames = {s: f.loc[:cut] for s, f in frames.items()}
        if min(len(f) for f in cut_frames.values()) >= 2:
            cut_signals = {s: sig.loc[:cut] for s, sig in produced.signals.items()}
            truncated = (cut, run_strategy(spec, cut_frames, cfg, signals=cut_signals).fills)
    for symbol, audit in produced.audits.items():
        own = main.fills[main.fills["symbol"] == symbol]
        audit.checks.append(fill_timing_check(own, frames, cfg.costs.slippage_bps))
        if truncated is not None:
            cut, fills = truncated
            audit.checks.append(truncated_fills_check(own, fills[fills["symbol"] == symbol], cut))
        produced.report_parts.append(leakage_part(symbol, audit))
        produced.metrics["symbols"].setdefault(symbol, {})["leakage_audit"] = audit.to_dict()
        produced.headline.append(f"{symbol} leakage audit: {'PASS' if audit.passed else 'FAIL'} "
                                 f"({sum(c.passed for c in audit.checks)} of {len(audit.checks)} checks; folds "
                                 f"{', '.join(str(k) for k in audit.tables) or '-'} re-run, see the audit section)")


def exposure_line(main: Outcome, matched: Outcome) -> str:
    """The strategy against the exposure-matched buy-and-hold, for the top of the report."""
    mm, bm = main.metrics, matched.metrics
    if bm["matched_weight"] == 0:
        return (f"{main.name} never held a position (mean exposure 0): the exposure-matched buy-and-hold holds "
                "nothing either, so there is no alpha to test; buy-and-hold is the comparison that remains")
    return (
        f"{main.name} vs exposure-matched buy-and-hold (constant weight {bm['matched_weight']:.2f} = the strategy's "
        f"mean exposure, a null benchmark fixed after the fact): Sharpe {mm['sharpe']:.2f} vs {bm['sharpe']:.2f}, "
        f"total return {mm['total_return'] * 100:.1f}% vs {bm['total_return'] * 100:.1f}%; alpha "
        f"{mm['vs_exposure_alpha_ann'] * 100:.1f}%/yr, information ratio {mm['vs_exposure_information_ratio']:.2f}, "
        f"HAC t {mm['vs_exposure_active_t']:.2f} (p {mm['vs_exposure_active_p']:.3f})"
    )
