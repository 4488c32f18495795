"""Every rule of the price validator, and that each error names symbol, origin, row and rule."""
from __future__ import annotations

import logging
import time
from datetime import date

import numpy as np
import pandas as pd
import pytest

from feeds.validate import MAX_PRICE, PriceJump, PriceJumpError, find_jumps, validate_prices
from ground.errors import DataError

ORIGIN = "prices/test.csv"


def bars(dates: list[str], close: list[float] | None = None) -> pd.DataFrame:
    """Consistent OHLCV bars (open = close, high 1% above, low 1% below) on the given dates."""
    c = np.array(close if close is not None else [100.0 + i for i in range(len(dates))], dtype=float)
    return pd.DataFrame(
        {"open": c, "high": c * 1.01, "low": c * 0.99, "close": c, "volume": np.full(len(c), 1000.0)},
        index=pd.DatetimeIndex(dates, name="date"),
    )


WEEK = ["2024-01-08", "2024-01-09", "2024-01-10", "2024-01-11", "2024-01-12"]  # Monday..Friday


def check(frame: pd.DataFrame) -> pd.DataFrame:
    return validate_prices(frame, symbol="TEST", origin=ORIGIN)


def error_of(frame: pd.DataFrame) -> str:
    with pytest.raises(DataError) as err:
        check(frame)
    return str(err.value)


def test_clean_frame_meets_the_contract() -> None:
    raw = bars(WEEK).astype({"volume": "int64"}).rename_axis("Date")
    raw.index = raw.index.as_unit("s")

    out = check(raw)

    assert list(out.columns) == ["open", "high", "low", "close", "volume"]
    assert (out.dtypes == "float64").all()
    assert isinstance(out.index, pd.DatetimeIndex) and out.index.name == "date" and out.index.tz is None
    assert out.index.is_monotonic_increasing and out.index.is_unique
    pd.testing.assert_frame_equal(out, bars(WEEK).set_axis(out.index), check_index_type=False)
    assert raw.index.name == "Date"  # the input is left alone


def test_extra_columns_are_dropped() -> None:
    out = check(bars(WEEK).assign(openinterest=0, dividends=0.0))
    assert list(out.columns) == ["open", "high", "low", "close", "volume"]


def test_tz_aware_dates_keep_their_local_day() -> None:
    raw = bars(WEEK)
    raw.index = raw.index.tz_localize("America/New_York")
    out = check(raw)
    assert out.index.tz is None and out.index[0] == pd.Timestamp("2024-01-08")


def test_date_column_is_used_when_the_index_holds_none() -> None:
    out = check(bars(WEEK).reset_index())
    assert out.index[0] == pd.Timestamp("2024-01-08") and out.index.name == "date"


def test_numbers_are_not_taken_for_dates() -> None:
    text = error_of(bars(WEEK).reset_index(drop=True))
    assert "TEST: no dates" in text and ORIGIN in text


def test_unsorted_rows_are_sorted(caplog: pytest.LogCaptureFixture) -> None:
    raw = bars(WEEK).iloc[[3, 0, 4, 1, 2]]
    with caplog.at_level(logging.INFO, logger="feeds.validate"):
        out = check(raw)
    assert list(out.index) == list(pd.DatetimeIndex(WEEK))
    assert out["close"].tolist() == [100.0, 101.0, 102.0, 103.0, 104.0]
    assert "sorted" in caplog.text


def test_missing_column_names_it() -> None:
    text = error_of(bars(WEEK).drop(columns="low"))
    assert "TEST" in text and ORIGIN in text and "missing price column(s) low" in text


def test_empty_frame_is_an_error() -> None:
    text = error_of(bars(WEEK).iloc[:0])
    assert "TEST: no price rows" in text and ORIGIN in text


def test_missing_date_names_the_row() -> None:
    raw = bars(WEEK)
    raw.index = pd.DatetimeIndex([*WEEK[:2], None, *WEEK[3:]], name="date")
    text = error_of(raw)
    assert f"{ORIGIN}, row 3" in text and "every bar has a date" in text


def test_non_numeric_cell_names_row_and_value() -> None:
    raw = bars(WEEK).astype({"high": object})
    raw.iloc[1, raw.columns.get_loc("high")] = "n/a!"
    text = error_of(raw)
    assert "TEST: high value 'n/a!' is not a number" in text and f"{ORIGIN}, row 2" in text


def test_duplicate_weekday_date_is_an_error_naming_both_rows() -> None:
    raw = bars([*WEEK, "2024-01-10"])
    text = error_of(raw)
    assert "date 2024-01-10 appears more than once (also row 3)" in text
    assert f"{ORIGIN}, row 6 (2024-01-10)" in text and "dates are unique" in text


