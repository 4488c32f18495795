"""Price tables from CSV files: Yahoo's export, backtrader's generic layout, or any date/OHLCV columns.

Columns are found by name (any case and order; spaces and underscores alike), never by position, because
the same kind of file comes with its columns in different orders. When an ``Adj Close`` column is present
(Yahoo's layout) open, high, low and close are scaled by adj/close so that the whole bar is adjusted for
dividends and splits the way the close is; volume is left alone, since Yahoo already reports it
split-adjusted and dividends do not change it. Everything else about the bars is the validator's job.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from feeds.validate import JumpPolicy, to_float, validate_prices
from ground.choices import close_matches
from ground.errors import DataError

REQUIRED = ("date", "open", "high", "low", "close", "volume")
_ALIASES = {
    "datetime": "date",
    "adj close": "adj close",
    "adjclose": "adj close",
    "adj. close": "adj close",
    "adjusted close": "adj close",
}
#: Tried in order; the first that reads every row wins. Month-first slashes follow Yahoo's US exports.
DATE_FORMATS = ("ISO8601", "%Y%m%d", "%m/%d/%Y", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M", "%d.%m.%Y")
#: A time of day followed by a UTC offset; group 1 is the local date and time.
_WITH_OFFSET = r"^(.*\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)\s*(?:[+-]\d{2}:?\d{2}|Z)$"


def read_price_csv(path: Path, *, symbol: str | None = None, jumps: JumpPolicy = "refuse") -> pd.DataFrame:
    """Read and validate a price CSV; errors name the file and the 1-based data row (header not counted).

    ``jumps`` is the validator's policy for one-day moves past its threshold (see ``validate_prices``).
    """
    path = Path(path)
    label = symbol or path.stem.upper()
    origin = str(path)
    if not path.is_file():
        raise DataError(
            f"{label}: price file not found", where=origin, fix="check the path given with --csv (or csv_path)"
        )
    try:
        raw = pd.read_csv(path, skipinitialspace=True)
    except pd.errors.EmptyDataError as exc:
        raise DataError(f"{label}: price file is empty", where=origin, fix="export the prices again") from exc
    except pd.errors.ParserError as exc:
        raise DataError(
            f"{label}: not a readable CSV ({exc})".replace("\n", " "),
            where=origin,
            fix="every line needs the same number of comma-separated fields as the header",
        ) from exc
    except (UnicodeDecodeError, OSError) as exc:
        raise DataError(f"{label}: cannot read the file ({exc})", where=origin, fix="save it as UTF-8 CSV") from exc
    return frame_from_table(raw, symbol=label, origin=origin, jumps=jumps)


def frame_from_table(
    raw: pd.DataFrame, *, symbol: str, origin: str, date_format: str | None = None, jumps: JumpPolicy = "refuse"
) -> pd.DataFrame:
    """Pick date/OHLCV (and Adj Close) columns by name from a raw table and return a validated frame.

    Rows keep their order, so row numbers in errors match the table handed in. Extra columns (an
    OpenInterest, an unnamed index column) are ignored. When no day holds more than one row the data is
    daily, and times of day (a file stamped with each session's close, 16:00 or 13:00 on half days) are
    dropped: the contract for daily bars is the trading day.
    """
    columns = _column_map(raw, symbol, origin)
    dates = parse_dates(raw[columns["date"]], symbol=symbol, origin=origin, date_format=date_format)
    if dates.normalize().is_unique:  # at most one bar a day: daily data, whatever time it is stamped
        dates = dates.normalize()
    prices = {c: to_float(raw[columns[c]], column=c, symbol=symbol, origin=origin) for c in REQUIRED[1:]}
    if "adj close" in columns:
        _adjust(prices, to_float(raw[columns["adj close"]], column="adj close", symbol=symbol, origin=origin),
                symbol, origin)
    frame = pd.DataFrame(prices, index=pd.DatetimeIndex(dates, name="date"))
    return validate_prices(frame, symbol=symbol, origin=origin, jumps=jumps)


def parse_dates(
    values: pd.Series, *, symbol: str, origin: str, date_format: str | None = None
) -> pd.DatetimeIndex:
    """Parse a date column with one explicit format for all rows (``date_format`` or the first of
    DATE_FORMATS that reads them all), so a file is never read half day-first and half month-first.

    A trailing UTC offset (``2020-01-02 00:00:00-05:00``, as pandas writes a yfinance frame) is dropped: the
    local wall time is the exchange's trading day.
    """
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return pd.DatetimeIndex(values)
    text = values.astype("string").str.strip()
    if text.str.match(_WITH_OFFSET, na=False).any():
        text = text.str.replace(_WITH_OFFSET, r"\1", regex=True)
    formats = (date_format,) if date_format else DATE_FORMATS
    best: pd.DatetimeIndex | None = None
    for fmt in formats:
        try:
            parsed = pd.DatetimeIndex(pd.to_datetime(text, format=fmt, errors="coerce"))
        except (ValueError, OverflowError):
            continue
        if not parsed.isna().any():
            return parsed
        if best is None or parsed.isna().sum() < best.isna().sum():
            best = parsed
    unread = np.flatnonzero(best.isna()) if best is not None else np.arange(len(text))
    i = int(unread[0]) if len(unread) else 0
    raise DataError(
        f"{symbol}: unreadable date {values.iloc[i]!r}"
        + (f" ({len(unread) - 1} more rows)" if len(unread) > 1 else "")
        + " - breaks rule 'every bar has a date'",
        where=f"{origin}, row {i + 1}",
        fix="write dates as YYYY-MM-DD",
    )


def _column_map(raw: pd.DataFrame, symbol: str, origin: str) -> dict[str, str]:
    """Normalised name -> the table's own column name; missing required columns are one clear error."""
    found: dict[str, str] = {}
    for col in raw.columns:
        key = re.sub(r"[\s_]+", " ", str(col).strip().lower())
        key = _ALIASES.get(key, key)
        if key in found and key in (*REQUIRED, "adj close"):
            raise DataError(
                f"{symbol}: columns {found[key]!r} and {col!r} both mean {key!r}",
                where=origin,
                fix="keep one of them",
            )
        found.setdefault(key, col)
    missing = [c for c in REQUIRED if c not in found]
    if missing:
        hints = []
        by_lower = {str(c).strip().lower(): str(c) for c in raw.columns}
        for name in missing:
            close = close_matches(name, by_lower)
            hints.append(f"{name} (did you mean {by_lower[close[0]]!r}?)" if close else name)
        raise DataError(
            f"{symbol}: missing column(s) {', '.join(hints)}; found {', '.join(map(str, raw.columns))}",
            where=f"{origin}, header",
            fix="name the columns date, open, high, low, close, volume (any case and order)",
        )
    return found


def _adjust(prices: dict[str, np.ndarray], adj: np.ndarray, symbol: str, origin: str) -> None:
    """Scale open/high/low/close in place by adj/close (Yahoo's dividend and split adjustment)."""
    close = prices["close"]
    lost = np.isnan(adj) & ~np.isnan(close)
    if lost.any():
        i = int(np.flatnonzero(lost)[0])
        raise DataError(
            f"{symbol}: Adj Close is empty while Close is {close[i]!r} - breaks rule 'adjusted rows are complete'",
            where=f"{origin}, row {i + 1}",
            fix="fill the Adj Close cell or remove the row",
        )
    usable = close > 0  # a bad close is left as it is for the validator to name
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(usable, adj / close, 1.0)
    for name in ("open", "high", "low"):
        prices[name] = prices[name] * ratio
    prices["close"] = np.where(usable, adj, close)
