"""Sliding windows over a feature matrix, built once as strided tensor views.

Training draws batches by indexing these tensors with a permutation, so no per-sample Python runs in the hot
loop. Row bookkeeping is explicit because the walk-forward code audits leakage from it: a window whose last
input row is ``t`` reads input rows ``[t - L + 1, t]`` and target (and known-future) rows ``[t + 1, t + H]``,
and nothing else.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ml.errors import ModelError


@dataclass(frozen=True)
class WindowSet:
    """Aligned model inputs and targets for N windows.

    - ``x_past`` ``[N, L, F]``: rows ``[t - L + 1, t]`` of the feature matrix.
    - ``x_future`` ``[N, H, K]`` or ``None``: rows ``[t + 1, t + H]`` of the known-future matrix.
    - ``y`` ``[N, H, T]``: rows ``[t + 1, t + H]`` of the target matrix.
    - ``t_index`` ``[N]`` (int64 numpy): ``t``, the row of each window's last input step.

    Tensors may be overlapping strided views of one buffer (cheap to build); indexing copies only the batch.
    """

    x_past: torch.Tensor
    x_future: torch.Tensor | None
    y: torch.Tensor
    t_index: np.ndarray

    def __post_init__(self) -> None:
        n = self.x_past.shape[0]
        lengths = {self.y.shape[0], len(self.t_index)} | ({self.x_future.shape[0]} if self.x_future is not None else set())
        if lengths != {n}:
            raise ModelError(f"window set parts disagree on the number of windows ({n} vs {sorted(lengths)})")

    def __len__(self) -> int:
        return int(self.x_past.shape[0])

    @property
    def input_size(self) -> int:
        return int(self.x_past.shape[1])

    @property
    def horizon(self) -> int:
        return int(self.y.shape[1])

    @property
    def n_features(self) -> int:
        return int(self.x_past.shape[2])

    @property
    def n_targets(self) -> int:
        return int(self.y.shape[2])

    @property
    def n_future(self) -> int:
        return 0 if self.x_future is None else int(self.x_future.shape[2])

    def subset(self, idx: np.ndarray | torch.Tensor | slice | list[int]) -> WindowSet:
        """The windows at ``idx`` (positions, a boolean mask or a slice), in that order."""
        if isinstance(idx, slice):
            pos = np.arange(len(self))[idx]
        else:
            pos = np.asarray(idx.cpu() if isinstance(idx, torch.Tensor) else idx)
            if pos.dtype == bool:
                pos = np.flatnonzero(pos)
            pos = pos.astype(np.int64, copy=False)
        t = torch.from_numpy(pos).to(self.x_past.device)
        return WindowSet(
            x_past=self.x_past[t],
            x_future=None if self.x_future is None else self.x_future[t],
            y=self.y[t],
            t_index=self.t_index[pos],
        )

    def to(self, device: torch.device | str) -> WindowSet:
        """The same windows on ``device`` (materialises strided views there)."""
        return WindowSet(
            x_past=self.x_past.to(device),
            x_future=None if self.x_future is None else self.x_future.to(device),
            y=self.y.to(device),
            t_index=self.t_index,
        )


def _as_matrix(name: str, arr: np.ndarray, rows: int | None) -> torch.Tensor:
    a = np.asarray(arr)
    if a.ndim == 1:
        a = a[:, None]  # [R] -> [R, 1]
    if a.ndim != 2:
        raise ModelError(f"{name} must be a 2-D array [rows, columns], got shape {a.shape}")
    if rows is not None and a.shape[0] != rows:
        raise ModelError(f"{name} has {a.shape[0]} rows but values has {rows}", fix="pass arrays with the same rows")
    return torch.tensor(a, dtype=torch.float32)  # a private copy: later edits to the caller's array change nothing


def _check_finite(name: str, m: torch.Tensor, lo: int, hi: int) -> None:
    bad = ~torch.isfinite(m[lo:hi])
    if bool(bad.any()):
        row = lo + int(torch.nonzero(bad)[0, 0])
        raise ModelError(f"{name} has a NaN or infinite value", where=f"row {row}", fix="fill or drop missing values first")


def make_windows(
    values: np.ndarray,
    *,
    input_size: int,
    horizon: int,
    n_targets: int = 1,
    future: np.ndarray | None = None,
    targets: np.ndarray | None = None,
    stride: int = 1,
    start: int = 0,
    end: int | None = None,
) -> WindowSet:
    """Every window that lies entirely inside rows ``[start, end)`` of ``values`` ``[R, F]``.

    Window last-input rows are ``t = start + L - 1, start + L - 1 + stride, ...`` up to ``end - H - 1``, so
    inputs use rows ``[t - L + 1, t]`` and targets rows ``[t + 1, t + H]``, all within ``[start, end)``.
    Targets default to the first ``n_targets`` columns of ``values``; ``targets`` ``[R, T]`` supplies another
    series (e.g. per-bar log returns). ``future`` ``[R, K]`` holds known-future inputs, read at the target rows.
    Raises ``ModelError`` when the range holds no complete window or a touched row is not finite.
    """
    if input_size < 1 or horizon < 1 or stride < 1:
        raise ModelError(f"input_size, horizon and stride must be >= 1 (got {input_size}, {horizon}, {stride})")
    v = _as_matrix("values", values, None)
    rows = v.shape[0]
    end = rows if end is None else end
    if not 0 <= start <= end <= rows:
        raise ModelError(f"row range [{start}, {end}) is outside the {rows} rows of values")
    if targets is None:
        if not 1 <= n_targets <= v.shape[1]:
            raise ModelError(f"n_targets={n_targets} must be between 1 and the {v.shape[1]} columns of values")
        tgt = v[:, :n_targets]
    else:
        tgt = _as_matrix("targets", targets, rows)
    fut = None if future is None else _as_matrix("future", future, rows)

    span = end - start
    n = (span - input_size - horizon) // stride + 1 if span >= input_size + horizon else 0
    if n < 1:
        raise ModelError(
            f"too little history for one window: rows [{start}, {end}) hold {span} rows, "
            f"need input_size + horizon = {input_size + horizon}",
            fix="use more history or a shorter input_size/horizon",
        )
    first_t = start + input_size - 1
    last_t = first_t + (n - 1) * stride
    _check_finite("values", v, start, last_t + 1)
    _check_finite("targets", tgt, first_t + 1, last_t + horizon + 1)
    if fut is not None:
        _check_finite("future", fut, first_t + 1, last_t + horizon + 1)

    # unfold(0, size, step): [R', C] -> [N', C, size]; permute to [N', size, C]; keep the first n windows.
    x_past = v[start : last_t + 1].unfold(0, input_size, stride).permute(0, 2, 1)[:n]
    y = tgt[first_t + 1 : last_t + horizon + 1].unfold(0, horizon, stride).permute(0, 2, 1)[:n]
    x_future = None
    if fut is not None:
        x_future = fut[first_t + 1 : last_t + horizon + 1].unfold(0, horizon, stride).permute(0, 2, 1)[:n]
    t_index = np.arange(first_t, last_t + 1, stride, dtype=np.int64)
    return WindowSet(x_past=x_past, x_future=x_future, y=y, t_index=t_index)


def split_channels(ws: WindowSet) -> WindowSet:
    """Every target channel as a univariate window of its own: ``[N, L, C]`` -> ``[N * C, L, 1]``.

    Channel-independent training (one network with shared weights over every series, as PatchTST and
    neuralforecast's univariate models do) needs windows whose only input is the series being forecast. Needs
    ``n_features == n_targets`` (every input column is a target) and no known-future inputs. Rows are window-major:
    row ``n * C + c`` is channel ``c`` of window ``n``; ``merge_channels`` undoes it.
    """
    if ws.n_features != ws.n_targets or ws.x_future is not None:
        raise ModelError(
            f"channel-independent windows need every input column to be a target and no future inputs "
            f"(got {ws.n_features} inputs, {ws.n_targets} targets, {ws.n_future} future)"
        )
    n, c = len(ws), ws.n_targets
    x = ws.x_past.permute(0, 2, 1).reshape(n * c, ws.input_size, 1)  # [N, L, C] -> [N, C, L] -> [N*C, L, 1]
    y = ws.y.permute(0, 2, 1).reshape(n * c, ws.horizon, 1)  # [N, H, C] -> [N, C, H] -> [N*C, H, 1]
    return WindowSet(x_past=x, x_future=None, y=y, t_index=np.repeat(ws.t_index, c))


def merge_channels(pred: torch.Tensor, n_channels: int) -> torch.Tensor:
    """Forecasts of ``split_channels`` windows back to one row per window: ``[N * C, H, 1, ...]`` -> ``[N, H, C, ...]``."""
    if pred.shape[0] % n_channels or pred.shape[2] != 1:
        raise ModelError(f"cannot merge forecasts of shape {tuple(pred.shape)} into {n_channels} channels")
    n, h, rest = pred.shape[0] // n_channels, pred.shape[1], tuple(pred.shape[3:])
    out = pred.reshape(n, n_channels, h, *rest)  # [N*C, H, 1, ...] -> [N, C, H, ...]
    return out.transpose(1, 2)  # [N, C, H, ...] -> [N, H, C, ...]


@dataclass(frozen=True)
class WindowScale:
    """Per-window statistics of ``standardize_windows``: ``mean`` and ``std`` ``[N, 1, T]`` of the target columns."""

    mean: torch.Tensor
    std: torch.Tensor

    def invert(self, pred: torch.Tensor) -> torch.Tensor:
        """Forecasts ``[N, H, T]`` or ``[N, H, T, Q]`` made on standardised windows, back on the windows' scale."""
        if pred.dim() == 4:
            return pred * self.std.unsqueeze(-1) + self.mean.unsqueeze(-1)  # [N, 1, T, 1] broadcast over H, Q
        return pred * self.std + self.mean  # [N, 1, T] broadcast over H


def standardize_windows(ws: WindowSet, eps: float = 1e-5) -> tuple[WindowSet, WindowScale]:
    """Each window scaled by the mean and standard deviation of its own input rows (targets by their columns').

    A series whose level drifts far from the training range (ETTh1's OT in its test months sits 1.3 training
    standard deviations below the training mean) is then seen at a familiar scale; the statistics come from the
    input rows only, so nothing of the forecast horizon leaks in. This is neuralforecast's ``scaler_type=
    "standard"`` and RevIN's normalisation without the learned affine part; the network's loss is then taken on
    the standardised targets. Known-future inputs are left as they are.
    """
    mean = ws.x_past.mean(dim=1, keepdim=True)  # [N, L, F] -> [N, 1, F]
    std = ws.x_past.std(dim=1, keepdim=True, unbiased=False).clamp_min(eps)  # [N, 1, F]
    t = ws.n_targets
    scale = WindowScale(mean=mean[..., :t], std=std[..., :t])  # targets are the first T input columns
    scaled = WindowSet(
        x_past=(ws.x_past - mean) / std, x_future=ws.x_future, y=(ws.y - scale.mean) / scale.std, t_index=ws.t_index,
    )
    return scaled, scale
