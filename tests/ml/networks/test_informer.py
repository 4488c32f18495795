"""Informer specifics: ProbSparse attention, distilling, the start-token decoder input."""
from __future__ import annotations

import pytest
import torch

from ml.errors import ModelError
from ml.networks.informer import Informer
from ml.networks.layers import FullAttention, ProbAttention, prob_sample_sizes


def qkv(b: int = 2, n: int = 2, length: int = 12, e: int = 8, seed: int = 0) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(b, n, length, e, generator=g) for _ in range(3)]


def test_sample_sizes_follow_c_ln_l() -> None:
    assert prob_sample_sizes(5, 96, 96) == (25, 25)  # 5 * ceil(ln 96) = 5 * 5
    assert prob_sample_sizes(5, 1536, 1536) == (40, 40)  # 5 * ceil(ln 1536) = 5 * 8
    assert prob_sample_sizes(1, 72, 96) == (5, 5)
    assert prob_sample_sizes(5, 8, 8) == (8, 8)  # capped at L
    assert prob_sample_sizes(5, 1, 1) == (1, 1)


@pytest.mark.parametrize("causal", [False, True])
def test_probsparse_equals_full_attention_when_u_covers_every_query(causal: bool) -> None:
    """With u = c ceil(ln L) >= L, top-u selects every query, so ProbSparse is exactly canonical attention."""
    q, k, v = qkv(length=12)
    assert prob_sample_sizes(5, 12, 12)[1] == 12
    prob, full = ProbAttention(factor=5).eval(), FullAttention().eval()
    torch.testing.assert_close(prob(q, k, v, causal), full(q, k, v, causal), rtol=1e-5, atol=1e-6)


def test_informer_prob_equals_full_network_when_u_covers_every_query() -> None:
    """The same weights give the same forecast with either attention once u >= L at every layer."""
    hp = dict(input_size=12, horizon=4, n_features=3, n_targets=2, n_future=2, d_model=16, n_heads=2, d_ff=32,
              factor=5, label_len=6, dropout=0.0)
    torch.manual_seed(0)
    prob = Informer(**hp, attention="prob").eval()
    full = Informer(**hp, attention="full").eval()
    full.load_state_dict(prob.state_dict())
    x_past, x_future = torch.randn(3, 12, 3), torch.randn(3, 4, 2)
    with torch.no_grad():
        torch.testing.assert_close(prob(x_past, x_future), full(x_past, x_future), rtol=1e-5, atol=1e-5)


def test_lazy_queries_get_mean_of_values_and_active_ones_are_the_peaked_queries() -> None:
    length, e, factor = 64, 8, 1
    n_keys, u = prob_sample_sizes(factor, length, length)
    assert (n_keys, u) == (5, 5)
    g = torch.Generator().manual_seed(0)
    k = torch.randn(1, 1, length, e, generator=g)
    v = torch.randn(1, 1, length, e, generator=g)
    q = torch.randn(1, 1, length, e, generator=g) * 1e-3  # near-uniform attention: M close to 0
    peaked = torch.tensor([3, 17, 30, 41, 60])
    q[0, 0, peaked] = torch.randn(u, e, generator=g) * 50.0  # large M whatever keys are sampled
    out = ProbAttention(factor=factor).eval()(q, k, v)
    lazy = torch.isclose(out[0, 0], v[0, 0].mean(dim=0).expand(length, e), atol=1e-6).all(dim=-1)  # [L]
    assert lazy.sum() == length - u
    assert not lazy[peaked].any()


def test_causal_lazy_queries_get_cumulative_sum_of_values() -> None:
    q, k, v = qkv(b=1, n=1, length=64)
    _, u = prob_sample_sizes(1, 64, 64)
    out = ProbAttention(factor=1).eval()(q, k, v, causal=True)
    lazy = torch.isclose(out, v.cumsum(dim=2), atol=1e-5).all(dim=-1)  # [1, 1, L]
    assert lazy.sum() == 64 - u
    with pytest.raises(ValueError, match="L_Q == L_K"):
        ProbAttention().eval()(q[:, :, :10], k, v, causal=True)


def test_key_sampling_is_random_in_training_and_fixed_in_eval() -> None:
    q, k, v = qkv(b=1, n=1, length=64, seed=3)
    att = ProbAttention(factor=1)
    att.eval()
    assert torch.equal(att(q, k, v), att(q, k, v))
    att.train()
    outs = []
    for seed in range(6):
        torch.manual_seed(seed)
        outs.append(att(q, k, v))
    assert any(not torch.equal(outs[0], o) for o in outs[1:])


def test_distilling_halves_the_sequence_between_encoder_layers() -> None:
    net = Informer(input_size=32, horizon=4, n_features=2, d_model=8, n_heads=2, e_layers=3, d_ff=16)
    assert net.encoder(torch.randn(2, 32, 2)).shape == (2, 8, 8)  # 32 -> 16 -> 8
    flat = Informer(input_size=32, horizon=4, n_features=2, d_model=8, n_heads=2, e_layers=3, d_ff=16, distil=False)
    assert flat.encoder(torch.randn(2, 32, 2)).shape == (2, 32, 8)


def test_decoder_input_is_start_token_then_zero_placeholders() -> None:
    net = Informer(input_size=10, horizon=3, n_features=2, d_model=8, n_heads=2, label_len=4)
    x = torch.randn(2, 10, 2)
    dec = net.decoder_input(x)
    assert dec.shape == (2, 7, 2)
    assert torch.equal(dec[:, :4], x[:, -4:])
    assert torch.equal(dec[:, 4:], torch.zeros(2, 3, 2))
    assert Informer(input_size=10, horizon=3, n_features=2, d_model=8, n_heads=2).label_len == 5  # default L / 2


def test_one_pass_decoder_is_causal_in_the_horizon() -> None:
    """A known-future input at the last step cannot change the forecast of earlier steps (masked self-attention).

    Shown with the plain head merge: the authors' mixed merge (the default) lets a decoder row read contexts of
    later decoder positions, all of them inputs known when the forecast is made, so nothing unknown leaks in.
    """
    net = Informer(
        input_size=12, horizon=4, n_features=2, n_future=2, d_model=8, n_heads=2, attention="full", mix=False
    ).eval()
    x_past, x_future = torch.randn(2, 12, 2), torch.randn(2, 4, 2)
    changed = x_future.clone()
    changed[:, -1] += 5.0
    with torch.no_grad():
        a, b = net(x_past, x_future), net(x_past, changed)
    assert torch.equal(a[:, :-1], b[:, :-1])
    assert not torch.allclose(a[:, -1], b[:, -1])


def test_bad_settings_are_rejected() -> None:
    with pytest.raises(ModelError, match="prob"):
        Informer(input_size=8, horizon=2, n_features=1, attention="sparse")
    with pytest.raises(ValueError, match="label_len"):
        Informer(input_size=8, horizon=2, n_features=1, label_len=9)
    with pytest.raises(ValueError, match="x_future"):
        Informer(input_size=8, horizon=2, n_features=1, n_future=2, d_model=8, n_heads=2)(torch.randn(1, 8, 1))

