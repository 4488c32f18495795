"""Writes a run's outputs: metrics.json, equity.csv, trades.csv, signals.csv, config.toml, run.json, report.html."""
from __future__ import annotations

import sys
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

import pandas as pd

from backtests.presets.config import RunConfig
from backtests.report import charts
from backtests.report import metrics as m
from backtests.report.folder import RunFolder
from backtests.report.html import ReportPart, fmt_value, frame_table, metrics_table, monthly_heatmap, render_page
from backtests.report.records import Outcome, RunRecord
from backtests.report.tearsheet import tearsheet_metrics, tearsheet_parts, top_drawdowns
from feeds.prices import PriceLoad
from ground.provenance import fingerprint_frame

BENCHMARK = "benchmark"
CONVENTIONS = {
    "returns": "daily simple returns of portfolio value at each close",
    "risk_free_rate": 0.0,
    "periods_per_year": m.PERIODS_PER_YEAR,
    "fills": "market orders fill at the next bar's open",
    "benchmark": "buy-and-hold of the same symbols, equal weights, no costs",
}


def all_metrics(outcomes: Mapping[str, Outcome], bench: pd.Series) -> dict[str, dict[str, float]]:
    """Metrics per strategy and for the benchmark, plus figures relative to the benchmark.

    The main strategy's Deflated Sharpe Ratio comes with its outcome: it counts every configuration in the trial
    ledger on overlapping symbols and periods (``backtests.report.trials``), not the strategies of this run.
    """
    table: dict[str, dict[str, float]] = {name: {**o.metrics, **tearsheet_metrics(o.equity)}
                                          for name, o in outcomes.items()}
    table[BENCHMARK] = {**m.curve_metrics(bench), **tearsheet_metrics(bench)}
    for name, outcome in outcomes.items():
        table[name].update(m.relative_metrics(outcome.equity, bench))
    return table


def equity_frame(outcomes: Mapping[str, Outcome], bench: pd.Series, main: str) -> pd.DataFrame:
    """equity.csv: each strategy's equity, the benchmark, and the main strategy's drawdown and exposure."""
    frame = pd.DataFrame({name: o.equity for name, o in outcomes.items()})
    frame[BENCHMARK] = bench.reindex(frame.index)
    frame["drawdown"] = m.drawdown_series(outcomes[main].equity)
    frame["exposure"] = outcomes[main].exposure
    frame.index.name = "date"
    return frame


def data_record(loads: Mapping[str, PriceLoad]) -> dict[str, Any]:
    """Which source served each symbol, the range it covered and a fingerprint of the bars used."""
    return {
        symbol: {
            "source": load.source,
            "first": load.first,
            "last": load.last,
            "bars": len(load.frame),
            "fetched_at": load.fetched_at,
            "fully_covered": load.fully_covered,
            "notes": list(load.notes),
            "sha256": fingerprint_frame(load.frame),
        }
        for symbol, load in loads.items()
    }


def summary_lines(cfg: RunConfig, main: str, table: Mapping[str, Mapping[str, float]], loads: Mapping[str, PriceLoad]) -> list[str]:
    """The few lines at the top of a report and of the terminal summary."""
    s = table[main]
    lines = [
        f"strategy {main} on {', '.join(cfg.run.symbols)}; data: "
        + "; ".join(f"{k} from {v.source} {v.first}..{v.last}" for k, v in loads.items()),
        f"costs: commission {cfg.costs.commission_bps:g} bps, slippage {cfg.costs.slippage_bps:g} bps; "
        f"orders fill at the next bar's open; starting cash {cfg.run.cash:,.0f}",
        f"total return {s['total_return'] * 100:.2f}% vs benchmark {table[BENCHMARK]['total_return'] * 100:.2f}%; "
        f"Sharpe {fmt_value('sharpe', s['sharpe'])} vs {fmt_value('sharpe', table[BENCHMARK]['sharpe'])}; "
        f"max drawdown {s['max_drawdown'] * 100:.2f}%",
    ]
    lines.extend(f"{k}: {note}" for k, v in loads.items() for note in v.notes)
    return lines


def write_run_outputs(folder: RunFolder, record: RunRecord) -> dict[str, Any]:
    """Write every file of the run folder and commit it under its run id; returns the content of metrics.json.

    Until the last file is written the folder is a hidden partial one; an interruption (Ctrl-C) or an error removes
    it, so no half-written run is ever listed.
    """
    try:
        doc = _write_files(folder, record)
        folder.commit()
    except BaseException:
        folder.discard()
        raise
    return doc


