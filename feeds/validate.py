"""The one gate every price source passes: a raw OHLCV table in, the project's price frame out.

The price frame (see DESIGN.md) has a tz-naive ``DatetimeIndex`` named ``date``, float columns
``open, high, low, close, volume``, strictly increasing dates and no missing close. Sources only rename
columns and parse dates; every rule about what a valid bar is lives here, so that a CSV, a Yahoo answer,
a bundled data set and a cache file are held to the same standard. All checks are vectorised because the
validator runs on every load, including 50,000-bar benchmark frames.

Rows are named in errors by their 1-based position in the frame handed in. Sources pass rows in their
file order, so for a file that is the data row number (the header not counted).

Hostile or broken values are refused, never passed on: non-finite numbers (inf), absurd magnitudes
(MAX_PRICE, MAX_VOLUME: a close of 1e308 would overflow every return and metric downstream), bars dated
after today, and one-day close moves past JUMP_THRESHOLD (almost always a split the source did not adjust
for) unless the caller accepts them (``jumps="accept"``); accepted moves are logged and can be listed with
``find_jumps`` so that a run records them.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any, Literal

import numpy as np
import pandas as pd

from ground.errors import DataError

logger = logging.getLogger(__name__)

PRICE_COLUMNS = ("open", "high", "low", "close", "volume")
#: A one-day close move larger than this fraction is refused as a likely unadjusted split (unless accepted).
JUMP_THRESHOLD = 0.5
#: Prices above this are refused as absurd (the dearest listed share trades below 1e6).
MAX_PRICE = 1e9
#: Volumes above this are refused as absurd (a busy day on a large stock is about 1e9 shares).
MAX_VOLUME = 1e15
#: A bar may be dated at most this far past today's UTC date (exchanges east of UTC are a day ahead).
FUTURE_SLACK = timedelta(days=1)

JumpPolicy = Literal["refuse", "accept", "skip"]
#: Relative slack for the OHLC consistency rule: sources round prices to a few decimals, and adjusting
#: by a dividend ratio can move a high that equals the close by one unit in the last place.
OHLC_RTOL = 1e-6

_FIX_ROW = "correct or remove the row in the source data"


@dataclass(frozen=True)
class PriceJump:
    """A one-day close move past JUMP_THRESHOLD: the bar's date and the move as a fraction (-0.9 = -90%)."""

    date: date
    move: float

    def __str__(self) -> str:
        return f"{self.date.isoformat()} ({self.move:+.0%})"


class PriceJumpError(DataError):
    """One-day close moves past the threshold that the caller did not accept; ``jumps`` lists them."""

    def __init__(self, symbol: str, origin: str, jumps: tuple[PriceJump, ...]) -> None:
        self.jumps = jumps
        days = ", ".join(map(str, jumps[:5])) + (f" and {len(jumps) - 5} more" if len(jumps) > 5 else "")
        super().__init__(
            f"{symbol}: close moved more than {JUMP_THRESHOLD:.0%} in one day on {days} - breaks rule "
            "'no one-day move past the jump threshold' (likely an unadjusted split)",
            where=f"{origin}, {jumps[0].date.isoformat()}",
            fix="use split-adjusted prices, or accept the move if it is real (accept_jumps=True / --accept-jumps)",
        )


def find_jumps(frame: pd.DataFrame, threshold: float = JUMP_THRESHOLD) -> tuple[PriceJump, ...]:
    """The one-day close moves larger than ``threshold`` in a validated price frame, oldest first."""
    close = frame["close"].to_numpy(dtype="float64")
    if len(close) < 2:
        return ()
    move = close[1:] / close[:-1] - 1.0
    hits = np.flatnonzero(np.abs(move) > threshold)
    return tuple(PriceJump(frame.index[j + 1].date(), float(move[j])) for j in hits)


