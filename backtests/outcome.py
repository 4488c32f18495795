"""The result of running one strategy: the shared shape that the runner fills and the reports read."""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class Outcome:
    """What one strategy did over the run: equity, exposure, fills, round trips and their metrics."""

    name: str
    equity: pd.Series
    exposure: pd.Series
    fills: pd.DataFrame
    trades: pd.DataFrame
    metrics: dict[str, float]