def _write_files(folder: RunFolder, record: RunRecord) -> dict[str, Any]:
    cfg, main, outcomes, bench, produced = record.cfg, record.spec.name, record.outcomes, record.benchmark, record.produced
    table = all_metrics(outcomes, bench)
    extra = dict(produced.metrics) if produced is not None else {}
    equity_main = outcomes[main].equity
    period = {"start": equity_main.index[0].date().isoformat(), "end": equity_main.index[-1].date().isoformat(),
              "bars": len(equity_main)}
    headline = list(produced.headline) if produced is not None else []
    metrics_doc = {"run_id": folder.run_id, "strategy": main, "period": period, "conventions": CONVENTIONS,
                   "headline": headline, "metrics": table, **extra}
    folder.write_json("metrics.json", metrics_doc)
    folder.write_text("config.toml", record.config_text)
    equity = equity_frame(outcomes, bench, main)
    folder.write_csv("equity.csv", equity)
    trades = outcomes[main].trades
    folder.write_csv("trades.csv", trades.set_index("symbol") if len(trades) else trades)
    fills = outcomes[main].fills  # every fill with its decision bar and its average-cost P&L
    folder.write_csv("fills.csv", fills.set_index("date") if len(fills) else fills)
    rejected = outcomes[main].rejected  # orders the broker cancelled or refused: counted, never dropped
    folder.write_csv("orders_not_filled.csv", rejected.set_index("date") if len(rejected) else rejected)
    if produced is not None:
        folder.write_csv("signals.csv", produced.signals_table)
    run_info = {
        "run_id": folder.run_id,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": sys.argv,
        "strategy": main,
        "baselines": [n for n in outcomes if n != main],
        "data": data_record(record.loads),
        "model_versions": list(produced.model_versions) if produced is not None else [],
        "libraries": dict(record.libraries),
        "timings_s": {k: round(v, 3) for k, v in record.timings.items()},
    }
    if cfg.report.html:
        parts = report_parts(outcomes, bench, main, table, equity)
        if produced is not None:
            parts.extend(produced.report_parts)
        summary = [*(produced.headline if produced is not None else []), *summary_lines(cfg, main, table, record.loads)]
        summary.insert(len(produced.headline) if produced is not None else 0,
                       f"test period {period['start']} .. {period['end']} ({period['bars']} bars)")
        lead = f"<div class='key'>{key_metrics_html(table, main)}{equity_lead(outcomes, bench, main)}</div>"
        page = render_page(f"Backtest {folder.run_id}", summary, parts, lead)
        folder.write_text("report.html", page)
    folder.write_json("run.json", run_info)
    return metrics_doc


def report_parts(
    outcomes: Mapping[str, Outcome],
    bench: pd.Series,
    main: str,
    table: Mapping[str, Mapping[str, float]],
    equity: pd.DataFrame,
) -> list[ReportPart]:
    """The sections every report has: metrics, equity, drawdown, monthly returns, trades."""
    trades = outcomes[main].trades
    monthly = m.monthly_returns(outcomes[main].equity)
    return [
        ReportPart("Metrics", metrics_table(table) + '<p class="note">Sharpe and Sortino annualised with 252 '
                   "periods and a zero risk-free rate; the Deflated Sharpe Ratio counts every configuration in the trial "
                   "ledger on overlapping symbols and periods (N and its source in the summary). Omega, tail ratio, period returns and drawdown statistics follow quantstats' "
                   "definitions; all figures are on the test period.</p>"),
        ReportPart("Drawdown", charts.drawdown_chart({main: equity["drawdown"], BENCHMARK: m.drawdown_series(bench)})),
        *tearsheet_parts(main, outcomes[main].equity, bench),
        ReportPart(f"Monthly returns ({main})", monthly_heatmap(monthly)),
        ReportPart(
            f"Trades ({main}: {len(trades)} round trips)",
            frame_table(trades.set_index("symbol")) if len(trades) else "<p>No trades.</p>",
        ),
    ]


# The figures the summary box shows for the strategy beside each baseline and the benchmark.
KEY_METRICS = ("total_return", "cagr", "sharpe", "sortino", "max_drawdown", "volatility_ann", "trades", "exposure_time")


def key_metrics_html(table: Mapping[str, Mapping[str, float]], main: str) -> str:
    """The summary's table: the key metrics of the strategy against its baselines and the benchmark."""
    order = [main, *(n for n in table if n != main)]
    return metrics_table({n: {k: table[n].get(k, float("nan")) for k in KEY_METRICS} for n in order})


def equity_lead(outcomes: Mapping[str, Outcome], bench: pd.Series, main: str) -> str:
    """The summary's chart: every equity curve, with the strategy's five worst drawdown periods shaded."""
    curves = {name: o.equity for name, o in outcomes.items()}
    curves[BENCHMARK] = bench
    worst = top_drawdowns(outcomes[main].equity)
    shade = list(zip(worst["start"], worst["end"]))
    return charts.equity_chart(curves, f"Equity against buy-and-hold (shaded: {main}'s 5 worst drawdowns)", shade=shade)


def metrics_text(doc: Mapping[str, Any], keys: list[str] | None = None) -> str:
    """A terminal table of metrics.json: one row per metric, one column per strategy and the benchmark."""
    table = doc["metrics"]
    names = list(table)
    rows = keys or list(dict.fromkeys(k for col in table.values() for k in col))
    width = max(len(r) for r in rows) + 2
    colw = max(14, *(len(n) + 2 for n in names))
    out = ["metric".ljust(width) + "".join(n.rjust(colw) for n in names)]
    for key in rows:
        cells = []
        for name in names:
            value = table[name].get(key)
            cells.append(fmt_value(key, float("nan") if value is None else value).rjust(colw))
        out.append(key.ljust(width) + "".join(cells))
    return "\n".join(out)


SUMMARY_KEYS = [
    "total_return", "cagr", "volatility_ann", "sharpe", "sortino", "calmar", "max_drawdown", "max_drawdown_days",
    "win_rate", "profit_factor", "trades", "exposure_time", "turnover_ann", "probabilistic_sharpe",
    "psr_vs_benchmark", "deflated_sharpe",
]
