"""Where live bars come from: a source answers "the bars between two times", nothing more.

``YahooChartSource`` asks Yahoo's chart API through yfinance (``session=`` points it at a local server in tests).
yfinance reports most failures as an empty frame plus a log line, so an empty answer is a failure here too: the
poller always asks for a window that holds at least the last bar it delivered.
"""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Protocol

import pandas as pd

from feeds.validate import PRICE_COLUMNS
from feeds.yahoo import forget_responses, yahoo_history
from ground.errors import SourceUnavailableError

logger = logging.getLogger(__name__)


class BarSource(Protocol):
    """Raw bars of one symbol whose START lies in [start, end): a UTC-indexed frame of open..volume."""

    symbol: str
    name: str

    def fetch(self, start: datetime, end: datetime) -> pd.DataFrame:
        """Raise ``SourceUnavailableError`` (with the reason) when the source cannot answer."""


class YahooChartSource:
    """Yahoo Finance chart data (split- and dividend-adjusted) at one interval."""

    name = "yahoo"

    def __init__(self, symbol: str, interval: str, *, session: Any = None, timeout: float = 10.0) -> None:
        self.symbol = symbol.upper()
        self.interval = interval
        self._session = session
        self._timeout = timeout

    def fetch(self, start: datetime, end: datetime) -> pd.DataFrame:
        forget_responses()  # yfinance caches whole answers in-process; a poll must ask again
        raw, reason = yahoo_history(self.symbol, start, end, self._session, self._timeout, interval=self.interval)
        if raw is None or raw.empty:
            raise SourceUnavailableError(f"{self.symbol}: Yahoo Finance gave no bars ({reason})", where="yfinance",
                                         fix="the feed retries with backoff; check the network or the symbol")
        frame = raw.rename(columns=str.lower)
        missing = [c for c in PRICE_COLUMNS if c not in frame.columns]
        if missing or not isinstance(frame.index, pd.DatetimeIndex):
            raise SourceUnavailableError(f"{self.symbol}: malformed chart answer (missing {missing or 'dates'})",
                                         where="yfinance", fix="the feed retries with backoff")
        index = frame.index if frame.index.tz is not None else frame.index.tz_localize("UTC")
        out = frame[list(PRICE_COLUMNS)].copy()
        out.index = index.tz_convert("UTC")
        return out
