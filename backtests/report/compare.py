"""Comparison of runs: metrics side by side, equity curves overlaid, model versions and differing config keys."""
from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from backtests.report import charts
from backtests.report.folder import load_json
from backtests.report.html import ReportPart, frame_table, metrics_table, render_page
from ground.errors import UserInputError


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


def load_run(path: Path) -> LoadedRun:
    """Read one run folder (metrics.json, run.json, config.toml, equity.csv) with clear errors for damage."""
    doc = load_json(path / "metrics.json")
    info = load_json(path / "run.json")
    try:
        config = tomllib.loads((path / "config.toml").read_text(encoding="utf-8"))
        equity_frame = pd.read_csv(path / "equity.csv", index_col="date", parse_dates=["date"])
    except (OSError, tomllib.TOMLDecodeError, ValueError) as exc:
        raise UserInputError(f"cannot read run folder: {exc}", str(path)) from None
    strategy = doc["strategy"]
    return LoadedRun(
        run_id=doc["run_id"], path=path, strategy=strategy, metrics=doc["metrics"][strategy],
        equity=equity_frame[strategy], config=config, model_versions=tuple(info.get("model_versions", [])),
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
    """Config keys whose values differ between the runs (one column per run)."""
    flat = [flatten(r.config) for r in runs]
    keys = sorted(set().union(*flat))
    rows = {k: [str(f.get(k, "-")) for f in flat] for k in keys if len({str(f.get(k, "-")) for f in flat}) > 1}
    frame = pd.DataFrame.from_dict(rows, orient="index", columns=[r.run_id for r in runs])
    frame.index.name = "config key"
    return frame



def compare_html(runs: Sequence[LoadedRun]) -> str:
    """The comparison page: metrics, overlaid equity (each rebased to 1), model versions, config differences."""
    curves = {r.run_id: r.equity / r.equity.iloc[0] for r in runs}
    versions = pd.DataFrame(
        {"model versions": [", ".join(r.model_versions) or "(none)" for r in runs]}, index=[r.run_id for r in runs]
    )
    versions.index.name = "run"
    diffs = config_differences(runs)
    parts = [
        ReportPart("Metrics", metrics_table({r.run_id: r.metrics for r in runs})),
        ReportPart("Equity (rebased to 1)", charts.equity_chart(curves, "Equity, rebased")),
        ReportPart("Model versions", frame_table(versions)),
        ReportPart("Config keys that differ", frame_table(diffs) if len(diffs) else "<p>None: same configuration.</p>"),
    ]
    summary = [f"{r.run_id}: strategy {r.strategy}, {r.path}" for r in runs]
    return render_page("Run comparison", summary, parts)
