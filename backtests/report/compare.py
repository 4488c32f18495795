"""Comparison of runs: what changed between them. Metrics side by side with differences, warnings when the runs
are not like for like (period, symbols, costs, data sources), model versions and config keys that differ."""
from __future__ import annotations

import math
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from backtests.report import charts
from backtests.report.folder import load_json
from backtests.report.html import ReportPart, fmt_value, frame_table, render_page
from ground.errors import UserInputError

# Metrics a person reads first; the rest follow in the order the first run lists them.
HEADLINE = ("total_return", "cagr", "sharpe", "sortino", "max_drawdown", "volatility_ann", "calmar", "trades")


@dataclass(frozen=True)
class LoadedRun:
    """The parts of a run folder a comparison needs."""

    run_id: str
    path: Path
    strategy: str
    metrics: dict[str, float]
    equity: pd.Series
    config: dict[str, Any]
    model_versions: tuple[str, ...]
    sources: dict[str, str]

    @property
    def period(self) -> str:
        return f"{self.equity.index[0].date()}..{self.equity.index[-1].date()}" if len(self.equity) else "-"

    @property
    def symbols(self) -> str:
        return ",".join(self.config.get("run", {}).get("symbols", [])) or "-"

    @property
    def costs(self) -> str:
        costs = self.config.get("costs", {})
        return ", ".join(f"{k} {v}" for k, v in sorted(costs.items())) or "-"


def load_run(path: Path) -> LoadedRun:
    """Read one run folder (metrics.json, run.json, config.toml, equity.csv) with clear errors for damage."""
    doc = load_json(path / "metrics.json")
    info = load_json(path / "run.json")
    try:
        config = tomllib.loads((path / "config.toml").read_text(encoding="utf-8"))
        equity_frame = pd.read_csv(path / "equity.csv", index_col="date", parse_dates=["date"])
        strategy = doc["strategy"]
        metrics, equity = doc["metrics"][strategy], equity_frame[strategy]
    except (OSError, tomllib.TOMLDecodeError, ValueError, KeyError) as exc:
        raise UserInputError(f"cannot read run folder: {exc}", str(path)) from None
    sources = {s: str(d.get("source", "-")) for s, d in (info.get("data") or {}).items() if isinstance(d, dict)}
    return LoadedRun(
        run_id=doc.get("run_id", path.name), path=path, strategy=strategy, metrics=metrics, equity=equity,
        config=config, model_versions=tuple(info.get("model_versions", [])), sources=sources,
    )


def flatten(mapping: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"run": {"cash": 1}}`` -> ``{"run.cash": 1}``."""
    out: dict[str, Any] = {}
    for key, value in mapping.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def config_differences(runs: Sequence[LoadedRun]) -> pd.DataFrame:
    """Config keys whose values differ between the runs (one column per run; "-" where a run lacks the key)."""
    flat = [flatten(r.config) for r in runs]
    keys = sorted(set().union(*flat))
    rows = {k: [str(f.get(k, "-")) for f in flat] for k in keys if len({str(f.get(k, "-")) for f in flat}) > 1}
    frame = pd.DataFrame.from_dict(rows, orient="index", columns=[r.run_id for r in runs])
    frame.index.name = "config key"
    return frame


def comparability_warnings(runs: Sequence[LoadedRun]) -> list[str]:
    """One line for each way the runs are not like for like; empty when they are."""
    checks = {
        "periods": [r.period for r in runs],
        "symbols": [r.symbols for r in runs],
        "costs": [r.costs for r in runs],
        "data sources": [", ".join(f"{k} {v}" for k, v in sorted(r.sources.items())) or "-" for r in runs],
    }
    return [
        f"warning: {what} differ: " + "; ".join(f"{r.run_id} {v}" for r, v in zip(runs, values))
        for what, values in checks.items() if len(set(values)) > 1
    ]


def model_version_differences(runs: Sequence[LoadedRun]) -> list[str]:
    """Per run, the model versions only it used (all of them when no run shares any)."""
    common = set(runs[0].model_versions).intersection(*(r.model_versions for r in runs[1:]))
    lines = []
    for r in runs:
        own = [v for v in r.model_versions if v not in common]
        lines.append(f"{r.run_id}: {', '.join(own) if own else ('(none)' if not r.model_versions else 'shared only')}")
    if common:
        lines.append(f"shared by all: {', '.join(sorted(common))}")
    return lines


def _number(value: object) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else math.nan


def metric_frame(runs: Sequence[LoadedRun]) -> pd.DataFrame:
    """One row per metric: each run's value, then ``Δ <run>`` = that run minus the first."""
    names = [k for k in HEADLINE if any(k in r.metrics for r in runs)]
    for r in runs:
        names.extend(k for k in r.metrics if k not in names)
    data: dict[str, list[float]] = {r.run_id: [_number(r.metrics.get(k)) for k in names] for r in runs}
    first = runs[0].run_id
    for r in runs[1:]:
        data[f"Δ {r.run_id}"] = [b - a for a, b in zip(data[first], data[r.run_id])]
    frame = pd.DataFrame(data, index=names)
    frame.index.name = "metric"
    return frame


