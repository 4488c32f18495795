"""Property tests: any CSV text or table either becomes a frame that meets the price contract, or raises the
project's DataError. Nothing else (no ValueError, KeyError, OverflowError, pandas errors) may escape."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feeds.csv_source import read_price_csv
from feeds.validate import MAX_PRICE, MAX_VOLUME, validate_prices
from ground.errors import DataError

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

_NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.floats(min_value=0.01, max_value=1000.0),
    st.sampled_from(["inf", "-inf", "nan", "NaN", "1e308", "-1", "0", "", " ", "1,5", "abc", "1e-320", "99999999999"]),
)
_DATES = st.one_of(
    st.dates(min_value=date(1800, 1, 1), max_value=date(2200, 12, 31)).map(date.isoformat),
    st.sampled_from(["2024-13-01", "2024-02-30", "", "yesterday", "20240105", "01/05/2024", "5.1.2024",
                     "2024-01-05T16:00:00-05:00", "2024-01-05 16:00", "0000-00-00", "9999-12-31"]),
    st.text(max_size=12),
)


# Consistent bars on valid dates, so that the valid-frame branch is reached too, not only the errors.
_GOOD_ROWS = st.tuples(st.dates(min_value=date(2000, 1, 1), max_value=date(2024, 12, 31)).map(date.isoformat),
                       st.floats(min_value=1.0, max_value=500.0)).map(
    lambda r: (r[0], r[1], r[1] * 1.01, r[1] * 0.99, r[1], 1000.0))


def assert_price_contract(frame: pd.DataFrame) -> None:
    assert list(frame.columns) == ["open", "high", "low", "close", "volume"]
    assert isinstance(frame.index, pd.DatetimeIndex) and frame.index.name == "date" and frame.index.tz is None
    assert frame.index.is_monotonic_increasing and frame.index.is_unique
    assert (frame.dtypes == "float64").all()
    values = frame.to_numpy()
    assert np.isfinite(values).all()
    assert (values[:, :4] > 0).all() and (values[:, :4] <= MAX_PRICE).all()
    assert ((values[:, 4] >= 0) & (values[:, 4] <= MAX_VOLUME)).all()
    assert frame.index[-1].date() <= datetime.now(timezone.utc).date() + timedelta(days=1)


@SETTINGS
@given(rows=st.lists(st.one_of(_GOOD_ROWS, st.tuples(_DATES, _NUMBERS, _NUMBERS, _NUMBERS, _NUMBERS, _NUMBERS)),
                     max_size=8),
       header=st.sampled_from(["date,open,high,low,close,volume", "Date,Open,High,Low,Close,Adj Close,Volume",
                               "date,close,volume", "datetime,open,high,low,close,volume,openinterest"]))
def test_any_price_csv_is_a_valid_frame_or_a_data_error(tmp_path: Path, rows: list[tuple], header: str) -> None:
    width = header.count(",") + 1
    lines = [header] + [",".join(str(cell) for cell in (row * 2)[:width]) for row in rows]
    path = tmp_path / "prices.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    try:
        frame = read_price_csv(path, symbol="T", jumps="accept")
    except DataError:
        return
    assert_price_contract(frame)


@SETTINGS
@given(text=st.text(max_size=300))
def test_any_text_file_is_a_valid_frame_or_a_data_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "junk.csv"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        frame = read_price_csv(path, symbol="T")
    except DataError:
        return
    assert_price_contract(frame)


@settings(max_examples=60, deadline=None)
@given(data=st.lists(st.tuples(st.dates(min_value=date(1900, 1, 1), max_value=date(2150, 1, 1)),
                               *[st.floats(allow_nan=True, allow_infinity=True)] * 5), max_size=10),
       jumps=st.sampled_from(["refuse", "accept"]))
def test_any_numeric_table_is_a_valid_frame_or_a_data_error(data: list[tuple], jumps: str) -> None:
    raw = pd.DataFrame([row[1:] for row in data], columns=["open", "high", "low", "close", "volume"],
                       index=pd.DatetimeIndex([pd.Timestamp(row[0]) for row in data], name="date"), dtype="float64")
    try:
        frame = validate_prices(raw, symbol="T", origin="table", jumps=jumps)  # type: ignore[arg-type]
    except DataError:
        return
    assert_price_contract(frame)
    if jumps == "refuse":
        moves = frame["close"].pct_change().abs().dropna()
        assert (moves <= 0.5).all()

