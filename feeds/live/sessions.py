"""The exchange's trading sessions and the bar slots inside them, from ``exchange_calendars`` (no hand-written
holidays).

A slot is one bar the exchange can produce: for ``1d`` one per session (open to close, early closes included),
for intraday intervals one per ``interval`` from the open, the last one cut at the close. A slot's ``label`` is
the time a backtrader bar carries: the session date (midnight) for daily bars, the slot's END in exchange-local
wall time for intraday bars, so that a bar's label is the moment its close is known, as for daily bars.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from ground.errors import UserInputError

INTERVALS: dict[str, timedelta] = {
    "1m": timedelta(minutes=1),
    "2m": timedelta(minutes=2),
    "5m": timedelta(minutes=5),
    "15m": timedelta(minutes=15),
    "30m": timedelta(minutes=30),
    "60m": timedelta(minutes=60),
    "1d": timedelta(days=1),
}


@dataclass(frozen=True)
class Slot:
    """One bar the exchange can produce: its label (naive exchange-local) and its span in UTC."""

    label: pd.Timestamp
    start: pd.Timestamp
    end: pd.Timestamp


def _calendar(exchange: str) -> Any:
    import exchange_calendars as xcals

    try:
        with warnings.catch_warnings():
            # exchange_calendars 4.x reads Series.values on tz-aware columns; pandas 3.1 deprecates that.
            warnings.filterwarnings("ignore", message="Series.values returning an ndarray",
                                    category=getattr(pd.errors, "Pandas4Warning", FutureWarning))
            return xcals.get_calendar(exchange)
    except xcals.errors.InvalidCalendarName:
        raise UserInputError(f"unknown exchange calendar {exchange!r}", where="--exchange",
                             fix="use an exchange_calendars code such as XNYS, XNAS, XLON or XHKG") from None


class ExchangeSessions:
    """Bar slots of one exchange at one interval."""

    def __init__(self, exchange: str = "XNYS", interval: str = "1d") -> None:
        if interval not in INTERVALS:
            raise UserInputError(f"unknown bar interval {interval!r}", where="--interval",
                                 fix=f"choose one of {', '.join(INTERVALS)}")
        self.exchange = exchange
        self.interval = interval
        self.step = pd.Timedelta(INTERVALS[interval])
        self._cal = _calendar(exchange)
        self.tz = str(self._cal.tz)

    @property
    def daily(self) -> bool:
        return self.interval == "1d"

    def _sessions(self, start: pd.Timestamp, end: pd.Timestamp) -> pd.DatetimeIndex:
        first, last = self._cal.first_session, self._cal.last_session
        lo = max(first, (start.tz_convert(self.tz).tz_localize(None) - pd.Timedelta(days=1)).normalize())
        hi = min(last, (end.tz_convert(self.tz).tz_localize(None) + pd.Timedelta(days=1)).normalize())
        if lo > hi:
            return pd.DatetimeIndex([])
        return self._cal.sessions_in_range(lo, hi)

    def session_slots(self, session: pd.Timestamp) -> list[Slot]:
        """The slots of one session, in order."""
        opens, closes = self._cal.session_open(session), self._cal.session_close(session)
        if self.daily:
            return [Slot(pd.Timestamp(session).normalize(), opens, closes)]
        starts = pd.date_range(opens, closes, freq=self.step, inclusive="left")
        return [Slot(self._local(min(s + self.step, closes)), s, min(s + self.step, closes)) for s in starts]

    def slots_ending(self, after: datetime, until: datetime) -> list[Slot]:
        """Slots whose end lies in (after, until], in order."""
        lo, hi = _utc(after), _utc(until)
        out: list[Slot] = []
        for session in self._sessions(lo, hi):
            out.extend(s for s in self.session_slots(session) if lo < s.end <= hi)
        return out

    def next_slot_end(self, after: datetime) -> pd.Timestamp:
        """When the first slot that ends after ``after`` ends (looks up to two weeks ahead, past any holidays)."""
        lo = _utc(after)
        for days in (4, 15):
            slots = self.slots_ending(lo, lo + pd.Timedelta(days=days))
            if slots:
                return slots[0].end
        raise UserInputError(f"{self.exchange} has no session in the two weeks after {lo}", where="exchange calendar",
                             fix="check the exchange code, or update exchange_calendars")

    def slot_of(self, label: pd.Timestamp) -> Slot | None:
        """The slot with this label, or None when the exchange had no such bar (holiday, outside hours)."""
        label = pd.Timestamp(label)
        day = label.normalize()
        if not self._cal.is_session(day):
            return None
        return next((s for s in self.session_slots(day) if s.label == label), None)

    def label_for_start(self, start: pd.Timestamp) -> pd.Timestamp:
        """The label of the bar that a source stamps with ``start`` (Yahoo stamps a bar with its start)."""
        start = _utc(start)
        if self.daily:
            return start.tz_convert(self.tz).tz_localize(None).normalize()
        return self._local(start + self.step)

    def _local(self, ts: pd.Timestamp) -> pd.Timestamp:
        return ts.tz_convert(self.tz).tz_localize(None)


def _utc(value: datetime | pd.Timestamp) -> pd.Timestamp:
    ts = pd.Timestamp(value)
    if ts.tzinfo is None:
        raise ValueError(f"times must be timezone-aware, got naive {ts}")
    return ts.tz_convert("UTC")