def _cell(metric: str, value: float, delta: bool) -> str:
    text = fmt_value(metric, value)
    if delta and not math.isnan(value) and text != "-" and not text.startswith("-"):
        text = "+" + text
    return text


def compare_text(runs: Sequence[LoadedRun]) -> str:
    """The terminal form: warnings first, then metrics with differences, model versions and config differences."""
    frame = metric_frame(runs)
    width = max(len(str(i)) for i in frame.index) + 2
    colw = max(12, *(len(c) + 2 for c in frame.columns))
    lines = comparability_warnings(runs)
    lines += [f"{r.run_id}: strategy {r.strategy}, {r.period}, {r.symbols}" for r in runs]
    lines.append("")
    lines.append("metric".ljust(width) + "".join(c.rjust(colw) for c in frame.columns))
    for metric, row in frame.iterrows():
        cells = [_cell(str(metric), float(v), str(c).startswith("Δ")).rjust(colw) for c, v in row.items()]
        lines.append(str(metric).ljust(width) + "".join(cells))
    diffs = config_differences(runs)
    lines.append("")
    lines.append("config keys that differ:" if len(diffs) else "config: identical")
    if len(diffs):
        lines.append(diffs.to_string())
    lines.append("")
    lines.append("model versions:")
    lines.extend(f"  {line}" for line in model_version_differences(runs))
    return "\n".join(lines)


def _metric_html(frame: pd.DataFrame) -> str:
    import html as _html

    head = "".join(f"<th>{_html.escape(str(c))}</th>" for c in frame.columns)
    rows = []
    for metric, row in frame.iterrows():
        cells = "".join(f"<td>{_html.escape(_cell(str(metric), float(v), str(c).startswith('Δ')))}</td>"
                        for c, v in row.items())
        rows.append(f"<tr><td>{_html.escape(str(metric))}</td>{cells}</tr>")
    return f"<table><tr><th>metric</th>{head}</tr>{''.join(rows)}</table>"


def compare_html(runs: Sequence[LoadedRun]) -> str:
    """The comparison page: warnings, metrics with differences, overlaid equity, model versions, config diffs."""
    curves = {r.run_id: r.equity / r.equity.iloc[0] for r in runs}
    colours = charts.run_colours([(r.run_id, r.strategy) for r in runs])
    versions = pd.DataFrame({"model versions": model_version_differences(runs)[: len(runs)]},
                            index=[r.run_id for r in runs])
    versions.index.name = "run"
    diffs = config_differences(runs)
    parts = [
        ReportPart("Metrics (Δ: difference from the first run)", _metric_html(metric_frame(runs))),
        ReportPart("Equity (rebased to 1)", charts.equity_chart(curves, "Equity, rebased", colours=colours)),
        ReportPart("Model versions", frame_table(versions)),
        ReportPart("Config keys that differ", frame_table(diffs) if len(diffs) else "<p>None: same configuration.</p>"),
    ]
    summary = [*comparability_warnings(runs),
               *(f"{r.run_id}: strategy {r.strategy}, {r.period}, {r.symbols}, {r.path}" for r in runs)]
    return render_page("Run comparison", summary, parts)


def run_rows(folders: Sequence[Path]) -> list[list[str]]:
    """``bt-report list`` rows: a header, then per run its id, strategy, period and headline metrics."""
    rows = [["RUN", "STRATEGY", "PERIOD", "RETURN", "SHARPE", "MAX DD", "TRADES"]]
    for path in folders:
        try:
            run = load_run(path)
        except UserInputError:
            rows.append([path.name, "(damaged)", "-", "-", "-", "-", "-"])
            continue
        mt = run.metrics
        rows.append([
            run.run_id, run.strategy, run.period, fmt_value("total_return", _number(mt.get("total_return"))),
            fmt_value("sharpe", _number(mt.get("sharpe"))), fmt_value("max_drawdown", _number(mt.get("max_drawdown"))),
            fmt_value("trades", _number(mt.get("trades"))),
        ])
    return rows