def validate_prices(
    df: pd.DataFrame, *, symbol: str, origin: str, jumps: JumpPolicy = "refuse", today: date | None = None
) -> pd.DataFrame:
    """Check ``df`` against the price-frame contract and return a clean copy (the input is not changed).

    Repairs only what is unambiguous: unsorted rows are sorted; identical duplicate rows on a weekend
    date are collapsed, and weekend rows that copy the last weekday bar before them (some exports repeat
    Friday over Saturday and Sunday) are dropped, both logged. A missing volume becomes 0.0, the usual
    meaning of "not reported" (indices), since volume never enters prices or fills. Missing open, high or
    low are an error rather than filled from the close: a made-up flat bar would change next-open fills.
    Everything else that breaks a rule raises ``DataError`` naming symbol, origin, row and rule.

    ``jumps``: "refuse" raises PriceJumpError for a one-day move past JUMP_THRESHOLD; "accept" logs it
    and goes on (list it with ``find_jumps``); "skip" does not look, for data this function passed before,
    such as a cache file written from its output. ``today`` (default: the UTC date now) bounds the dates.
    """
    missing = [c for c in PRICE_COLUMNS if c not in df.columns]
    if missing:
        raise DataError(
            f"{symbol}: missing price column(s) {', '.join(missing)} (found: {', '.join(map(str, df.columns))})",
            where=origin,
            fix="provide columns date, open, high, low, close, volume",
        )
    if len(df) == 0:
        raise DataError(f"{symbol}: no price rows", where=origin, fix="check the source holds bars for this symbol")

    index = _naive_index(df, symbol, origin)
    values = np.column_stack([to_float(df[c], column=c, symbol=symbol, origin=origin) for c in PRICE_COLUMNS])
    pos = np.arange(len(df))  # input row of each bar, kept through sorting and dropping for messages

    if not index.is_monotonic_increasing:
        order = np.argsort(index.values, kind="stable")
        index, values, pos = index[order], values[order], pos[order]
        logger.info("%s: sorted %d rows by date (%s)", symbol, len(pos), origin)

    index, values, pos = _drop_weekend_duplicates(index, values, pos, symbol, origin)
    index, values, pos = _drop_weekend_copies(index, values, pos, symbol, origin)
    _check_future(index, pos, symbol, origin, today or datetime.now(timezone.utc).date())
    _check_bars(index, values, pos, symbol, origin)

    volume = values[:, 4]
    if np.isnan(volume).any():
        logger.info("%s: %d rows without volume set to 0 (%s)", symbol, int(np.isnan(volume).sum()), origin)
        values[:, 4] = np.nan_to_num(volume, nan=0.0)
    out = pd.DataFrame(values, index=pd.DatetimeIndex(index.as_unit("ns"), name="date"), columns=list(PRICE_COLUMNS))
    if jumps != "skip":
        found = find_jumps(out)
        if found and jumps == "refuse":
            raise PriceJumpError(symbol, origin, found)
        if found:
            logger.warning("%s: accepted %d one-day close move(s) past %.0f%%: %s (%s)", symbol, len(found),
                           JUMP_THRESHOLD * 100, ", ".join(map(str, found)), origin)
    return out


def to_float(series: pd.Series, *, column: str, symbol: str, origin: str) -> np.ndarray:
    """A column as float64; a cell that is present but not a number is a ``DataError`` naming its row."""
    if pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype):
        out: np.ndarray = series.to_numpy(dtype="float64", na_value=np.nan, copy=True)
        return out
    numbers = pd.to_numeric(series, errors="coerce")
    bad = numbers.isna().to_numpy() & series.notna().to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{symbol}: {column} value {series.iloc[i]!r} is not a number - breaks rule 'prices are numbers'",
            where=f"{origin}, row {i + 1}",
            fix=_FIX_ROW,
        )
    values: np.ndarray = numbers.to_numpy(dtype="float64", na_value=np.nan)
    return values


def _naive_index(df: pd.DataFrame, symbol: str, origin: str) -> pd.DatetimeIndex:
    """The dates (the index, or a ``date`` column when the index holds none) as a tz-naive
    DatetimeIndex in local wall time, the exchange's trading day."""
    index = df.index
    if not isinstance(index, pd.DatetimeIndex):
        dates = df["date"] if "date" in df.columns else index
        if pd.api.types.is_numeric_dtype(dates.dtype) or pd.api.types.is_bool_dtype(dates.dtype):
            raise DataError(f"{symbol}: no dates (the index holds {dates.dtype} values)", where=origin,
                            fix="index the frame by date or give it a date column")
        try:
            index = pd.DatetimeIndex(pd.to_datetime(dates, format="ISO8601"))
        except (TypeError, ValueError) as exc:
            raise DataError(f"{symbol}: dates are not readable ({exc})", where=origin,
                            fix="write dates as YYYY-MM-DD") from exc
    if index.tz is not None:
        index = index.tz_localize(None)
    nat = index.isna()
    if nat.any():
        i = int(np.flatnonzero(nat)[0])
        raise DataError(
            f"{symbol}: missing date - breaks rule 'every bar has a date'", where=f"{origin}, row {i + 1}", fix=_FIX_ROW
        )
    return index


def _drop_weekend_duplicates(
    index: pd.DatetimeIndex, values: np.ndarray, pos: np.ndarray, symbol: str, origin: str
) -> tuple[pd.DatetimeIndex, np.ndarray, np.ndarray]:
    """Collapse identical same-date copies on weekends; any other repeated date is an error."""
    extra = index.duplicated(keep="first")
    if not extra.any():
        return index, values, pos
    # After the stable sort a repeated date sits right after its first copy, so compare with the row above.
    same_as_prev = np.zeros(len(index), dtype=bool)
    same_as_prev[1:] = (values[1:] == values[:-1]).all(axis=1)
    weekend = index.day_of_week.to_numpy() >= 5
    bad = extra & ~(same_as_prev & weekend)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        first = pos[index.searchsorted(index[i], side="left")]  # sorted, so the first copy comes first
        raise DataError(
            f"{symbol}: date {_fmt(index[i])} appears more than once (also row {first + 1})"
            f"{_more(int(bad.sum()))} - breaks rule 'dates are unique'",
            where=f"{origin}, row {pos[i] + 1} ({_fmt(index[i])})",
            fix="keep one row per date",
        )
    logger.info("%s: dropped %d identical duplicate weekend rows (%s)", symbol, int(extra.sum()), origin)
    keep = ~extra
    return index[keep], values[keep], pos[keep]


