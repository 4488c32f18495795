"""A paper session as a run folder, the same files as a backtest's (metrics.json, equity.csv, trades.csv,
signals.csv, config.toml, run.json, report.html), so that ``bt-report show`` and ``bt-report compare`` read it.

Everything comes from the journal: the bars as they arrived, the fills as the paper broker made them, the
decisions with their signals and model versions, the config the session ran with. Beside the paper outcome, the
folder holds the backtest of the same bars with the same signals (``run_strategy``, the backtest's own runner), so
that the report and the terminal show at once whether paper trading did what the backtest would have done.
``run.json`` says ``"mode": "paper"``.
"""
from __future__ import annotations

import json
import math
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from backtests.paper.journal import Journal, JournalError
from backtests.paper.signals import SIGNAL_TABLE
from backtests.paper.status import session_settings
from backtests.presets.config import RunConfig, load_config
from backtests.report import metrics as m
from backtests.report.folder import LIBRARIES, RunFolder, load_json, new_run_id
from backtests.report.ml_sections import skill_part
from backtests.report.records import Outcome, ProducedSignals, RunRecord
from backtests.report.writer import write_run_outputs
from backtests.run.runner import benchmark_equity, run_strategy
from backtests.signals import evaluation as ev
from feeds.prices import PriceLoad
from feeds.validate import PRICE_COLUMNS
from ground.provenance import library_versions
from ground.signals import GM_ONLY, GM_VOTE, SENT_VOTE, SIGNAL_LINES
from strategies.registry import strategy_spec

BACKTEST = "backtest"


def session_config(journal: Journal) -> tuple[RunConfig, str]:
    """The config the session last started with (the journal keeps its resolved TOML)."""
    rows = journal.query("SELECT text FROM events WHERE kind = 'config' ORDER BY id DESC LIMIT 1")
    if not rows:
        raise JournalError("the journal holds no config", where=str(journal.path), fix="start the session once")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "session.toml"
        path.write_text(rows[0][0], encoding="utf-8")
        return load_config(path), rows[0][0]


def journal_bars(journal: Journal, symbol: str) -> pd.DataFrame:
    rows = journal.query("SELECT bar, open, high, low, close, volume FROM bars WHERE symbol = ? ORDER BY bar",
                         (symbol,))
    frame = pd.DataFrame(rows, columns=["date", *PRICE_COLUMNS])
    return frame.set_index(pd.DatetimeIndex(pd.to_datetime(frame.pop("date")), name="date"))


def journal_fills(journal: Journal, symbol: str) -> pd.DataFrame:
    """Fills as the backtest's FillRecorder lists them."""
    rows = journal.query("SELECT f.bar, f.size, f.price, f.commission FROM fills f JOIN orders o USING (client_id) "
                         "WHERE o.symbol = ? ORDER BY f.bar", (symbol,))
    return pd.DataFrame(
        [(pd.Timestamp(b).date().isoformat(), symbol, "buy" if z > 0 else "sell", z, p, abs(z * p), c)
         for b, z, p, c in rows],
        columns=["date", "symbol", "side", "size", "price", "value", "commission"])


def paper_outcome(name: str, bars: pd.DataFrame, fills: pd.DataFrame, cash: float, symbol: str) -> Outcome:
    """Equity at each close from the starting cash and the fills (a fill happens at its bar's open, so that bar's
    close already holds it), round trips from position zero back to zero, and the backtest's metrics."""
    by_day = fills.groupby("date")
    size, equity, exposure = 0.0, [], []
    trades: list[dict[str, Any]] = []
    opened: str | None = None
    cost, comm, held = 0.0, 0.0, 0
    for ts, close in bars["close"].items():
        day = ts.date().isoformat()
        if day in by_day.groups:
            for fill in by_day.get_group(day).itertuples():
                if size == 0:
                    opened, cost, comm, held = day, 0.0, 0.0, 0
                size += fill.size
                cash -= fill.size * fill.price + fill.commission
                cost += fill.size * fill.price
                comm += fill.commission
                if abs(size) < 1e-12:
                    trades.append({"symbol": symbol, "status": "closed", "opened": opened, "closed": day,
                                   "bars": held, "size": None, "pnl": -cost, "pnl_net": -cost - comm})
                    size = 0.0
        if size:
            held += 1
        value = cash + size * close
        equity.append(value)
        exposure.append(abs(size) * close / value if value else 0.0)
    if size:
        unreal = size * float(bars["close"].iloc[-1]) - cost
        trades.append({"symbol": symbol, "status": "open", "opened": opened, "closed": bars.index[-1].date().isoformat(),
                       "bars": held, "size": size, "pnl": unreal, "pnl_net": unreal - comm})
    index = pd.DatetimeIndex(bars.index, name="date").normalize()
    eq = pd.Series(equity, index=index, name=name)
    ex = pd.Series(exposure, index=index, name="exposure")
    table = pd.DataFrame(trades, columns=["symbol", "status", "opened", "closed", "bars", "size", "pnl", "pnl_net"])
    traded = fills.groupby("date")["value"].sum() if len(fills) else pd.Series(dtype=float)
    traded.index = pd.DatetimeIndex(traded.index)
    stats = {
        **m.curve_metrics(eq),
        **m.trade_metrics(m.TradeStats(tuple(table["pnl_net"].astype(float)))),
        **m.position_metrics(ex, traded, eq),
        "commission_paid": float(fills["commission"].sum()) if len(fills) else 0.0,
    }
    return Outcome(name, eq, ex, fills, table, stats)


