"""Trainer: learns, restores best-validation weights, is deterministic, honours its budget and config rules."""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from ground.config import from_mapping
from ground.errors import ConfigError, InvalidValue
from ml.errors import ModelError
from ml.gm.windows import WindowSet, make_windows
from ml.networks.base import ForecastNetwork
from ml.train_config import TrainConfig
from ml.trainer import _lr_factor, fit, predict


class TinyNet(ForecastNetwork):
    """A linear forecaster over the flattened window (and known-future inputs), with dropout."""

    name = "tiny"

    def __init__(self, *, hidden: int = 8, dropout: float = 0.1, **kw: Any) -> None:
        super().__init__(hidden=hidden, dropout=dropout, **kw)
        n_in = self.input_size * self.n_features + self.horizon * self.n_future
        n_out = self.horizon * self.n_targets * len(self.quantiles)
        self.body = nn.Sequential(nn.Linear(n_in, hidden), nn.Dropout(dropout), nn.Linear(hidden, n_out))

    def forward(self, x_past: torch.Tensor, x_future: torch.Tensor | None = None) -> torch.Tensor:
        b = x_past.shape[0]
        parts = [x_past.reshape(b, -1)]  # [B, L, F] -> [B, L*F]
        if x_future is not None:
            parts.append(x_future.reshape(b, -1))  # [B, H, K] -> [B, H*K]
        out = self.body(torch.cat(parts, dim=1))
        return out.reshape(b, self.horizon, self.n_targets, len(self.quantiles))  # [B, H*T*Q] -> [B, H, T, Q]


class TinyQuantileNet(TinyNet):
    name = "tiny_q"
    QUANTILES = True
    FUTURE_EXOG = True


def sine_windows(rows: int = 400, input_size: int = 16, horizon: int = 4, seed: int = 0) -> tuple[WindowSet, WindowSet]:
    """Two noisy sines as features (target first), split 75/25 in time."""
    rng = np.random.default_rng(seed)
    t = np.arange(rows)
    v = np.stack([np.sin(t / 5.0), np.cos(t / 7.0)], axis=1) + 0.05 * rng.standard_normal((rows, 2))
    cut = int(rows * 0.75)
    train = make_windows(v, input_size=input_size, horizon=horizon, end=cut)
    val = make_windows(v, input_size=input_size, horizon=horizon, start=cut - input_size)
    return train, val


def tiny(**kw: Any) -> TinyNet:
    torch.manual_seed(0)
    return TinyNet(input_size=16, horizon=4, n_features=2, **kw)


