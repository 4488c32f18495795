"""Window-local trailing statistics: pandas' values, NaN rules, exact zero spread, and independence from history."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ground.rolling import trailing_mean, trailing_std

_VALUES = st.lists(st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False), min_size=0, max_size=80)


@pytest.mark.parametrize("window", [1, 2, 5, 21])
def test_values_are_pandas_rolling_values(window: int) -> None:
    x = np.random.default_rng(window).normal(0.0, 0.02, 500).cumsum()
    s = pd.Series(x)
    assert np.allclose(trailing_mean(x, window), s.rolling(window).mean(), rtol=1e-12, atol=1e-15, equal_nan=True)
    if window > 1:
        assert np.allclose(trailing_std(x, window), s.rolling(window).std(), rtol=1e-9, atol=1e-15, equal_nan=True)


@settings(max_examples=200, deadline=None)
@given(values=_VALUES, window=st.integers(2, 25), drop=st.integers(0, 60))
def test_a_row_depends_only_on_its_window(values: list[float], window: int, drop: int) -> None:
    """Dropping older rows leaves every later full window's value bit-identical (what a paper session relies on)."""
    x = np.asarray(values)
    drop = min(drop, len(x))
    for f in (trailing_mean, trailing_std):
        whole, tail = f(x, window), f(x[drop:], window)
        assert len(whole) == len(x) and len(tail) == len(x) - drop
        full_windows = np.arange(drop + window - 1, len(x))
        assert np.array_equal(whole[full_windows], tail[full_windows - drop])
        assert np.isnan(tail[: window - 1]).all()


def test_nan_in_a_window_gives_nan_there_only() -> None:
    x = np.arange(12, dtype=float)
    x[5] = np.nan
    std = trailing_std(x, 3)
    assert np.isnan(std[:2]).all() and np.isnan(std[5:8]).all()
    assert np.isfinite(std[[2, 3, 4, 8, 9, 10, 11]]).all()
    assert np.isnan(trailing_mean(x, 3)[5:8]).all()


@pytest.mark.parametrize("level", [0.0, 0.1, 17.3, 1e-300, -4.2e8])
def test_a_constant_window_has_exactly_zero_spread(level: float) -> None:
    x = np.r_[np.linspace(1.0, 2.0, 10), np.full(30, level)]
    assert (trailing_std(x, 21)[30:] == 0.0).all()  # a two-pass mean can be an ulp off: still exactly 0


def test_short_input_and_bad_arguments() -> None:
    assert np.isnan(trailing_std([1.0, 2.0], 5)).all() and len(trailing_mean([], 3)) == 0
    with pytest.raises(ValueError, match="window must be >= 1"):
        trailing_mean([1.0], 0)
    with pytest.raises(ValueError, match="degrees of freedom"):
        trailing_std([1.0, 2.0], 1)
    with pytest.raises(ValueError, match="1-D"):
        trailing_mean(np.ones((3, 3)), 2)