def test_identical_weekday_duplicates_are_still_an_error() -> None:
    raw = pd.concat([bars(WEEK), bars(WEEK).iloc[[2]]])
    assert "dates are unique" in error_of(raw)


def test_identical_weekend_duplicates_are_dropped() -> None:
    friday = bars(WEEK).iloc[[4]]
    saturday = friday.set_axis(pd.DatetimeIndex(["2024-01-13"], name="date"))
    saturday = saturday.assign(close=104.5, high=106.0)  # its own values: a real weekend bar
    raw = pd.concat([bars(WEEK), saturday, saturday])
    out = check(raw)
    assert len(out) == 6 and out.index[-1] == pd.Timestamp("2024-01-13")


def test_different_weekend_duplicates_are_an_error() -> None:
    sat = ["2024-01-13", "2024-01-13"]
    raw = pd.concat([bars(WEEK), bars(sat, [104.5, 104.6])])
    text = error_of(raw)
    assert "2024-01-13 appears more than once" in text and "row 7" in text


def test_weekend_rows_copying_friday_are_dropped(caplog: pytest.LogCaptureFixture) -> None:
    week = bars(WEEK)
    copies = pd.concat([week.iloc[[4]]] * 2).set_axis(pd.DatetimeIndex(["2024-01-13", "2024-01-14"], name="date"))
    raw = pd.concat([week, copies, bars(["2024-01-15"], [110.0])])
    with caplog.at_level(logging.INFO, logger="feeds.validate"):
        out = check(raw)
    assert list(out.index.day_of_week) == [0, 1, 2, 3, 4, 0]
    assert "dropped 2 weekend rows" in caplog.text


def test_weekend_copy_of_thursday_when_friday_is_missing_is_dropped() -> None:
    week = bars(WEEK[:4])  # Friday was a holiday, the export repeated Thursday over the weekend
    copies = pd.concat([week.iloc[[3]]] * 2).set_axis(pd.DatetimeIndex(["2024-01-13", "2024-01-14"], name="date"))
    out = check(pd.concat([week, copies]))
    assert len(out) == 4


def test_weekend_rows_with_their_own_values_stay() -> None:
    raw = pd.concat([bars(WEEK), bars(["2024-01-13", "2024-01-14"], [105.0, 106.0])])
    assert len(check(raw)) == 7


@pytest.mark.parametrize("bad", [np.nan, 0.0, -3.0])
def test_close_must_be_a_positive_number(bad: float) -> None:
    raw = bars(WEEK)
    raw.loc["2024-01-10", ["close", "open", "low"]] = [bad, 1.0, 0.5]
    text = error_of(raw)
    assert "TEST: close is" in text and f"{ORIGIN}, row 3 (2024-01-10)" in text
    assert "close is a positive number" in text


def test_missing_open_is_an_error_not_filled() -> None:
    raw = bars(WEEK)
    raw.loc["2024-01-11", "open"] = np.nan
    text = error_of(raw)
    assert "open/high/low missing" in text and "row 4 (2024-01-11)" in text


def test_non_positive_low_is_an_error() -> None:
    raw = bars(WEEK)
    raw.loc["2024-01-09", "low"] = 0.0
    text = error_of(raw)
    assert "non-positive price" in text and "row 2 (2024-01-09)" in text and "prices are positive" in text


def test_high_below_close_is_an_error_counting_the_others() -> None:
    raw = bars(WEEK)
    raw.loc[["2024-01-09", "2024-01-12"], "high"] = raw.loc[["2024-01-09", "2024-01-12"], "close"] - 1
    text = error_of(raw)
    assert "high 100 is below open 101 or close 101" in text
    assert "(1 more rows break it)" in text and "row 2 (2024-01-09)" in text and "high >= max(open, close)" in text


def test_low_above_open_is_an_error() -> None:
    raw = bars(WEEK)
    raw.loc["2024-01-12", "open"] = 99.0
    raw.loc["2024-01-12", "low"] = 100.0
    text = error_of(raw)
    assert "low 100 is above open 99" in text and "row 5 (2024-01-12)" in text and "low <= min(open, close)" in text


def test_rounding_noise_in_high_and_low_is_tolerated() -> None:
    raw = bars(WEEK)
    raw["high"] = raw["close"] * (1 - 1e-9)
    raw["low"] = raw["close"] * (1 + 1e-9)
    assert len(check(raw)) == 5


def test_negative_volume_is_an_error_and_missing_volume_becomes_zero() -> None:
    raw = bars(WEEK)
    raw.loc["2024-01-08", "volume"] = np.nan
    assert check(raw)["volume"].iloc[0] == 0.0
    raw.loc["2024-01-09", "volume"] = -5.0
    text = error_of(raw)
    assert "volume is -5" in text and "row 2 (2024-01-09)" in text


