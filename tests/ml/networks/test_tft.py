"""TFT specifics: interpretation weights, static inputs, missing known-future inputs, quantile training."""
from __future__ import annotations

import pytest
import torch

from ml.networks.tft import TFT, InterpretableMultiHeadAttention, VariableSelection

B, L, H, F, K = 3, 10, 4, 3, 2


def make(**over) -> TFT:
    torch.manual_seed(0)
    hp = dict(input_size=L, horizon=H, n_features=F, n_targets=2, n_future=K, hidden_size=8, n_heads=2)
    return TFT(**{**hp, **over}).eval()


def test_interpretation_shapes_and_normalisation() -> None:
    net = make()
    with pytest.raises(RuntimeError, match="forward"):
        net.interpretation()
    with torch.no_grad():
        net(torch.randn(B, L, F), torch.randn(B, H, K))
    info = net.interpretation()
    assert set(info) == {"attention", "past_weights", "future_weights"}
    assert info["attention"].shape == (B, H, L + H)
    assert info["past_weights"].shape == (B, L, F)
    assert info["future_weights"].shape == (B, H, K)
    for key in ("attention", "past_weights", "future_weights"):
        assert (info[key] >= 0).all()
        torch.testing.assert_close(info[key].sum(-1), torch.ones(info[key].shape[:-1]))
    for step in range(H):  # step i sits at position L + i and sees nothing after it
        assert torch.equal(info["attention"][:, step, L + step + 1 :], torch.zeros(B, H - step - 1))
        assert (info["attention"][:, step, : L + step + 1] > 0).all()


def test_without_known_future_inputs_the_decoder_reads_learned_placeholders() -> None:
    net = make(n_future=0)
    assert net.future_placeholder.shape == (H, 8)
    with torch.no_grad():
        out = net(torch.randn(B, L, F))
    assert out.shape == (B, H, 2, 3)
    assert net.interpretation()["future_weights"].shape == (B, H, 0)


def test_static_inputs_are_selected_and_condition_the_forecast() -> None:
    net = make(n_static=2)
    x_past, x_future, x_static = torch.randn(B, L, F), torch.randn(B, H, K), torch.randn(B, 2)
    with torch.no_grad():
        out = net(x_past, x_future, x_static)
        weights = net.interpretation()["static_weights"]
        assert weights.shape == (B, 2)
        torch.testing.assert_close(weights.sum(-1), torch.ones(B))
        assert not torch.allclose(out, net(x_past, x_future, x_static + 1.0))
    with pytest.raises(ValueError, match="x_static"):
        net(x_past, x_future)


def test_variable_selection_weights_are_a_softmax_over_variables() -> None:
    torch.manual_seed(0)
    vsn = VariableSelection(n_vars=4, d=6, dropout=0.0, with_context=True)
    out, weights = vsn(torch.randn(2, 5, 4), torch.randn(2, 6))
    assert out.shape == (2, 5, 6) and weights.shape == (2, 5, 4)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 5))
    single_out, single_w = VariableSelection(1, 6, 0.0, with_context=True)(torch.randn(2, 5, 1), torch.randn(2, 6))
    assert torch.equal(single_w, torch.ones(2, 5, 1)) and single_out.shape == (2, 5, 6)


def test_interpretable_attention_equals_the_mean_of_heads_sharing_one_value_projection() -> None:
    torch.manual_seed(0)
    mha = InterpretableMultiHeadAttention(d_model=8, n_heads=2, dropout=0.0)
    q, kv = torch.randn(2, 3, 8), torch.randn(2, 5, 8)
    mask = torch.zeros(3, 5, dtype=torch.bool)
    out, attn = mha(q, kv, kv, mask)
    heads = []
    for h in range(2):  # each head on its own, with the shared value projection
        w_q = mha.q_proj.weight[h * 4 : (h + 1) * 4]
        w_k = mha.k_proj.weight[h * 4 : (h + 1) * 4]
        qh = q @ w_q.T + mha.q_proj.bias[h * 4 : (h + 1) * 4]
        kh = kv @ w_k.T + mha.k_proj.bias[h * 4 : (h + 1) * 4]
        a = torch.softmax(qh @ kh.transpose(1, 2) / 2.0, dim=-1)
        heads.append(a @ mha.v_proj(kv))
    torch.testing.assert_close(out, mha.out_proj(torch.stack(heads).mean(0)))
    assert attn.shape == (2, 3, 5)


def test_quantile_training_orders_the_quantiles() -> None:
    """Trained with the pinball loss on noisy targets, the 0.1/0.5/0.9 outputs come out in that order."""
    net = make(n_future=0, dropout=0.0).train()
    g = torch.Generator().manual_seed(0)
    x_past = torch.randn(64, L, F, generator=g)
    y = torch.randn(64, H, 2, generator=g)
    opt = torch.optim.Adam(net.parameters(), lr=2e-2)
    for _ in range(60):
        loss = net.loss(net(x_past), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        pred = net.eval()(x_past)
    lo, mid, hi = pred.unbind(-1)
    assert (lo < mid).float().mean() > 0.9 and (mid < hi).float().mean() > 0.9
    assert ((y < hi) & (y > lo)).float().mean() > 0.6  # about 80% of the targets inside the 10-90 band
