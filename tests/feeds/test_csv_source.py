"""CSV layouts (Yahoo, backtrader generic, any named columns), their errors, and the shared real files."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from feeds.csv_source import frame_from_table, read_price_csv
from ground.errors import DataError

FIXTURES = Path(__file__).resolve().parents[1] / "data" / "prices"
SHARED_PRICES = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "prices"


def write(tmp_path: Path, text: str, name: str = "p.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def error_of(path: Path) -> str:
    with pytest.raises(DataError) as err:
        read_price_csv(path, symbol="TEST")
    return str(err.value)


HEADER = "Date,Open,High,Low,Close,Volume\n"


def test_yahoo_layout_is_adjusted_by_adj_close() -> None:
    frame = read_price_csv(FIXTURES / "yahoo_layout.csv", symbol="ABC")

    assert frame["close"].tolist() == [99.96, 100.94, 98.98, 101.5, 104.0]
    # the whole bar scales by adj/close (0.98 before the dividend); volume does not
    np.testing.assert_allclose(frame["open"].iloc[:3], [98.0, 99.96, 100.94])
    np.testing.assert_allclose(frame["high"].iloc[:3], [100.94, 101.92, 101.43])
    np.testing.assert_allclose(frame["low"].iloc[3:], [100.5, 101.0])
    assert frame["volume"].tolist() == [1200, 1100, 1300, 900, 1500]


def test_backtrader_generic_layout_ignores_open_interest() -> None:
    frame = read_price_csv(FIXTURES / "backtrader_generic.csv")

    assert list(frame.columns) == ["open", "high", "low", "close", "volume"]
    assert frame.index[0] == pd.Timestamp("2006-01-02") and len(frame) == 4
    assert frame["close"].iloc[-1] == 3650.24 and (frame["volume"] == 0).all()


def test_any_case_and_order_with_extra_columns() -> None:
    frame = read_price_csv(FIXTURES / "any_case_any_order.csv")

    assert [d.strftime("%Y-%m-%d") for d in frame.index] == ["2024-01-08", "2024-01-09", "2024-01-12"]
    assert frame.loc["2024-01-12", "open"] == 101.5 and frame.loc["2024-01-08", "volume"] == 1200


def test_month_first_dates_stamped_at_the_close_become_days() -> None:
    frame = read_price_csv(FIXTURES / "us_dates_close_stamped.csv")
    assert list(frame.index) == list(pd.DatetimeIndex(["2024-01-08", "2024-01-09", "2024-01-10"]))


def test_dates_with_utc_offsets_keep_the_local_day(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + "2024-06-28 00:00:00-04:00,10,11,9,10,5\n2024-12-02 00:00:00-05:00,10,11,9,10,5\n")
    frame = read_price_csv(path)
    assert list(frame.index) == [pd.Timestamp("2024-06-28"), pd.Timestamp("2024-12-02")]


def test_intraday_times_are_kept(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + "2024-01-08 09:30,10,11,9,10,5\n2024-01-08 09:35,10,11,9,10.5,5\n")
    assert read_price_csv(path).index[1] == pd.Timestamp("2024-01-08 09:35")


def test_symbol_defaults_to_the_file_name(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + "2024-01-08,10,11,9,0,5\n", name="spy.csv")
    with pytest.raises(DataError, match=r"^SPY: close is 0"):
        read_price_csv(path)


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    text = error_of(tmp_path / "nope.csv")
    assert "price file not found" in text and str(tmp_path / "nope.csv") in text


def test_empty_file(tmp_path: Path) -> None:
    assert "price file is empty" in error_of(write(tmp_path, ""))


def test_ragged_file_is_a_data_error(tmp_path: Path) -> None:
    text = error_of(write(tmp_path, HEADER + "2024-01-08,10,11,9,10,5\n2024-01-09,10,11,9,10,5,7,8\n"))
    assert "not a readable CSV" in text and "line 3" in text


def test_missing_column_suggests_a_close_match(tmp_path: Path) -> None:
    path = write(tmp_path, "Date,Open,Hihg,Low,Close,Volume\n2024-01-08,10,11,9,10,5\n")
    text = error_of(path)
    assert "missing column(s) high (did you mean 'Hihg'?)" in text and f"{path}, header" in text


def test_unreadable_date_names_the_row(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + "2024-01-08,10,11,9,10,5\n2024-01-09,10,11,9,10,5\n2024-13-45,10,11,9,10,5\n")
    text = error_of(path)
    assert "unreadable date '2024-13-45'" in text and f"{path}, row 3" in text


def test_non_number_names_the_row(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + "2024-01-08,10,11,9,10,5\n2024-01-09,10,eleven,9,10,5\n")
    text = error_of(path)
    assert "high value 'eleven' is not a number" in text and f"{path}, row 2" in text


def test_validator_errors_use_file_rows(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + "2024-01-08,10,11,9,10,5\n2024-01-09,10,11,9,10,5\n2024-01-10,10,9.5,9,10,5\n")
    text = error_of(path)
    assert f"{path}, row 3 (2024-01-10)" in text and "high >= max(open, close)" in text


def test_empty_adj_close_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "Date,Open,High,Low,Close,Adj Close,Volume\n2024-01-08,10,11,9,10,,5\n")
    assert "Adj Close is empty" in error_of(path)


def test_yahoo_null_rows_are_reported(tmp_path: Path) -> None:
    path = write(tmp_path, "Date,Open,High,Low,Close,Adj Close,Volume\n"
                           "2024-01-08,10,11,9,10,10,5\n2024-01-09,null,null,null,null,null,null\n")
    text = error_of(path)
    assert "close is nan" in text and "row 2 (2024-01-09)" in text


def test_two_columns_meaning_the_same_are_rejected() -> None:
    raw = pd.DataFrame({"Date": ["2024-01-08"], "date": ["2024-01-08"], "open": [1], "high": [1], "low": [1],
                        "close": [1], "volume": [1]})
    with pytest.raises(DataError, match="both mean 'date'"):
        frame_from_table(raw, symbol="T", origin="table")


def shared(name: str) -> Path:
    path = SHARED_PRICES / name
    if not path.is_file():
        pytest.skip(f"{path} not found: ../shared/data is absent")
    return path


@pytest.mark.parametrize(
    ("name", "rows", "first", "last"),
    [
        ("nvda-1999-2014.txt", 4012, "1999-01-22", "2014-12-31"),
        ("orcl-1995-2014.txt", 5036, "1995-01-03", "2014-12-31"),
        ("yhoo-1996-2014.txt", 4713, "1996-04-12", "2014-12-31"),
    ],
)
def test_shared_yahoo_files(name: str, rows: int, first: str, last: str) -> None:
    path = shared(name)
    frame = read_price_csv(path)
    raw = pd.read_csv(path)

    assert len(frame) == rows and frame.index[0] == pd.Timestamp(first) and frame.index[-1] == pd.Timestamp(last)
    np.testing.assert_allclose(frame["close"].to_numpy(), raw["Adj Close"].to_numpy())
    np.testing.assert_allclose(frame["open"], raw["Open"] * raw["Adj Close"] / raw["Close"])


def test_shared_backtrader_generic_file() -> None:
    frame = read_price_csv(shared("2006-day-001.txt"))

    assert len(frame) == 255 and frame.index[0] == pd.Timestamp("2006-01-02")
    assert frame["close"].iloc[0] == 3604.33 and (frame["volume"] == 0).all()
