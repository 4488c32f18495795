"""The tensor and persistence contract every registered network must keep (tiny configurations, CPU)."""
from __future__ import annotations

import json
from typing import Any

import pytest
import torch
from safetensors.torch import load_file, save_file

from ml.networks.base import ForecastNetwork
from ml.networks.registry import NETWORK_NAMES, build_network, default_hparams, get_network

B, L, H, F, T, K = 4, 16, 4, 3, 2, 2
NETWORKS = {name: get_network(name) for name in NETWORK_NAMES}
CASES = [(name, k) for name, cls in NETWORKS.items() for k in ((K, 0) if cls.FUTURE_EXOG else (K,))]


def make(name: str, n_future: int = K, seed: int = 0, **over: Any) -> ForecastNetwork:
    torch.manual_seed(seed)
    hp = {**default_hparams(name, "tiny"), "input_size": L, "horizon": H, "n_features": F, "n_targets": T,
          "n_future": n_future, **over}
    return build_network(name, **hp)


def inputs(n_future: int = K, seed: int = 1, batch: int = B) -> tuple[torch.Tensor, torch.Tensor | None]:
    g = torch.Generator().manual_seed(seed)
    x_future = torch.randn(batch, H, n_future, generator=g) if n_future else None
    return torch.randn(batch, L, F, generator=g), x_future


@pytest.mark.parametrize(("name", "n_future"), CASES)
def test_output_shape_and_loss(name: str, n_future: int) -> None:
    net = make(name, n_future)
    out = net(*inputs(n_future))
    q = len(net.quantiles) if net.QUANTILES else 1
    assert out.shape == (B, H, T, q)
    assert torch.isfinite(out).all()
    assert net.point(out).shape == (B, H, T)
    loss = net.loss(out, torch.zeros(B, H, T))
    assert loss.ndim == 0 and torch.isfinite(loss) and loss > 0


@pytest.mark.parametrize("name", list(NETWORKS))
def test_univariate_single_column(name: str) -> None:
    """n_features == n_targets == 1 (single-variable paths, e.g. TFT's one-input selection) keeps the contract."""
    net = make(name, n_future=0, n_features=1, n_targets=1)
    out = net(torch.randn(B, L, 1))
    assert out.shape[:3] == (B, H, 1) and torch.isfinite(out).all()


@pytest.mark.parametrize(("name", "n_future"), CASES)
def test_gradients_reach_every_parameter(name: str, n_future: int) -> None:
    net = make(name, n_future)
    net.train()
    x_past, x_future = inputs(n_future)
    net.loss(net(x_past, x_future), torch.randn(B, H, T)).backward()
    missing = [n for n, p in net.named_parameters() if p.grad is None]
    bad = [n for n, p in net.named_parameters() if p.grad is not None and not torch.isfinite(p.grad).all()]
    zero = [n for n, p in net.named_parameters() if p.grad is not None and not p.grad.abs().sum() > 0]
    assert not missing and not bad and not zero, (missing, bad, zero)


@pytest.mark.parametrize(("name", "n_future"), CASES)
def test_safetensors_round_trip_is_exact(name: str, n_future: int, tmp_path) -> None:
    net = make(name, n_future)
    x_past, x_future = inputs(n_future)
    net.train()
    for _ in range(2):  # move BatchNorm running statistics away from their initial values
        net(x_past, x_future)
    net.eval()
    with torch.no_grad():
        expected = net(x_past, x_future)
    save_file(net.state_dict(), tmp_path / "weights.safetensors")
    hparams = json.loads(json.dumps(net.hparams))  # what the model store writes to meta.json
    torch.manual_seed(123)  # a different initialisation, fully overwritten by the load
    clone = type(net)(**hparams)
    clone.load_state_dict(load_file(tmp_path / "weights.safetensors"), strict=True)
    clone.eval()
    with torch.no_grad():
        assert torch.equal(clone(x_past, x_future), expected)
    assert clone.hparams == hparams


@pytest.mark.parametrize("name", list(NETWORKS))
def test_rebuild_from_hparams_gives_the_same_architecture(name: str) -> None:
    net = make(name)
    clone = type(net)(**net.hparams)
    shapes = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    assert shapes == {k: tuple(v.shape) for k, v in clone.state_dict().items()}
    assert str(clone) == str(net)


@pytest.mark.parametrize("name", list(NETWORKS))
def test_same_seed_gives_same_weights_and_output(name: str) -> None:
    a, b = make(name, seed=7), make(name, seed=7)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True))
    x_past, x_future = inputs()
    torch.manual_seed(3)
    out_a = a.train()(x_past, x_future)
    torch.manual_seed(3)
    out_b = b.train()(x_past, x_future)
    assert torch.equal(out_a, out_b)
    c = make(name, seed=8)
    assert not all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), c.state_dict().values()))


@pytest.mark.parametrize("name", list(NETWORKS))
def test_dropout_is_active_in_train_mode_only(name: str) -> None:
    net = make(name, dropout=0.3)
    x_past, x_future = inputs()
    net.eval()
    with torch.no_grad():
        first, second = net(x_past, x_future), net(x_past, x_future)
    assert torch.equal(first, second)
    net.train()
    with torch.no_grad():
        torch.manual_seed(1)
        noisy_a = net(x_past, x_future)
        torch.manual_seed(2)
        noisy_b = net(x_past, x_future)
    assert not torch.allclose(noisy_a, noisy_b)


@pytest.mark.parametrize("name", list(NETWORKS))
def test_eval_outputs_do_not_mix_samples(name: str) -> None:
    net = make(name).eval()
    x_past, x_future = inputs()
    with torch.no_grad():
        full = net(x_past, x_future)
        part = net(x_past[:2], None if x_future is None else x_future[:2])
    torch.testing.assert_close(part, full[:2], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", list(NETWORKS))
def test_inputs_used_as_the_capability_flags_say(name: str) -> None:
    net = make(name).eval()
    x_past, x_future = inputs()
    other = x_past.clone()
    other[..., T:] += 1.0  # change only the non-target columns
    with torch.no_grad():
        base = net(x_past, x_future)
        assert torch.equal(base, net(other, x_future)) != net.MULTIVARIATE
        assert torch.equal(base, net(x_past, x_future + 1.0)) != net.FUTURE_EXOG


@pytest.mark.parametrize("name", list(NETWORKS))
def test_a_few_steps_fit_a_fixed_batch(name: str) -> None:
    """Gradients point downhill: 30 Adam steps on one batch lower its training loss."""
    net = make(name, dropout=0.0)
    x_past, x_future = inputs()
    y = x_past[:, -H:, :T].flip(1)  # a target the network can map from its inputs
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    net.train()
    losses = []
    for step in range(30):
        torch.manual_seed(step)
        loss = net.loss(net(x_past, x_future), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.7 * losses[0], losses
