"""The typed records a run passes between its steps: what one strategy did, what the signal producer made, and the
whole run as the report writer receives it."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from backtests.presets.config import RunConfig
from backtests.report.audit_checks import SymbolAudit
from backtests.report.html import ReportPart
from feeds.prices import PriceLoad
from strategies.registry import StrategySpec


@dataclass(frozen=True)
class Outcome:
    """What one strategy did over the run: equity, exposure, fills (with P&L attribution), round trips (flat to
    flat or a side flip), their metrics, and the orders the broker cancelled or rejected."""

    name: str
    equity: pd.Series
    exposure: pd.Series
    fills: pd.DataFrame
    trades: pd.DataFrame
    metrics: dict[str, float]
    rejected: pd.DataFrame = field(default_factory=pd.DataFrame)


@dataclass(frozen=True)
class ProducedSignals:
    """Signal lines per symbol plus what the report and run.json need to explain them.

    ``audits`` holds each symbol's leakage audit (signal checks; the runner adds the fill checks and the report
    section). ``headline`` holds the lines that belong at the top of the report and of the terminal summary (verdicts and
    caveats such as "no news in the archive"); ``timings`` holds the producer's own steps (GM training, news
    scoring, the leakage audit) in seconds.
    """

    signals: dict[str, pd.DataFrame]
    signals_table: pd.DataFrame
    report_parts: list[ReportPart] = field(default_factory=list)
    model_versions: list[str] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    headline: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    audits: dict[str, SymbolAudit] = field(default_factory=dict)


@dataclass(frozen=True)
class RunRecord:
    """Everything the run folder is written from."""

    run_id: str
    cfg: RunConfig
    config_text: str
    spec: StrategySpec
    outcomes: Mapping[str, Outcome]
    benchmark: pd.Series
    loads: Mapping[str, PriceLoad]
    produced: ProducedSignals | None
    timings: Mapping[str, float]
    libraries: Mapping[str, str]
