"""Window construction: exact row bookkeeping (the leakage audit relies on it), targets, strides, errors."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from ml.errors import ModelError
from ml.gm.windows import make_windows, merge_channels, split_channels, standardize_windows


def _values(rows: int = 30, cols: int = 3) -> np.ndarray:
    # value = 100 * row + column, so every element says which row and column it came from
    return (np.arange(rows)[:, None] * 100 + np.arange(cols)[None, :]).astype(np.float64)


def test_rows_touched_match_the_documented_ranges() -> None:
    ws = make_windows(_values(), input_size=5, horizon=3, n_targets=2)
    assert len(ws) == 30 - 5 - 3 + 1
    assert ws.x_past.shape == (23, 5, 3) and ws.y.shape == (23, 3, 2) and ws.x_future is None
    for i, t in enumerate(ws.t_index):
        np.testing.assert_array_equal(ws.x_past[i, :, 0].numpy(), 100 * np.arange(t - 4, t + 1))
        np.testing.assert_array_equal(ws.y[i, :, 1].numpy(), 100 * np.arange(t + 1, t + 4) + 1)
    assert ws.t_index[0] == 4 and ws.t_index[-1] == 26


def test_start_end_stride_keep_windows_inside_the_range() -> None:
    ws = make_windows(_values(40), input_size=4, horizon=2, start=10, end=30, stride=3)
    assert ws.t_index.tolist() == [13, 16, 19, 22, 25]  # 25 + 2 = 27 < 30, 28 + 2 = 30 would leave the range
    assert float(ws.x_past.min()) == 1000.0  # row 10 is the earliest row read
    assert float(ws.y.max()) == 2700.0  # row 27 is the latest row read


def test_custom_targets_and_future_are_read_at_the_horizon_rows() -> None:
    v = _values(20)
    targets = -np.arange(20, dtype=float)
    future = np.stack([np.arange(20) * 10.0, np.ones(20)], axis=1)
    ws = make_windows(v, input_size=3, horizon=2, targets=targets, future=future)
    t = ws.t_index[4]
    assert ws.y[4, :, 0].tolist() == [-(t + 1), -(t + 2)]
    assert ws.x_future is not None and ws.x_future.shape == (len(ws), 2, 2)
    assert ws.x_future[4, :, 0].tolist() == [10.0 * (t + 1), 10.0 * (t + 2)]
    assert ws.n_future == 2 and ws.n_targets == 1 and ws.horizon == 2 and ws.input_size == 3


def test_windows_copy_the_input_and_subset_keeps_alignment() -> None:
    v = _values(12)
    ws = make_windows(v, input_size=2, horizon=1)
    v[:] = -1.0
    assert float(ws.x_past.min()) >= 0.0  # later edits to the caller's array do not leak in
    sub = ws.subset(np.array([5, 0, 7]))
    assert sub.t_index.tolist() == [6, 1, 8]
    assert torch.equal(sub.y, ws.y[[5, 0, 7]])
    mask = np.zeros(len(ws), dtype=bool)
    mask[[1, 2]] = True
    assert ws.subset(mask).t_index.tolist() == [2, 3]
    assert ws.subset(slice(0, 3)).t_index.tolist() == [1, 2, 3]


def test_too_little_history_and_bad_values_are_clear_errors() -> None:
    with pytest.raises(ModelError, match="too little history"):
        make_windows(_values(5), input_size=4, horizon=2)
    v = _values(10)
    v[3, 1] = np.nan
    with pytest.raises(ModelError, match="row 3"):
        make_windows(v, input_size=2, horizon=1)
    with pytest.raises(ModelError, match="rows"):
        make_windows(_values(10), input_size=2, horizon=1, targets=np.zeros(9))
    with pytest.raises(ModelError, match="n_targets"):
        make_windows(_values(10), input_size=2, horizon=1, n_targets=4)
    with pytest.raises(ModelError, match="outside"):
        make_windows(_values(10), input_size=2, horizon=1, start=3, end=11)


def test_split_channels_makes_univariate_windows_and_merge_restores_them() -> None:
    rng = np.random.default_rng(3)
    v = rng.standard_normal((40, 3))
    ws = make_windows(v, input_size=6, horizon=4, n_targets=3)
    per = split_channels(ws)
    assert (per.n_features, per.n_targets, len(per)) == (1, 1, 3 * len(ws))
    n, c = 5, 2
    assert torch.equal(per.x_past[n * 3 + c, :, 0], ws.x_past[n, :, c])  # row n*C + c is channel c of window n
    assert torch.equal(per.y[n * 3 + c, :, 0], ws.y[n, :, c])
    assert per.t_index[n * 3 + c] == ws.t_index[n]
    pred = per.y.unsqueeze(-1).repeat(1, 1, 1, 2)  # [N*C, H, 1] -> [N*C, H, 1, Q=2]
    merged = merge_channels(pred, 3)
    assert merged.shape == (len(ws), 4, 3, 2) and torch.equal(merged[..., 1], ws.y)
    with pytest.raises(ModelError, match="every input column"):
        split_channels(make_windows(v, input_size=6, horizon=4, n_targets=1))
    with pytest.raises(ModelError, match="cannot merge"):
        merge_channels(pred[:-1], 3)


def test_standardize_windows_uses_each_windows_inputs_only_and_inverts_exactly() -> None:
    rng = np.random.default_rng(4)
    v = np.cumsum(rng.standard_normal((60, 2)), axis=0) + 50.0  # a drifting level far from zero
    ws = make_windows(v, input_size=8, horizon=3, n_targets=1)
    scaled, scale = standardize_windows(ws)
    assert torch.allclose(scaled.x_past.mean(dim=1), torch.zeros(len(ws), 2), atol=1e-4)
    assert torch.allclose(scaled.x_past.std(dim=1, unbiased=False), torch.ones(len(ws), 2), atol=1e-4)
    assert torch.allclose(scale.invert(scaled.y), ws.y, atol=1e-4)
    assert torch.allclose(scale.invert(scaled.y.unsqueeze(-1)).squeeze(-1), ws.y, atol=1e-4)
    # changing a target row (the future) changes nothing of the statistics
    v2 = v.copy()
    t = int(ws.t_index[0])
    v2[t + 1 :, :] += 100.0
    scaled2, scale2 = standardize_windows(make_windows(v2, input_size=8, horizon=3, n_targets=1))
    assert torch.equal(scale2.mean[0], scale.mean[0]) and torch.equal(scale2.std[0], scale.std[0])
    assert torch.equal(scaled2.x_past[0], scaled.x_past[0])
    flat = make_windows(np.ones((20, 1)), input_size=5, horizon=2)
    assert torch.isfinite(standardize_windows(flat)[0].x_past).all()  # a constant window does not divide by zero
