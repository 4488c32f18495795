"""N-BEATS specifics: interpretable decomposition, bases, weight sharing, channel independence."""
from __future__ import annotations

import pytest
import torch

from ml.errors import ModelError
from ml.networks.nbeats import NBEATS, seasonality_basis, trend_basis

L, H = 24, 8


def interpretable(**over) -> NBEATS:
    torch.manual_seed(0)
    hp = dict(input_size=L, horizon=H, n_features=3, n_targets=2, kind="interpretable", n_blocks=3, n_layers=2,
              trend_width=16, seasonality_width=32, trend_degree=2)
    return NBEATS(**{**hp, **over}).eval()


def span_residual(parts: torch.Tensor, basis: torch.Tensor) -> torch.Tensor:
    """Largest distance of each ``[..., H]`` row from the row space of ``basis`` ``[P, H]``."""
    rows = parts.reshape(-1, parts.shape[-1])  # [..., H] -> [N, H]
    coef = torch.linalg.lstsq(basis.T.double(), rows.T.double()).solution  # [P, N]
    return (basis.T.double() @ coef - rows.T.double()).abs().max()


@pytest.mark.parametrize("naive_level", [True, False])
def test_interpretable_forecast_is_the_sum_of_its_parts(naive_level: bool) -> None:
    net = interpretable(naive_level=naive_level)
    x = torch.randn(5, L, 3)
    with torch.no_grad():
        parts = net.decompose(x)
        out = net(x)
    expected = {"level", "trend", "seasonality"} if naive_level else {"trend", "seasonality"}
    assert set(parts) == expected
    torch.testing.assert_close(out[..., 0], sum(parts.values()), rtol=1e-6, atol=1e-6)
    if naive_level:
        assert torch.equal(parts["level"], x[:, -1:, :2].expand(5, H, 2))  # last value of each target


def test_trend_part_is_a_polynomial_and_seasonality_part_is_periodic() -> None:
    net = interpretable()
    with torch.no_grad():
        parts = net.decompose(torch.randn(5, L, 3))
    trend = parts["trend"].transpose(1, 2)  # [B, H, T] -> [B, T, H]
    season = parts["seasonality"].transpose(1, 2)  # [B, H, T] -> [B, T, H]
    scale = trend.abs().max()
    assert scale > 0 and season.abs().max() > 0
    assert torch.diff(trend, n=3, dim=-1).abs().max() < 1e-4 * scale  # degree 2: third differences vanish
    assert span_residual(trend, trend_basis(2, H)) < 1e-4 * scale
    assert span_residual(season, seasonality_basis(H, H)) < 1e-4 * season.abs().max()
    ramp = torch.linspace(0.0, 1.0, H).unsqueeze(0)  # a trend is not in the Fourier span
    assert span_residual(ramp, seasonality_basis(H, H)) > 1e-2


def test_bases_have_the_paper_shapes() -> None:
    t = torch.arange(H) / H
    torch.testing.assert_close(trend_basis(2, H), torch.stack([torch.ones(H), t, t**2]))
    season = seasonality_basis(H, H)
    assert season.shape == (2 * (H // 2 - 1) + 1, H)  # cos k=0..3, sin k=1..3
    torch.testing.assert_close(season[1], torch.cos(2 * torch.pi * t))
    torch.testing.assert_close(season[H // 2], torch.sin(2 * torch.pi * t))


def test_interpretable_stacks_share_weights_by_default() -> None:
    shared, separate = interpretable(), interpretable(share_weights=False)
    assert [len(s.blocks) for s in shared.stacks] == [1, 1]
    assert [len(s.blocks) for s in separate.stacks] == [3, 3]
    n_shared = sum(p.numel() for p in shared.parameters())
    assert 3 * n_shared == sum(p.numel() for p in separate.parameters())


def test_generic_decomposition_has_one_part_per_stack() -> None:
    torch.manual_seed(0)
    net = NBEATS(input_size=L, horizon=H, n_features=1, n_stacks=3, n_layers=2, layer_width=16).eval()
    x = torch.randn(2, L, 1)
    with torch.no_grad():
        parts = net.decompose(x)
        assert list(parts) == ["level", "stack_0", "stack_1", "stack_2"]
        torch.testing.assert_close(net(x)[..., 0], sum(parts.values()))


def test_each_target_is_forecast_as_its_own_series_with_shared_weights() -> None:
    multi = interpretable()
    x = torch.randn(4, L, 3)
    torch.manual_seed(1)
    single = NBEATS(**{**multi.hparams, "n_features": 1, "n_targets": 1}).eval()
    single.load_state_dict(multi.state_dict())  # the weights do not depend on the number of series
    with torch.no_grad():
        both = multi(x)
        for t in range(2):
            torch.testing.assert_close(both[:, :, t], single(x[:, :, t : t + 1])[:, :, 0], rtol=1e-5, atol=1e-6)
        changed = x.clone()
        changed[:, :, 1] += 3.0  # the second target's history moves: the first target's forecast does not
        assert torch.equal(multi(changed)[:, :, 0], both[:, :, 0])


def test_unknown_kind_is_rejected_with_a_suggestion() -> None:
    with pytest.raises(ModelError, match="interpretable"):
        NBEATS(input_size=L, horizon=H, n_features=1, kind="interpretible")