def _drop_weekend_copies(
    index: pd.DatetimeIndex, values: np.ndarray, pos: np.ndarray, symbol: str, origin: str
) -> tuple[pd.DatetimeIndex, np.ndarray, np.ndarray]:
    """Drop Saturday/Sunday rows whose five values copy the last weekday bar of the same week.

    That bar is normally the Friday; when the Friday was a holiday it is the Thursday the export copied.
    Weekend rows with their own values (crypto, some FX feeds) are real bars and stay.
    """
    weekday = index.day_of_week.to_numpy() < 5
    if weekday.all():
        return index, values, pos
    n = len(index)
    last_weekday = np.maximum.accumulate(np.where(weekday, np.arange(n), -1))
    rows = np.flatnonzero(~weekday & (last_weekday >= 0))
    ref = last_weekday[rows]
    copies = (values[rows] == values[ref]).all(axis=1)
    copies &= (index[rows] - index[ref]) < pd.Timedelta(days=7)
    if not copies.any():
        return index, values, pos
    keep = np.ones(n, dtype=bool)
    keep[rows[copies]] = False
    logger.info("%s: dropped %d weekend rows that copy the previous weekday bar (%s)", symbol, int(copies.sum()), origin)
    return index[keep], values[keep], pos[keep]


def _check_future(index: pd.DatetimeIndex, pos: np.ndarray, symbol: str, origin: str, today: date) -> None:
    """No bar dated after today (plus FUTURE_SLACK): such a row is a typo or a hostile file, never a price."""
    late = index >= pd.Timestamp(today + FUTURE_SLACK + timedelta(days=1))
    if late.any():
        i = int(np.flatnonzero(late)[0])
        raise DataError(
            f"{symbol}: date {_fmt(index[i])} is in the future (today is {today.isoformat()})"
            f"{_more(int(late.sum()))} - breaks rule 'no bars dated after today'",
            where=f"{origin}, row {pos[i] + 1} ({_fmt(index[i])})",
            fix=_FIX_ROW,
        )


def _check_bars(index: pd.DatetimeIndex, values: np.ndarray, pos: np.ndarray, symbol: str, origin: str) -> None:
    """Each bar: finite, not absurd, positive close, present and positive open/high/low, a range that holds
    open and close."""
    o, h, low, c, v = values.T
    with np.errstate(invalid="ignore"):
        rules: tuple[tuple[Any, str, Callable[[int], str]], ...] = (
            (
                np.isinf(values).any(axis=1),
                "values are finite",
                lambda i: "non-finite value (" + ", ".join(
                    f"{name}={_num(values[i, k])}" for k, name in enumerate(PRICE_COLUMNS)
                    if np.isinf(values[i, k])) + ")",
            ),
            (
                (values[:, :4] > MAX_PRICE).any(axis=1),
                f"prices are below {MAX_PRICE:g}",
                lambda i: "absurd price (" + ", ".join(
                    f"{name}={_num(values[i, k])}" for k, name in enumerate(PRICE_COLUMNS[:4])
                    if values[i, k] > MAX_PRICE) + ")",
            ),
            (v > MAX_VOLUME, f"volume is below {MAX_VOLUME:g}", lambda i: f"absurd volume {_num(v[i])}"),
            (~(c > 0), "close is a positive number", lambda i: f"close is {_num(c[i])}"),
            (
                np.isnan(values[:, :3]).any(axis=1),
                "open, high and low are present",
                lambda i: f"open/high/low missing (open={_num(o[i])}, high={_num(h[i])}, low={_num(low[i])})",
            ),
            (
                ~(values[:, :3] > 0).all(axis=1),
                "prices are positive",
                lambda i: f"non-positive price (open={_num(o[i])}, high={_num(h[i])}, low={_num(low[i])})",
            ),
            (
                h < np.maximum(o, c) - OHLC_RTOL * c,
                "high >= max(open, close)",
                lambda i: f"high {_num(h[i])} is below open {_num(o[i])} or close {_num(c[i])}",
            ),
            (
                low > np.minimum(o, c) + OHLC_RTOL * c,
                "low <= min(open, close)",
                lambda i: f"low {_num(low[i])} is above open {_num(o[i])} or close {_num(c[i])}",
            ),
            (v < 0, "volume is not negative", lambda i: f"volume is {_num(v[i])}"),
        )
    for bad, rule, detail in rules:
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DataError(
                f"{symbol}: {detail(i)}{_more(int(bad.sum()))} - breaks rule '{rule}'",
                where=f"{origin}, row {pos[i] + 1} ({_fmt(index[i])})",
                fix=_FIX_ROW,
            )


def _fmt(ts: pd.Timestamp) -> str:
    """A bar's date, with the time only when it is not midnight."""
    return str(ts.strftime("%Y-%m-%d") if ts == ts.normalize() else ts.isoformat(sep=" "))


def _num(value: float) -> str:
    return format(float(value), ".10g")


def _more(count: int) -> str:
    return f" ({count - 1} more rows break it)" if count > 1 else ""