def test_rows_are_numbered_in_input_order_after_sorting() -> None:
    raw = bars(WEEK).iloc[[4, 3, 2, 1, 0]].copy()
    raw.iloc[0, raw.columns.get_loc("close")] = np.nan  # the Friday, first in the input
    assert "row 1 (2024-01-12)" in error_of(raw)


def test_one_day_jump_over_half_is_an_error_naming_symbol_and_date() -> None:
    raw = bars(WEEK, [100.0, 101.0, 50.0, 51.0, 52.0])  # a 2:1 split left unadjusted
    with pytest.raises(PriceJumpError) as err:
        check(raw)
    message = str(err.value)
    assert "TEST" in message and "2024-01-10 (-50%)" in message and ORIGIN in message and "split" in message
    assert "accept_jumps" in message
    assert err.value.jumps == (PriceJump(date(2024, 1, 10), pytest.approx(50 / 101 - 1)),)


def test_an_accepted_jump_is_kept_logged_and_listed(caplog: pytest.LogCaptureFixture) -> None:
    raw = bars(WEEK, [100.0, 10.0, 10.0, 10.0, 10.0])  # -90%: the unadjusted 10:1 split
    with caplog.at_level(logging.WARNING, logger="feeds.validate"):
        out = validate_prices(raw, symbol="T", origin="o", jumps="accept")
    assert out["close"].tolist() == [100.0, 10.0, 10.0, 10.0, 10.0]
    assert "accepted 1 one-day close move(s) past 50%: 2024-01-09 (-90%)" in caplog.text
    assert find_jumps(out) == (PriceJump(date(2024, 1, 9), pytest.approx(-0.9)),)


def test_moves_up_to_half_are_not_jumps() -> None:
    out = check(bars(WEEK, [100.0, 149.0, 100.0, 140.0, 100.0]))
    assert find_jumps(out) == ()


def test_jump_check_can_be_skipped_for_revalidated_data() -> None:
    out = validate_prices(bars(WEEK, [100.0, 300.0, 300.0, 300.0, 300.0]), symbol="T", origin="cache", jumps="skip")
    assert out["close"].tolist() == [100.0, 300.0, 300.0, 300.0, 300.0]


@pytest.mark.parametrize(
    ("column", "value", "expected"),
    [
        ("close", np.inf, "non-finite value (high=inf, close=inf)"),
        ("open", -np.inf, "non-finite value (open=-inf)"),
        ("volume", np.inf, "non-finite value (volume=inf)"),
        ("close", 1e308, "absurd price (high=1e+308, close=1e+308)"),
        ("low", 2 * MAX_PRICE, "absurd price (low=2000000000)"),
        ("volume", 1e300, "absurd volume 1e+300"),
    ],
)
def test_non_finite_and_absurd_values_are_refused_with_the_row(column: str, value: float, expected: str) -> None:
    raw = bars(WEEK)
    raw.loc["2024-01-10", column] = value
    if column == "close":
        raw.loc["2024-01-10", "high"] = value
    text = error_of(raw)
    assert expected in text and "row 3 (2024-01-10)" in text


def test_high_below_low_is_refused() -> None:
    raw = bars(WEEK)
    raw.loc["2024-01-11", ["high", "low"]] = [90.0, 110.0]
    assert "row 4 (2024-01-11)" in error_of(raw)


def test_bars_dated_in_the_future_are_refused() -> None:
    raw = bars(["2024-01-08", "2099-01-09", "2099-01-12"])
    text = error_of(raw)
    assert "date 2099-01-09 is in the future" in text and "row 2 (2099-01-09)" in text and "1 more rows" in text
    # Tomorrow in UTC is still today somewhere east of it; the day after is not.
    assert len(validate_prices(bars(["2024-01-08", "2024-01-09"]), symbol="T", origin="o",
                               today=date(2024, 1, 8))) == 2
    with pytest.raises(DataError, match="in the future"):
        validate_prices(bars(["2024-01-08", "2024-01-10"]), symbol="T", origin="o", today=date(2024, 1, 8))


def test_fifty_thousand_bars_validate_fast() -> None:
    n = 50_000
    close = 100 * np.exp(np.cumsum(np.random.default_rng(0).normal(0, 0.01, n)))
    frame = bars(list(pd.bdate_range("1800-01-01", periods=n).strftime("%Y-%m-%d")), list(close))
    started = time.perf_counter()
    out = check(frame)
    assert len(out) == n
    assert time.perf_counter() - started < 0.5
