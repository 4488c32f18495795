"""Shared blocks: the cheap-mask dropout, the explicit training path of full attention, fused projections."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from ml.networks.informer import DistilLayer
from ml.networks.layers import (
    DROPOUT_BITS,
    GAP_SAMPLING_BELOW,
    AttentionLayer,
    Dropout,
    FullAttention,
    bernoulli_positions,
)
from ml.networks.tft import TFT


@pytest.mark.parametrize("p", [0.05, 0.1, 0.5, 0.9])
def test_dropout_keeps_one_minus_p_and_is_unbiased(p: float) -> None:
    torch.manual_seed(0)
    drop = Dropout(p).train()
    x = torch.ones(400_000)
    out = drop(x)
    kept = out != 0
    keep = kept.float().mean().item()
    # binomial standard error at n = 400k is below 8e-4; the threshold rounds 1 - p by at most 2^-16
    assert abs(keep - (1 - p)) < 5 * math.sqrt(p * (1 - p) / x.numel()) + 2.0**-16
    assert abs(drop.threshold / 2**DROPOUT_BITS - (1 - p)) <= 2.0**-16
    if p < GAP_SAMPLING_BELOW:  # dropped positions drawn directly: keep probability exactly 1 - p
        torch.testing.assert_close(out[kept], torch.full_like(out[kept], 1 / (1 - p)))
    else:  # bit mask: kept values scaled by 1 / (threshold / 2^15) exactly
        torch.testing.assert_close(out[kept], torch.full_like(out[kept], drop.scale))
        assert drop.scale * drop.threshold == 2**DROPOUT_BITS


@pytest.mark.parametrize("budget", [None, 7])
def test_bernoulli_positions_are_distinct_sorted_and_cover_every_trial(budget: int | None) -> None:
    torch.manual_seed(0)
    n, p = 50_000, 0.1
    pos = bernoulli_positions(n, p, budget)  # a budget of 7 waiting times per draw forces many refills
    assert pos.dtype == torch.int64 and bool((pos[1:] > pos[:-1]).all()) and 0 <= int(pos[0]) and int(pos[-1]) < n
    assert abs(len(pos) / n - p) < 5 * math.sqrt(p * (1 - p) / n)
    # the last tenth of the trials is as densely hit as the rest (no truncation at the end of a draw)
    assert abs(int((pos >= 0.9 * n).sum()) / (0.1 * n) - p) < 5 * math.sqrt(p * (1 - p) / (0.1 * n))


@pytest.mark.parametrize("p", [0.05, 0.5])  # the two ways of drawing the mask
def test_dropout_masks_are_independent_across_elements_and_calls(p: float) -> None:
    torch.manual_seed(0)
    drop = Dropout(p).train()
    a, b = drop(torch.ones(100_000)) != 0, drop(torch.ones(100_000)) != 0
    assert not torch.equal(a, b)
    # neighbours share a 64-bit draw or a waiting time: they must still agree as independent coins do
    expected = p * p + (1 - p) * (1 - p)
    for lag in (1, 2, 3, 4):
        agree = (a[lag:] == a[:-lag]).float().mean().item()
        assert abs(agree - expected) < 0.01, lag


def test_dropout_is_seeded_identity_in_eval_and_passes_masked_gradients() -> None:
    drop = Dropout(0.3)
    x = torch.randn(7, 5, 3, requires_grad=True)
    torch.manual_seed(1)
    first = drop(x)
    torch.manual_seed(1)
    assert torch.equal(first, drop(x))
    first.sum().backward()
    torch.testing.assert_close(x.grad, first.detach() / x.detach())  # d(out)/dx is the scaled mask
    assert drop.eval()(x) is x
    assert Dropout(0.0).train()(x) is x and Dropout(1e-6).train()(x) is x  # keep probability rounds to 1
    with pytest.raises(ValueError, match="dropout"):
        Dropout(1.0)


@pytest.mark.parametrize("causal", [False, True])
def test_full_attention_training_path_matches_the_fused_kernel(causal: bool) -> None:
    """With a mask that keeps everything, the written-out training path is scaled dot-product attention."""
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 3, 9, 8, generator=g) for _ in range(3))
    attn = FullAttention(dropout=0.1).train()
    attn.dropout.threshold, attn.dropout.scale = 2**DROPOUT_BITS, 1.0  # keep every weight
    expected = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    torch.testing.assert_close(attn(q, k, v, causal), expected, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(attn.eval()(q, k, v, causal), expected)


def test_fused_projections_equal_separate_ones() -> None:
    torch.manual_seed(0)
    layer = AttentionLayer(FullAttention(), d_model=16, n_heads=4).eval()
    x, memory, other = torch.randn(3, 10, 16), torch.randn(3, 7, 16), torch.randn(3, 7, 16)

    def separate(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return layer(q, k.clone(), v.clone())  # distinct tensors: no fusion

    torch.testing.assert_close(layer(x, x, x), separate(x, x, x))  # self-attention: one D -> 3D product
    torch.testing.assert_close(layer(x, memory, memory), separate(x, memory, memory))  # keys and values fused
    torch.testing.assert_close(layer(x, memory, other), separate(x, memory, other))


def test_mixed_heads_read_the_head_major_output_row_by_row() -> None:
    """``mix``: row l of the merged output is the head-major ``[N, L, E]`` context flattened and cut into L rows."""
    torch.manual_seed(0)
    plain = AttentionLayer(FullAttention(), d_model=16, n_heads=4).eval()
    mixed = AttentionLayer(FullAttention(), d_model=16, n_heads=4, mix=True).eval()
    mixed.load_state_dict(plain.state_dict())
    x = torch.randn(2, 10, 16)
    q, k, v = (plain._heads(p(x)) for p in (plain.q_proj, plain.k_proj, plain.v_proj))  # [B, N, L, E]
    context = F.scaled_dot_product_attention(q, k, v)  # [B, N, L, E]
    flat = context.reshape(2, -1)  # [B, N * L * E], head-major
    rows = torch.stack([flat[:, l * 16 : (l + 1) * 16] for l in range(10)], dim=1)  # [B, L, D]
    torch.testing.assert_close(mixed(x, x, x), mixed.out_proj(rows))
    torch.testing.assert_close(plain(x, x, x), plain.out_proj(context.transpose(1, 2).reshape(2, 10, 16)))
    assert not torch.allclose(mixed(x, x, x), plain(x, x, x))


def test_mixed_heads_under_a_causal_mask_never_read_later_inputs_of_the_first_row() -> None:
    """Causal self-attention with ``mix``: the first row holds head 0's contexts of positions 0..N-1, so it depends
    on those inputs alone."""
    torch.manual_seed(0)
    layer = AttentionLayer(FullAttention(), d_model=8, n_heads=2, mix=True).eval()
    x = torch.randn(1, 12, 8)
    later = x.clone()
    later[:, 2:] = torch.randn(1, 10, 8)
    torch.testing.assert_close(layer(later, later, later, causal=True)[:, 0], layer(x, x, x, causal=True)[:, 0])


def test_distilling_pools_the_same_values_in_either_layout() -> None:
    torch.manual_seed(0)
    distil = DistilLayer(8).eval()
    x = torch.randn(2, 11, 8)
    y = F.elu(distil.norm(distil.conv(x.transpose(1, 2))))  # [B, D, L]
    expected = F.max_pool1d(y, kernel_size=3, stride=2, padding=1).transpose(1, 2)  # [B, ceil(L / 2), D]
    out = distil(x)
    assert out.shape == (2, 6, 8) and out.is_contiguous()
    torch.testing.assert_close(out, expected)


def test_tft_starts_from_the_reference_initialisation() -> None:
    torch.manual_seed(0)
    net = TFT(input_size=12, horizon=4, n_features=2, hidden_size=8, n_heads=2)
    linears = [m for m in net.modules() if isinstance(m, torch.nn.Linear)]
    assert linears and all(m.bias is None or not m.bias.any() for m in linears)
    w = net.past_selection.embed.weight  # [V, 1, D]: Glorot bound sqrt(6 / (1 + D))
    assert w.abs().max() <= math.sqrt(6 / (1 + 8)) and not net.past_selection.embed.bias.any()
    bias = net.encoder_lstm.bias_ih_l0
    assert torch.equal(bias[8:16], torch.ones(8)) and not bias[:8].any() and not bias[16:].any()
    hh = net.encoder_lstm.weight_hh_l0  # [4D, D] with orthonormal columns
    torch.testing.assert_close(hh.T @ hh, torch.eye(8), rtol=1e-5, atol=1e-5)
