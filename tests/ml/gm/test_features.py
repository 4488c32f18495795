"""Features: causal past inputs, business-day calendar inputs, H-bar forward-return labels, warm-up."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pandas.tseries.offsets import BDay

from ml.errors import ModelError
from ml.gm.features import (
    FUTURE_FEATURES,
    PAST_FEATURES,
    WARMUP_BARS,
    build_features,
    calendar_features,
    past_feature_frame,
)


def price_frame(n: int = 400, seed: int = 0, start: str = "2015-01-02") -> pd.DataFrame:
    """A random-walk OHLCV frame on business days (what feeds' validator produces)."""
    rng = np.random.default_rng(seed)
    close = 50.0 * np.exp(np.cumsum(rng.normal(0.0005, 0.02, n)))
    open_ = close * np.exp(rng.normal(0, 0.005, n))
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.01, n))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.01, n))
    volume = rng.uniform(1e6, 5e6, n).round()
    index = pd.bdate_range(start, periods=n, name="date")
    return pd.DataFrame({"open": open_, "high": high, "low": low, "close": close, "volume": volume}, index=index)


def test_shapes_names_and_warmup() -> None:
    frame = price_frame(200)
    fs = build_features(frame, horizon=5)
    assert fs.past.shape == (200 - WARMUP_BARS, len(PAST_FEATURES))
    assert fs.future.shape == (200 - WARMUP_BARS, 5, len(FUTURE_FEATURES))
    assert fs.past_names[0] == "ret_1" and fs.future_names == FUTURE_FEATURES
    assert fs.index[0] == frame.index[WARMUP_BARS] and fs.index.name == "date"
    assert np.isfinite(fs.past).all() and np.isfinite(fs.future).all()


def test_values_match_their_definitions() -> None:
    frame = price_frame(120, seed=3)
    feats = past_feature_frame(frame)
    c, t = frame["close"].to_numpy(), 60
    ret = np.diff(np.log(c))  # ret[i] = log(c[i+1] / c[i])
    row = feats.iloc[t]
    assert row["ret_1"] == pytest.approx(np.log(c[t] / c[t - 1]))
    assert row["ret_5"] == pytest.approx(np.log(c[t] / c[t - 5]))
    assert row["range_hl"] == pytest.approx((frame["high"].iloc[t] - frame["low"].iloc[t]) / c[t])
    assert row["body_oc"] == pytest.approx((c[t] - frame["open"].iloc[t]) / frame["open"].iloc[t])
    assert row["vol_5"] == pytest.approx(np.std(ret[t - 5 : t], ddof=1))
    assert row["vol_21"] == pytest.approx(np.std(ret[t - 21 : t], ddof=1))
    logv = np.log1p(frame["volume"].to_numpy()[t - 20 : t + 1])
    assert row["volume_z"] == pytest.approx((logv[-1] - logv.mean()) / logv.std(ddof=1))
    assert row["dist_ma21"] == pytest.approx(np.log(c[t] / c[t - 20 : t + 1].mean()))


def test_label_is_the_forward_h_bar_log_return_and_the_sum_of_the_ret1_path() -> None:
    frame = price_frame(150, seed=1)
    fs = build_features(frame, horizon=5)
    c = frame["close"].to_numpy()[WARMUP_BARS:]
    t = 40
    assert fs.fwd_return[t] == pytest.approx(np.log(c[t + 5] / c[t]))
    assert fs.fwd_return[t] == pytest.approx(fs.past[t + 1 : t + 6, 0].sum())
    assert np.isnan(fs.fwd_return[-5:]).all() and np.isfinite(fs.fwd_return[:-5]).all()
    assert np.array_equal(fs.volatility, fs.past[:, PAST_FEATURES.index("vol_21")])


def test_features_are_causal() -> None:
    frame = price_frame(300, seed=2)
    full = build_features(frame)
    cut = 180
    changed = frame.copy()
    changed.iloc[cut + 1 :, :4] *= 1.7  # every price after bar `cut` moves
    changed.iloc[cut + 1 :, 4] *= 3.0
    for other in (build_features(changed), build_features(frame.iloc[: cut + 1])):
        upto = cut + 1 - WARMUP_BARS
        assert np.array_equal(other.past[:upto], full.past[:upto])
        assert np.array_equal(other.future[:upto], full.future[:upto])
    assert not np.array_equal(build_features(changed).past[upto:], full.past[upto:])  # the perturbation is real


@pytest.mark.parametrize("keep", [1, 2, 40])
def test_a_short_tail_gives_the_whole_history_s_features_bit_for_bit(keep: int) -> None:
    """A paper session builds the last bars' features from ``WARMUP_BARS + keep`` rows: no drift against the
    whole series (pandas' running sums would differ by about 1e-12 here)."""
    frame = price_frame(900, seed=4)
    full = build_features(frame)
    tail = build_features(frame.iloc[-(WARMUP_BARS + keep) :])
    assert len(tail) == keep
    assert np.array_equal(tail.past, full.past[-keep:]) and np.array_equal(tail.future, full.future[-keep:])
    assert np.array_equal(tail.volatility, full.volatility[-keep:])


def test_future_calendar_uses_business_days_after_each_bar() -> None:
    frame = price_frame(80, start="2024-01-02")
    fs = build_features(frame, horizon=3)
    friday = int(np.flatnonzero(fs.index.day_of_week == 4)[0])
    monday_cal = calendar_features(pd.DatetimeIndex([fs.index[friday] + BDay(1)]))[0]
    assert np.allclose(fs.future[friday, 0], monday_cal)
    assert fs.future[friday, 0, 0] == pytest.approx(0.0) and fs.future[friday, 0, 1] == pytest.approx(1.0)  # Monday
    last = fs.index[-1]
    beyond = calendar_features(pd.DatetimeIndex([last + BDay(h) for h in (1, 2, 3)]))
    assert np.allclose(fs.future[-1], beyond)  # dates past the frame come from the business-day calendar


def test_constant_volume_gives_zero_zscore() -> None:
    frame = price_frame(60).assign(volume=0.0)
    assert (build_features(frame).past[:, PAST_FEATURES.index("volume_z")] == 0.0).all()


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda f: f.drop(columns="volume"), "volume"),
        (lambda f: f.iloc[:WARMUP_BARS], "warm-up"),
        (lambda f: f.assign(close=f["close"].where(f.index != f.index[30], -1.0)), "positive"),
        (lambda f: f.assign(high=f["high"].where(f.index != f.index[40], np.nan)), "range_hl"),
        (lambda f: f.iloc[::-1], "increasing"),
    ],
)
def test_bad_frames_fail_clearly(mutate, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ModelError, match=message):
        build_features(mutate(price_frame(100)))
