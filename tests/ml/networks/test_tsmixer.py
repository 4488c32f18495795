"""TSMixer specifics: reversible instance normalisation, mixing axes, the auxiliary-input variant."""
from __future__ import annotations

import pytest
import torch

from ml.networks.layers import RevIN
from ml.networks.tsmixer import TSMixer, TSMixerX

B, L, H, F = 4, 16, 4, 3


def test_revin_round_trip_restores_the_input() -> None:
    revin = RevIN(F)
    with torch.no_grad():
        revin.weight.uniform_(0.5, 2.0)
        revin.bias.normal_()
    x = torch.randn(B, L, F) * 5 + 3
    z, stats = revin.normalize(x)
    torch.testing.assert_close(revin.denormalize(z, stats), x, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("norm", ["batch", "layer"])
def test_forecast_follows_a_per_window_rescaling_of_the_inputs(norm: str) -> None:
    """With RevIN, scaling and shifting every channel of a window scales and shifts the forecast the same way."""
    torch.manual_seed(0)
    net = TSMixer(input_size=L, horizon=H, n_features=F, n_targets=2, ff_dim=8, norm=norm).eval()
    with torch.no_grad():
        net.revin.weight.uniform_(0.5, 2.0)
        net.revin.bias.normal_()
        x = torch.randn(B, L, F)
        scale, shift = torch.tensor([2.0, 0.5, 3.0]), torch.tensor([10.0, -4.0, 1.0])
        out, moved = net(x), net(x * scale + shift)
    torch.testing.assert_close(moved[..., 0], out[..., 0] * scale[:2] + shift[:2], rtol=1e-3, atol=1e-3)


def test_time_mixing_is_shared_across_features_and_feature_mixing_across_time() -> None:
    net = TSMixer(input_size=L, horizon=H, n_features=F, ff_dim=8)
    block = net.blocks[0]
    assert block.time.fc.weight.shape == (L, L)
    assert block.feature.fc1.weight.shape == (8, F) and block.feature.fc2.weight.shape == (F, 8)
    assert net.projection.weight.shape == (H, L)


def test_extended_variant_uses_future_and_static_inputs() -> None:
    torch.manual_seed(0)
    net = TSMixerX(input_size=L, horizon=H, n_features=F, n_targets=1, n_future=2, n_static=2, ff_dim=8).eval()
    x_past, x_future, x_static = torch.randn(B, L, F), torch.randn(B, H, 2), torch.randn(B, 2)
    with torch.no_grad():
        out = net(x_past, x_future, x_static)
        assert out.shape == (B, H, 1, 1)
        assert not torch.allclose(out, net(x_past, x_future, x_static + 1.0))
        assert not torch.allclose(out, net(x_past, x_future + 1.0, x_static))
    with pytest.raises(ValueError, match="x_static"):
        net(x_past, x_future)
    assert all(b.static is not None for b in net.blocks)  # conditional feature mixing in every layer
