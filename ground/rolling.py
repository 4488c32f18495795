"""Trailing-window statistics whose value at a row depends only on the rows of its own window.

pandas' rolling mean and std keep running sums along the whole series, so the value at a row carries rounding from
every earlier row: the same bar gets a value that differs by about 1e-12 in a frame that starts later. A paper
session computes a bar's inputs from a short tail of its history while the backtest uses the whole series; summing
each window on its own, oldest row first, makes the two bit-identical, so the tail is not an approximation.

Every function returns an array as long as its input, NaN for the first ``window - 1`` rows and for any window that
holds a NaN (pandas' ``rolling(window)`` with the default ``min_periods``).
"""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

Floats = NDArray[np.float64]


def _windows(x: ArrayLike, window: int) -> tuple[Floats, int]:
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"need a 1-D series, got shape {arr.shape}")
    return arr, max(len(arr) - window + 1, 0)


def _pad(values: Floats, n: int) -> Floats:
    out = np.full(n, np.nan)
    if len(values):
        out[n - len(values):] = values
    return out


def _sum_of_windows(arr: Floats, window: int, m: int) -> Floats:
    """Window ``j`` covers rows ``j .. j + window - 1``; the adds run oldest row first for every window alike."""
    acc = np.zeros(m)
    for k in range(window):
        acc += arr[k : k + m]
    return acc


def trailing_mean(x: ArrayLike, window: int) -> Floats:
    """Mean of the ``window`` rows ending at each row."""
    arr, m = _windows(x, window)
    return _pad(_sum_of_windows(arr, window, m) / window, len(arr))


def trailing_std(x: ArrayLike, window: int, ddof: int = 1) -> Floats:
    """Standard deviation (two-pass, ``ddof`` as pandas' default) of the ``window`` rows ending at each row.

    A window whose rows are all equal has a standard deviation of exactly 0 (a two-pass mean can be off by an ulp,
    which would otherwise leave a tiny positive spread that a z-score divides by).
    """
    arr, m = _windows(x, window)
    if window - ddof < 1:
        raise ValueError(f"window {window} with ddof {ddof} leaves no degrees of freedom")
    mean = _sum_of_windows(arr, window, m) / window
    dev = np.zeros(m)
    for k in range(window):
        dev += (arr[k : k + m] - mean) ** 2
    std = np.sqrt(dev / (window - ddof))
    if m:
        view = np.lib.stride_tricks.sliding_window_view(arr, window)
        std[view.max(axis=1) == view.min(axis=1)] = 0.0  # NaN windows compare False and stay NaN
    return _pad(std, len(arr))