def decision_signals(journal: Journal, symbol: str) -> pd.DataFrame:
    """Per decided bar the signal table's columns, as journalled (plus the order size and the models)."""
    rows = journal.query("SELECT bar, order_size, forecast, sentiment, signal, models FROM decisions "
                         "WHERE symbol = ? ORDER BY bar", (symbol,))
    out = []
    for bar, size, forecast, sentiment, signal, models in rows:
        row: dict[str, Any] = {"date": pd.Timestamp(bar)}
        for part in (forecast, sentiment, signal):
            row.update({k: (math.nan if v is None else v) for k, v in json.loads(part).items()})
        row[GM_ONLY] = bool(np.isfinite(row.get(GM_VOTE, math.nan)) and not np.isfinite(row.get(SENT_VOTE, math.nan)))
        row["order_size"] = size
        row["models"] = " ".join(json.loads(models).values())
        out.append(row)
    frame = pd.DataFrame(out, columns=["date", *SIGNAL_TABLE, "order_size", "models"]).set_index("date")
    frame.insert(0, "symbol", symbol)
    return frame


def export_session(path: str | Path, reports_dir: str | Path, *, now: datetime | None = None) -> Path:
    """Write the session in the journal at ``path`` as ``<reports_dir>/<run-id>/``; returns the folder."""
    from backtests.paper.status import open_existing

    with open_existing(path) as journal:
        settings = session_settings(journal)
        cfg, config_text = session_config(journal)
        symbol = settings["symbol"]
        bars = journal_bars(journal, symbol)
        signals = decision_signals(journal, symbol)
        fills = journal_fills(journal, symbol)
        stop = journal.query("SELECT text FROM events WHERE kind = 'stop' ORDER BY id DESC LIMIT 1")
    if len(bars) < 2 or signals.empty:
        raise JournalError(f"the session has {len(bars)} bar(s) and {len(signals)} decision(s); nothing to report",
                           where=str(path), fix="export once the session has traded a few bars")
    spec = strategy_spec(settings["strategy"])
    cash = float(settings["initial_cash"])
    bars = bars.loc[bars.index.isin(signals.index)]
    paper = paper_outcome(spec.name, bars, fills, cash, symbol)
    lines = signals[list(SIGNAL_LINES)].astype(float)
    backtest = run_strategy(spec, {symbol: bars}, _with_cash(cfg, cash), signals={symbol: lines})
    same = _fills_equal(paper.fills, backtest.fills)
    versions = list(dict.fromkeys(v for s in signals["models"] for v in s.split()))
    headline = [
        f"PAPER SESSION (not a backtest): {symbol} {spec.name} {settings['interval']} on {settings['exchange']}, "
        f"{len(bars)} live bars {bars.index[0]}..{bars.index[-1]}, journal {Path(path).resolve()}",
        f"the backtest of the same bars with the same signals {'made the same fills' if same else 'DIFFERS'}: "
        f"{len(paper.fills)} paper fills, {len(backtest.fills)} backtest fills",
        *([f"session stopped: {stop[0][0]}"] if stop else []),
    ]
    # The same skill section as a backtest's, on the session's own decisions and the returns that followed them.
    evaluated = ev.evaluation_frame(signals, ev.realised_returns(bars, signals.index, cfg.walkforward.horizon))
    skills = ev.source_skills(evaluated, cfg.walkforward.horizon, cfg.run.seed)
    verdicts = ev.verdict_lines(None, skills)
    headline.extend(verdicts)
    produced = ProducedSignals(signals={symbol: lines}, signals_table=signals, model_versions=versions,
                               report_parts=[skill_part(symbol, skills, verdicts)],
                               metrics={"paper": {"journal": str(Path(path).resolve()), "fills_equal_backtest": same,
                                                  "bars": len(bars), "session": settings},
                                        "symbols": {symbol: {"skill": ev.skill_metrics(skills), "verdicts": verdicts}}},
                               headline=headline)
    load = PriceLoad(symbol, bars, "paper journal", bars.index[0].date(), bars.index[-1].date(), None, True, ())
    folder = RunFolder(Path(reports_dir), new_run_id(f"paper_{spec.name}", config_text, now))
    record = RunRecord(folder.run_id, cfg, config_text, spec, {spec.name: paper, BACKTEST: backtest},
                       benchmark_equity({symbol: bars}, cash), {symbol: load}, produced, {},
                       library_versions(LIBRARIES))
    write_run_outputs(folder, record)
    info = load_json(folder.path / "run.json")
    info.update({"mode": "paper", "journal": str(Path(path).resolve()), "session": settings,
                 "fills_equal_backtest": same})
    folder.write_json("run.json", info)
    return folder.path


def _with_cash(cfg: RunConfig, cash: float) -> RunConfig:
    from dataclasses import replace

    return replace(cfg, run=replace(cfg.run, cash=cash))


def _fills_equal(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    cols = ["date", "side", "size", "price", "commission"]
    if len(a) != len(b):
        return False
    left, right = a[cols].reset_index(drop=True), b[cols].reset_index(drop=True)
    return bool((left[["date", "side"]] == right[["date", "side"]]).all().all()
                and np.allclose(left[["size", "price", "commission"]].abs().to_numpy(float),
                                right[["size", "price", "commission"]].abs().to_numpy(float), rtol=1e-9))
