"""The leakage audit's records and the checks that need no re-training: column comparisons and fill timing.

``backtests.signals.audit`` makes the signal checks (re-running folds); the runner adds the fill checks after the
backtest; the report shows every check with its scope, tolerance and verdict.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

EXACT = 1e-12


@dataclass(frozen=True)
class Check:
    """One audit check: what, over which bars, the largest difference found, the tolerance, and the verdict."""

    check: str
    scope: str
    bars: int
    max_abs_diff: float
    tolerance: float
    passed: bool
    detail: str = ""


@dataclass
class SymbolAudit:
    """Every check made for one symbol, and the GM comparison tables (per audited fold) for the report."""

    checks: list[Check] = field(default_factory=list)
    tables: dict[int, pd.DataFrame] = field(default_factory=dict)
    last_cut: pd.Timestamp | None = None  # the latest cut re-run, where the fills are compared

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c.passed for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "checks": [asdict(c) for c in self.checks]}


def column_gap(full: pd.DataFrame, rerun: pd.DataFrame, columns: Sequence[str]) -> pd.Series:
    """Largest absolute difference per bar over ``columns``; NaN on both sides counts as equal, on one side as
    infinite."""
    a = full.reindex(columns=list(columns)).to_numpy(dtype=float)
    b = rerun.reindex(index=full.index, columns=list(columns)).to_numpy(dtype=float)
    both_nan = np.isnan(a) & np.isnan(b)
    gap = np.where(both_nan, 0.0, np.abs(a - b))
    gap = np.where(np.isnan(gap), np.inf, gap)
    return pd.Series(gap.max(axis=1) if gap.size else np.zeros(len(full)), index=full.index)


def check_gap(name: str, scope: str, gap: pd.Series, tolerance: float, detail: str = "") -> Check:
    worst = float(gap.max()) if len(gap) else 0.0
    return Check(name, scope, len(gap), worst, tolerance, bool(len(gap)) and worst <= tolerance, detail)


def fill_timing_check(fills: pd.DataFrame, frames: Mapping[str, pd.DataFrame], slippage_bps: float,
                      tolerance: float = 1e-9) -> Check:
    """Every fill on a bar after its decision, at that bar's open moved by at most the slippage."""
    if fills.empty:
        return Check("fills", "all fills", 0, 0.0, tolerance, True, "no fills")
    problems = []
    worst = 0.0
    for row in fills.itertuples():
        opened = float(frames[row.symbol].loc[pd.Timestamp(row.date), "open"])
        allowed = opened * slippage_bps / 1e4
        off = max(abs(row.price - opened) - allowed, 0.0) / opened
        worst = max(worst, off)
        if not row.decided < row.date:
            problems.append(f"{row.symbol} {row.side} decided {row.decided} filled {row.date}")
            worst = max(worst, np.inf)
        elif off > tolerance:
            problems.append(f"{row.symbol} {row.side} on {row.date} at {row.price:.4f}, open {opened:.4f}")
    detail = "; ".join(problems[:5]) + (f" (and {len(problems) - 5} more)" if len(problems) > 5 else "")
    return Check("fills", "all fills: filled after the decision bar, at the next open within the slippage",
                 len(fills), worst, tolerance, not problems, detail)


def truncated_fills_check(full: pd.DataFrame, truncated: pd.DataFrame, cut: pd.Timestamp) -> Check:
    """The fills of a re-run on data cut at ``cut`` must equal the full run's fills up to the cut."""
    cols = ["date", "symbol", "side", "size", "price"]
    a = full.loc[pd.to_datetime(full["date"]) <= cut, cols].reset_index(drop=True)
    b = truncated.loc[pd.to_datetime(truncated["date"]) <= cut, cols].reset_index(drop=True)
    same = len(a) == len(b) and a.equals(b)
    return Check("fills", f"re-run cut at {cut.date()}: fills up to the cut", len(a), 0.0 if same else np.inf,
                 0.0, same, "" if same else f"{len(a)} fills in the full run, {len(b)} in the re-run up to the cut")
