"""A bar source over an in-memory table of bars, answering as Yahoo does (bars stamped with their start), with
switches for the bad conditions the live feed must survive."""
from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd

from feeds.live.sessions import ExchangeSessions
from feeds.validate import PRICE_COLUMNS
from ground.errors import SourceUnavailableError


def daily_bars(sessions: ExchangeSessions, first: str, last: str, seed: int = 0) -> pd.DataFrame:
    """Random-walk OHLCV bars for every session in [first, last], indexed by Yahoo's stamp (UTC midnight-local)."""
    days = pd.DatetimeIndex([s.label for s in sessions.slots_ending(
        pd.Timestamp(first, tz="UTC"), pd.Timestamp(last, tz="UTC") + pd.Timedelta(days=1))])
    return _walk(days.tz_localize(sessions.tz).tz_convert("UTC"), seed)


def intraday_bars(sessions: ExchangeSessions, first: str, last: str, seed: int = 0) -> pd.DataFrame:
    slots = sessions.slots_ending(pd.Timestamp(first, tz="UTC"), pd.Timestamp(last, tz="UTC"))
    return _walk(pd.DatetimeIndex([s.start for s in slots]), seed)


def _walk(index: pd.DatetimeIndex, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, len(index))))
    open_ = close * (1 + rng.normal(0, 0.002, len(index)))
    high = np.maximum(open_, close) * 1.005
    low = np.minimum(open_, close) * 0.995
    vol = rng.integers(1_000, 10_000, len(index)).astype(float)
    return pd.DataFrame({"open": open_, "high": high, "low": low, "close": close, "volume": vol}, index=index)


class TableSource:
    """Answers [start, end) from ``table``; ``down`` fails every fetch, ``answers`` overrides the next ones."""

    name = "table"

    def __init__(self, symbol: str, table: pd.DataFrame) -> None:
        self.symbol = symbol
        self.table = table
        self.down = False
        self.answers: list[pd.DataFrame | Exception] = []
        self.calls: list[tuple[datetime, datetime]] = []

    def fetch(self, start: datetime, end: datetime) -> pd.DataFrame:
        self.calls.append((start, end))
        if self.answers:
            answer = self.answers.pop(0)
            if isinstance(answer, Exception):
                raise answer
            return answer
        if self.down:
            raise SourceUnavailableError(f"{self.symbol}: connection refused", where="table")
        part = self.table[(self.table.index >= pd.Timestamp(start)) & (self.table.index < pd.Timestamp(end))]
        if part.empty:
            raise SourceUnavailableError(f"{self.symbol}: empty answer", where="table")
        return part[list(PRICE_COLUMNS)].copy()