def test_fit_learns_and_reports() -> None:
    train, val = sine_windows()
    net = tiny()
    res = fit(net, train, val, TrainConfig(max_epochs=15, batch_size=32, learning_rate=1e-2, device="cpu"))
    assert res.epochs_run == 15 and len(res.history) == 15 and res.device == "cpu"
    assert res.steps == 15 * (len(train) // 32)
    assert res.history[-1][0] < res.history[0][0] / 3  # training loss falls
    assert res.best_val_loss is not None and res.best_val_loss < 0.05  # sine is predictable from 16 lags
    assert res.best_val_loss == min(v for _, v in res.history if v is not None)
    assert res.train_samples_per_s > 0 and res.seconds > 0
    assert not net.training  # left in eval mode


def test_best_validation_weights_are_restored() -> None:
    train, val = sine_windows()
    net = tiny()
    snapshots: list[dict[str, torch.Tensor]] = []
    # A learning rate this high makes validation loss bounce, so the last epoch is rarely the best one.
    cfg = TrainConfig(max_epochs=12, batch_size=16, learning_rate=0.3, lr_schedule="none", patience=100, device="cpu", grad_clip=0)
    res = fit(net, train, val, cfg, progress=lambda e, tl, vl: snapshots.append({k: v.clone() for k, v in net.state_dict().items()}))
    vals = [v for _, v in res.history]
    assert res.best_epoch == 1 + int(np.argmin(vals))
    assert res.best_epoch != res.epochs_run, "test needs a run whose last epoch is not its best"
    best = snapshots[res.best_epoch - 1]
    assert all(torch.equal(best[k], v) for k, v in net.state_dict().items())
    assert math.isclose(float(torch.mean((predict(net, val)[..., 0] - val.y) ** 2)), res.best_val_loss, rel_tol=1e-5)


def test_early_stopping_stops_after_patience() -> None:
    train, val = sine_windows()
    cfg = TrainConfig(max_epochs=200, batch_size=32, learning_rate=0.5, lr_schedule="none", patience=2, device="cpu")
    res = fit(tiny(), train, val, cfg)
    assert res.stop_reason == "early_stopping"
    assert res.epochs_run == res.best_epoch + 2


def test_same_seed_same_result_and_seed_matters() -> None:
    train, val = sine_windows()
    cfg = TrainConfig(max_epochs=3, batch_size=16, device="cpu", seed=7)
    a, b, c = tiny(), tiny(), tiny()
    ra, rb = fit(a, train, val, cfg), fit(b, train, val, cfg)
    assert ra.history == rb.history
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    rc = fit(c, train, val, TrainConfig(max_epochs=3, batch_size=16, device="cpu", seed=8))
    assert rc.history != ra.history
    d = tiny()
    torch.manual_seed(123)
    expected = torch.rand(1)
    torch.manual_seed(123)
    fit(d, train, None, cfg)
    assert torch.equal(torch.rand(1), expected)  # the caller's RNG stream is untouched


def test_no_validation_keeps_last_weights_and_time_budget_stops() -> None:
    train, _ = sine_windows()
    res = fit(tiny(), train, None, TrainConfig(max_epochs=2, device="cpu"))
    assert res.best_val_loss is None and res.best_epoch == 2 and all(v is None for _, v in res.history)
    res = fit(tiny(), train, None, TrainConfig(max_epochs=10_000, batch_size=1, device="cpu", max_train_seconds=0.3))
    assert res.stop_reason == "time_budget" and res.epochs_run < 10_000 and res.seconds < 5


def test_quantile_network_with_future_inputs() -> None:
    rng = np.random.default_rng(1)
    v = rng.standard_normal((200, 2))
    fut = rng.standard_normal((200, 3))
    ws = make_windows(v, input_size=8, horizon=3, future=fut)
    torch.manual_seed(0)
    net = TinyQuantileNet(input_size=8, horizon=3, n_features=2, n_future=3, quantiles=(0.1, 0.5, 0.9))
    res = fit(net, ws.subset(slice(0, 150)), ws.subset(slice(150, None)), TrainConfig(max_epochs=30, learning_rate=1e-2, device="cpu"))
    pred = predict(net, ws, batch_size=7)
    assert pred.shape == (len(ws), 3, 1, 3) and pred.dtype == torch.float32
    assert res.history[-1][0] < res.history[0][0]
    assert float((pred[..., 2] >= pred[..., 0]).float().mean()) > 0.9  # quantiles come out ordered


def test_mismatched_windows_and_divergence_are_model_errors() -> None:
    train, val = sine_windows(horizon=5)
    with pytest.raises(ModelError, match="do not match"):
        fit(tiny(), train, val, TrainConfig(max_epochs=1, device="cpu"))
    train, val = sine_windows()
    with pytest.raises(ModelError, match="diverged"):
        fit(tiny(), train, val, TrainConfig(max_epochs=5, learning_rate=1e12, grad_clip=0, lr_schedule="none", device="cpu"))


@pytest.mark.parametrize(
    ("field", "value"),
    [("max_epochs", 0), ("batch_size", -1), ("learning_rate", 0.0), ("learning_rate", float("nan")), ("patience", 0),
     ("grad_clip", -1.0), ("warmup_epochs", 100), ("max_train_seconds", 0), ("val_every", 0), ("seed", 1.5)],
)
def test_config_rejects_bad_values_naming_the_field(field: str, value: object) -> None:
    with pytest.raises(InvalidValue, match=f"^{field}:"):
        TrainConfig(**{field: value})  # type: ignore[arg-type]


def test_config_suggests_close_names() -> None:
    with pytest.raises(InvalidValue, match="did you mean 'cosine'"):
        TrainConfig(lr_schedule="cosin")
    with pytest.raises(InvalidValue, match="did you mean 'cuda'"):
        TrainConfig(device="cdua")
    with pytest.raises(ConfigError, match="did you mean 'learning_rate'"):
        from_mapping(TrainConfig, {"learning_rat": 0.1}, "test.toml")
    assert from_mapping(TrainConfig, {"max_epochs": 3}, "test.toml").max_epochs == 3


def test_cosine_schedule_decays_over_a_time_budget_when_it_ends_first() -> None:
    total = 1_000_000  # epochs far beyond what the budget allows
    assert _lr_factor(10, 0, total, "cosine") == pytest.approx(1.0, abs=1e-4)
    assert _lr_factor(10, 0, total, "cosine", time_fraction=0.5) == pytest.approx(0.5)
    assert _lr_factor(10, 0, total, "cosine", time_fraction=1.2) == pytest.approx(0.0)
    assert _lr_factor(900_000, 0, total, "cosine", time_fraction=0.1) < 0.03  # steps ahead of time: steps rule
    assert _lr_factor(10, 0, total, "none", time_fraction=0.9) == 1.0  # only the cosine schedule follows time
    assert _lr_factor(2, 5, total, "cosine", time_fraction=0.9) == pytest.approx(3 / 5)  # warmup first
