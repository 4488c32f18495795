"""Model inputs and labels from a validated price frame, computed causally.

Target choice: the networks forecast the *path* of the next ``H`` daily log returns (``y`` rows ``t+1..t+H`` of
the ``ret_1`` column, which is also the first past feature, as the network contract expects), and the GM forecast
for bar ``t`` is the sum of that path: ``log(close[t+H] / close[t])``. A path target suits these sequence models
(Informer, TFT, N-BEATS and TSMixer all emit one value per horizon step), gives them ``H`` supervised values per
window instead of one, and lets TFT's per-step quantiles give an uncertainty of the sum.

Causality: every past feature at row ``t`` is built from rows ``<= t`` (trailing rolling windows only). The
known-future calendar inputs for bar ``t`` describe the ``H`` business days after ``t``'s date, generated with
pandas ``BDay`` from that date alone, so a bar's inputs are the same whether or not later bars exist in the frame
(backtest and paper trading agree, and the last bars of a frame need no invented rows).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from pandas.tseries.offsets import BDay

from ground.rolling import trailing_mean, trailing_std
from ml.errors import ModelError

PRICE_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close", "volume")

# Past observed inputs; ``ret_1`` (the per-bar target series) must stay first.
PAST_FEATURES: tuple[str, ...] = (
    "ret_1",  # log(close_t / close_{t-1})
    "ret_5",  # log(close_t / close_{t-5}): short momentum
    "range_hl",  # (high - low) / close
    "body_oc",  # (close - open) / open
    "vol_5",  # rolling std of ret_1 over 5 bars
    "vol_21",  # rolling std of ret_1 over 21 bars
    "volume_z",  # z-score of log(1 + volume) over a trailing 21-bar window
    "dist_ma21",  # log(close / 21-bar mean close)
)
# Known-future calendar inputs (cyclical encodings, so December sits next to January).
FUTURE_FEATURES: tuple[str, ...] = ("dow_sin", "dow_cos", "month_sin", "month_cos", "dom_sin", "dom_cos")
TARGET_FEATURE = "ret_1"
VOL_WINDOW = 21
# ret_1 needs one earlier row, vol_21 then needs 21 returns: the first 21 rows are warm-up.
WARMUP_BARS = VOL_WINDOW


@dataclass(frozen=True)
class FeatureSet:
    """Features of the rows that survive the warm-up, aligned on ``index``.

    - ``past`` ``[R, F]`` (columns ``PAST_FEATURES``), unscaled.
    - ``future`` ``[R, H, K]``: calendar inputs of the ``H`` business days after each row's date.
    - ``fwd_return`` ``[R]``: realised ``log(close[t+H] / close[t])``, NaN where the frame ends too early.
    - ``volatility`` ``[R]``: trailing daily volatility of log returns (``vol_21``), for sizing.
    """

    index: pd.DatetimeIndex
    past: np.ndarray
    future: np.ndarray
    fwd_return: np.ndarray
    volatility: np.ndarray
    horizon: int

    @property
    def past_names(self) -> tuple[str, ...]:
        return PAST_FEATURES

    @property
    def future_names(self) -> tuple[str, ...]:
        return FUTURE_FEATURES

    def __len__(self) -> int:
        return len(self.index)


def calendar_features(dates: pd.DatetimeIndex) -> np.ndarray:
    """``[len(dates), K]`` cyclical day-of-week, month and day-of-month encodings (``FUTURE_FEATURES``)."""
    dow = dates.day_of_week.to_numpy(dtype=np.float64)
    month = dates.month.to_numpy(dtype=np.float64) - 1.0
    dom = dates.day.to_numpy(dtype=np.float64) - 1.0
    ang = np.stack([2 * np.pi * dow / 5.0, 2 * np.pi * month / 12.0, 2 * np.pi * dom / 31.0], axis=1)  # [R, 3]
    out = np.empty((len(dates), 6), dtype=np.float64)
    out[:, 0::2] = np.sin(ang)
    out[:, 1::2] = np.cos(ang)
    return out


def future_calendar(dates: pd.DatetimeIndex, horizon: int) -> np.ndarray:
    """``[R, H, K]``: calendar inputs of the business days ``date + BDay(1..H)`` after each date."""
    steps = [calendar_features(dates + BDay(h)) for h in range(1, horizon + 1)]  # H x [R, K]
    return np.stack(steps, axis=1)  # [R, H, K]


def _check_frame(frame: pd.DataFrame) -> None:
    missing = [c for c in PRICE_COLUMNS if c not in frame.columns]
    if missing:
        raise ModelError(
            f"price frame lacks column(s) {', '.join(missing)}",
            fix="pass a frame validated by feeds (columns open, high, low, close, volume)",
        )
    if not isinstance(frame.index, pd.DatetimeIndex):
        raise ModelError("price frame index is not a DatetimeIndex", fix="index the frame by its 'date' column")
    if not frame.index.is_monotonic_increasing or frame.index.has_duplicates:
        raise ModelError("price frame dates are not strictly increasing", fix="sort and de-duplicate the dates")
    if (frame["close"] <= 0).any():
        row = frame.index[int(np.argmax((frame["close"] <= 0).to_numpy()))]
        raise ModelError("close must be positive for log returns", where=f"row {row.date()}")


def past_feature_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """All past features for every row of ``frame`` (NaN during the warm-up).

    Every value at a row comes from the rows of its own trailing window only (``ground.rolling``), so a bar's
    features are bit-identical whether the frame holds its whole history or just the last ``WARMUP_BARS`` + 1 rows:
    a paper session builds them from a short tail and gets the backtest's numbers.
    """
    _check_frame(frame)
    o, h, lo, c = (frame[k].to_numpy(dtype=np.float64) for k in ("open", "high", "low", "close"))
    logc = np.log(c)
    ret = np.concatenate([[np.nan], np.diff(logc)])
    ret_5 = np.full(len(c), np.nan)
    ret_5[5:] = logc[5:] - logc[:-5]
    logv = np.log1p(np.clip(frame["volume"].to_numpy(dtype=np.float64), 0.0, None))
    v_mean = trailing_mean(logv, VOL_WINDOW)
    v_std = trailing_std(logv, VOL_WINDOW)
    with np.errstate(divide="ignore", invalid="ignore"):
        # Constant volume (e.g. index bars with zero volume) has no spread: call that z-score 0, not NaN.
        volume_z = np.where(v_std > 0, (logv - v_mean) / v_std, np.where(np.isnan(v_std), np.nan, 0.0))
    feats = pd.DataFrame(
        {
            "ret_1": ret,
            "ret_5": ret_5,
            "range_hl": (h - lo) / c,
            "body_oc": (c - o) / o,
            "vol_5": trailing_std(ret, 5),
            "vol_21": trailing_std(ret, VOL_WINDOW),
            "volume_z": volume_z,
            "dist_ma21": logc - np.log(trailing_mean(c, VOL_WINDOW)),
        },
        index=frame.index,
    )
    return feats[list(PAST_FEATURES)]


def build_features(frame: pd.DataFrame, horizon: int = 5) -> FeatureSet:
    """Features, calendar inputs, labels and volatility for every row after the warm-up.

    Raises ``ModelError`` when the frame is shorter than the warm-up or a feature is not finite after it.
    """
    if horizon < 1:
        raise ModelError(f"horizon must be >= 1, got {horizon}")
    if len(frame) <= WARMUP_BARS:
        raise ModelError(
            f"price frame has {len(frame)} bars; features need more than {WARMUP_BARS} (warm-up)",
            fix="load a longer price history",
        )
    feats = past_feature_frame(frame).iloc[WARMUP_BARS:]
    values = feats.to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        r, col = np.argwhere(bad)[0]
        raise ModelError(
            f"feature '{PAST_FEATURES[col]}' is not finite",
            where=f"bar {feats.index[r].date()}",
            fix="check that bar's open/high/low/volume in the price data",
        )
    logc = np.log(frame["close"].to_numpy(dtype=np.float64))[WARMUP_BARS:]
    fwd = np.full(len(logc), np.nan)
    fwd[: max(len(logc) - horizon, 0)] = logc[horizon:] - logc[:-horizon]
    index = pd.DatetimeIndex(feats.index, name="date")
    return FeatureSet(
        index=index,
        past=values,
        future=future_calendar(index, horizon),
        fwd_return=fwd,
        volatility=feats["vol_21"].to_numpy(dtype=np.float64),
        horizon=horizon,
    )
