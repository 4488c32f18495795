"""Building blocks shared by the forecasting networks.

- Reversible instance normalisation (Kim et al., ICLR 2022, "Reversible Instance Normalization for Accurate
  Time-Series Forecasting against Distribution Shift"), used by TSMixer (arXiv 2303.06053).
- Sinusoidal positional and convolutional token embeddings of the Transformer family (Vaswani et al., 2017;
  Informer, arXiv 2012.07436, section "Input representation").
- Full and ProbSparse attention (Informer, arXiv 2012.07436, section 3.1) behind one multi-head wrapper.
- Gated linear unit and gated residual network (Temporal Fusion Transformer, arXiv 1912.09363, section 4.1), with
  an optional leading variable axis that runs ``n_vars`` independent copies as one batched einsum.

- Dropout with a cheaper mask than one Bernoulli draw per element (``Dropout``): the dropped positions from
  geometric waiting times for small p, else 15-bit uniform integers, four per 64-bit random draw.

Shapes: B batch, L sequence length, C channels, D model width, N heads, E = D / N head width, V variables.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

DROPOUT_BITS = 15  # resolution of the keep probability of the bit mask: multiples of 2^-15
GAP_SAMPLING_BELOW = 0.07  # below this p, drawing the dropped positions beat the bit mask (0.6-0.8x its time)


def bernoulli_positions(n: int, p: float, budget: int | None = None) -> torch.Tensor:
    """Indices ``[k]`` of the successes among ``n`` i.i.d. Bernoulli(p) trials (CPU), from geometric waiting times.

    ``budget`` waiting times are drawn at a time; the default is too few for ``n`` trials with odds below 1e-9.
    """
    if budget is None:
        budget = int(n * p + 6.0 * math.sqrt(n * p * (1.0 - p))) + 16
    ends = torch.empty(budget, dtype=torch.int64).geometric_(p).cumsum_(0)  # [budget] 1-based success positions
    while int(ends[-1]) < n:
        more = torch.empty(budget, dtype=torch.int64).geometric_(p).cumsum_(0).add_(ends[-1])  # [budget]
        ends = torch.cat([ends, more])
    return ends[ends <= n].sub_(1)  # [k], 0-based


class Dropout(nn.Module):
    """Inverted dropout (Srivastava et al., JMLR 2014) with a cheaper mask than ``nn.Dropout``.

    ``nn.Dropout`` draws one Bernoulli sample per element; on CPU that draw was most of a small network's training
    step. Two cheaper draws of the same mask, both from the global generator (reproducible under
    ``torch.manual_seed``), both scaling kept elements by the exact inverse of their keep probability so that the
    expected output equals the input:

    - small ``p`` on CPU (``p < GAP_SAMPLING_BELOW``): the positions of the dropped elements, drawn as cumulative
      sums of geometric gaps (the waiting times between successes of i.i.d. Bernoulli(p) trials), so about ``n p``
      random numbers instead of ``n``; the keep probability is exactly ``1 - p``;
    - otherwise: one 64-bit draw (``random_``, 63 uniform bits) yields four 15-bit uniform integers ``r`` and an
      element is kept when ``r < round((1 - p) 2^15)``: the keep probability is ``1 - p`` to within ``2^-16``.

    The identity in eval mode (or when ``p < 2^-16``, ``p == 0`` included), so exported inference graphs hold no
    random op. ``[...] -> [...]``.
    """

    def __init__(self, p: float = 0.0) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout probability must lie in [0, 1), got {p}")
        self.p = p
        levels = 1 << DROPOUT_BITS
        # keep when r < threshold, r uniform on [0, 2^15); p < 2^-16 rounds to keeping everything
        self.threshold = min(levels, max(1, round((1.0 - p) * levels)))
        self.scale = levels / self.threshold  # 1 / keep probability of the bit mask

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.threshold == 1 << DROPOUT_BITS:
            return x
        return x * self.keep_mask(x)

    def keep_mask(self, x: torch.Tensor) -> torch.Tensor:
        """The scaled mask ``[...]`` (1 / keep probability where kept, 0 where dropped) in ``x``'s dtype and shape."""
        n = x.numel()
        if x.device.type == "cpu" and self.p < GAP_SAMPLING_BELOW:
            mask = torch.full((n,), 1.0 / (1.0 - self.p), dtype=x.dtype)  # [n]
            return mask.index_fill_(0, bernoulli_positions(n, self.p), 0.0).view(x.shape)  # [n] -> x.shape
        draws = torch.empty((n + 3) // 4, dtype=torch.int64, device=x.device).random_()  # [ceil(n/4)], 63 bits each
        r = draws.view(torch.int16)[:n].bitwise_and_((1 << DROPOUT_BITS) - 1)  # [4 ceil(n/4)] -> [n] in [0, 2^15)
        return (r < self.threshold).view(x.shape).to(x.dtype).mul_(self.scale)  # [n] -> x.shape

    def extra_repr(self) -> str:
        return f"p={self.p}"


class RevIN(nn.Module):
    """Reversible instance normalisation: per-window, per-channel standardisation with a learned affine map.

    ``normalize`` ``[B, L, C] -> [B, L, C]`` stores each window's mean and std; ``denormalize`` ``[B, H, c]`` maps a
    forecast of the first ``c`` channels back to their scale, so a level shift between windows need not be learned.
    """

    def __init__(self, n_channels: int, affine: bool = True, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(n_channels)) if affine else None
        self.bias = nn.Parameter(torch.zeros(n_channels)) if affine else None

    def normalize(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """``x`` ``[B, L, C]`` -> (normalised ``[B, L, C]``, (mean, std) each ``[B, 1, C]``)."""
        # statistics are constants of the window, not paths for gradients (as in the RevIN and TSMixer code)
        mean = x.mean(dim=1, keepdim=True).detach()  # [B, 1, C]
        std = torch.sqrt(x.var(dim=1, keepdim=True, unbiased=False) + self.eps).detach()  # [B, 1, C]
        z = (x - mean) / std
        if self.weight is not None and self.bias is not None:
            z = z * self.weight + self.bias
        return z, (mean, std)

    def denormalize(self, y: torch.Tensor, stats: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        """``y`` ``[B, H, c]`` (the first ``c`` channels) -> the original scale of those channels."""
        c = y.shape[-1]
        mean, std = stats[0][..., :c], stats[1][..., :c]  # [B, 1, c]
        if self.weight is not None and self.bias is not None:
            y = (y - self.bias[:c]) / (self.weight[:c] + self.eps * self.eps)
        return y * std + mean


def sinusoid_table(length: int, d_model: int) -> torch.Tensor:
    """Fixed sinusoidal positional encodings ``[length, d_model]`` (Vaswani et al., 2017)."""
    pos = torch.arange(length, dtype=torch.float32).unsqueeze(1)  # [L, 1]
    div = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model))  # [D/2]
    table = torch.zeros(length, d_model)
    table[:, 0::2] = torch.sin(pos * div)
    table[:, 1::2] = torch.cos(pos * div)[:, : d_model // 2]
    return table


class TokenEmbedding(nn.Module):
    """Scalar inputs to ``d_model`` by a width-3 circular convolution along time (Informer's value embedding)."""

    def __init__(self, c_in: int, d_model: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(c_in, d_model, kernel_size=3, padding=1, padding_mode="circular", bias=False)
        nn.init.kaiming_normal_(self.conv.weight, mode="fan_in", nonlinearity="leaky_relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, L, C] -> [B, L, D]``."""
        return self.conv(x.transpose(1, 2)).transpose(1, 2)  # [B, L, C] -> [B, C, L] -> [B, D, L] -> [B, L, D]


def prob_sample_sizes(factor: int, l_q: int, l_k: int) -> tuple[int, int]:
    """ProbSparse budgets: (keys sampled per query ``c*ceil(ln L_K)``, active queries ``u = c*ceil(ln L_Q)``).

    Both are capped at the sequence length (as in the authors' code), and at least 1.
    """
    n_keys = min(l_k, max(1, factor * math.ceil(math.log(l_k))))
    n_top = min(l_q, max(1, factor * math.ceil(math.log(l_q))))
    return n_keys, n_top


class FullAttention(nn.Module):
    """Canonical scaled dot-product attention over all query-key pairs: O(L_Q * L_K) time and memory.

    Without dropout this is ``F.scaled_dot_product_attention``; with dropout in training the same computation is
    written out so that the attention weights go through this module's ``Dropout`` (the fused kernel falls back to
    a slower path with its own Bernoulli mask and checks for fully masked rows).
    """

    def __init__(self, dropout: float = 0.0) -> None:
        super().__init__()
        self.dropout = Dropout(dropout)

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool = False) -> torch.Tensor:
        """``q`` ``[B, N, L_Q, E]``, ``k``/``v`` ``[B, N, L_K, E]`` -> ``[B, N, L_Q, E]``."""
        if not self.training or self.dropout.p == 0.0:
            return F.scaled_dot_product_attention(q, k, v, is_causal=causal)
        # the scale goes on q, the smaller operand: [B, N, L_Q, E] @ [B, N, E, L_K] -> [B, N, L_Q, L_K]
        scores = torch.matmul(q * (q.shape[-1] ** -0.5), k.transpose(-2, -1))
        if causal:  # top-left aligned, as is_causal in scaled_dot_product_attention
            l_q, l_k = q.shape[2], k.shape[2]
            future = torch.ones(l_q, l_k, dtype=torch.bool, device=q.device).triu(1)  # [L_Q, L_K]
            scores = scores.masked_fill(future, float("-inf"))
        return torch.matmul(self.dropout(torch.softmax(scores, dim=-1)), v)  # [B, N, L_Q, L_K] @ [B, N, L_K, E]


class ProbAttention(nn.Module):
    """ProbSparse self-attention (Informer, arXiv 2012.07436, section 3.1, Algorithm 1).

    Following the paper's Algorithm 1, ``U = c*ceil(ln L_K)`` distinct keys ``K_s`` are drawn at random, the sample
    scores ``S = Q K_s^T`` give each query's sparsity measurement ``M(q, K) = max(S) - mean(S)`` (eq. 4, the
    max-mean approximation of the query's KL divergence from uniform attention), and only the ``u = c*ceil(ln L_Q)``
    queries with the largest ``M`` attend to all keys. The other ("lazy") queries, whose attention is close to
    uniform, output ``mean(V)``; under the causal mask of the decoder they output the cumulative sum of ``V`` (the
    authors' choice), since a query may only see the keys up to itself. Time and memory are O(L ln L).

    The authors' code instead draws an independent key sample per query (the same number of keys per query); that
    needs a gather of ``L_Q x U`` key vectors, which on this project's CPU took as long as the whole of full attention
    at L = 1536 (and longer below), while the shared sample is one small matrix product. With ``U = L_K`` both use
    every key. Queries, keys and values share the head width ``E``.

    The keys are resampled at every training step from the global RNG (reproducible under ``torch.manual_seed``);
    in eval mode the sample is the ``U`` evenly spaced keys (a stratified sample), so inference is deterministic and
    holds no random state, which lets ``torch.export``, TorchScript and ONNX capture it.
    """

    def __init__(self, factor: int = 5, dropout: float = 0.0) -> None:
        super().__init__()
        self.factor = factor
        self.dropout = Dropout(dropout)

    def _top_queries(self, q: torch.Tensor, k: torch.Tensor, n_keys: int, n_top: int) -> torch.Tensor:
        """Indices ``[B, N, u]`` of the ``u`` queries with the largest estimated sparsity measurement."""
        l_k = k.shape[2]
        if self.training:
            sample = torch.randperm(l_k, device=q.device)[:n_keys]  # [U] distinct random keys
        else:
            sample = torch.div(torch.arange(n_keys, device=q.device) * l_k, n_keys, rounding_mode="floor")  # [U] evenly spaced
        with torch.no_grad():  # the selection is not differentiable
            k_s = k.index_select(2, sample).transpose(-2, -1)  # [B, N, L_K, E] -> [B, N, U, E] -> [B, N, E, U]
            scores = torch.matmul(q, k_s)  # [B, N, L_Q, U]
            m = scores.amax(dim=-1) - scores.mean(dim=-1)  # [B, N, L_Q, U] -> [B, N, L_Q]
            return m.topk(n_top, dim=-1, sorted=False).indices  # [B, N, u]

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool = False) -> torch.Tensor:
        """``q`` ``[B, N, L_Q, E]``, ``k``/``v`` ``[B, N, L_K, E]`` -> ``[B, N, L_Q, E]``."""
        b, n, l_q, e = q.shape
        l_k = k.shape[2]
        if causal and l_q != l_k:
            raise ValueError("causal ProbSparse attention needs L_Q == L_K (self-attention)")
        n_keys, n_top = prob_sample_sizes(self.factor, l_q, l_k)
        top = self._top_queries(q, k, n_keys, n_top)  # [B, N, u]
        top_e = top.unsqueeze(-1).expand(b, n, n_top, e)  # [B, N, u] -> [B, N, u, E]
        q_top = torch.gather(q, 2, top_e)  # [B, N, u, E]
        k_t = k.transpose(-2, -1)  # [B, N, L_K, E] -> [B, N, E, L_K]
        scores = torch.matmul(q_top / math.sqrt(e), k_t)  # [B, N, u, L_K]
        if causal:
            future = torch.arange(l_k, device=q.device) > top.unsqueeze(-1)  # [L_K] > ([B, N, u] -> [B, N, u, 1])
            scores = scores.masked_fill(future, float("-inf"))
        out_top = torch.matmul(self.dropout(torch.softmax(scores, dim=-1)), v)  # [B, N, u, E]
        if causal:
            context = v.cumsum(dim=2)  # [B, N, L_K, E], L_K == L_Q
        else:
            context = v.mean(dim=2, keepdim=True).expand(b, n, l_q, e).contiguous()  # [B, N, 1, E] -> [B, N, L_Q, E]
        # in place: context is a fresh tensor whose value neither cumsum's nor mean's backward needs
        return context.scatter_(2, top_e, out_top.to(context.dtype))  # [B, N, L_Q, E]


class AttentionLayer(nn.Module):
    """Multi-head wrapper: project to ``n_heads`` heads, run the attention kernel, merge and project back.

    ``mix``: merge the heads the way the Informer authors' code does for its decoder self-attention (``mix=True``
    there): the head-major output ``[B, N, L, E]`` is read as ``[B, L, N * E]`` without moving the head axis back
    behind the position axis, so output row ``l`` holds the contexts of ``N`` consecutive positions of one head
    (head ``l N // L``, positions ``l N mod L`` onward). Under a causal mask a row may therefore hold contexts of
    later positions.
    """

    def __init__(self, kernel: nn.Module, d_model: int, n_heads: int, mix: bool = False) -> None:
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model={d_model} must be divisible by n_heads={n_heads}")
        self.kernel, self.n_heads, self.mix = kernel, n_heads, mix
        self.q_proj = nn.Linear(d_model, d_model)
        self.k_proj = nn.Linear(d_model, d_model)
        self.v_proj = nn.Linear(d_model, d_model)
        self.out_proj = nn.Linear(d_model, d_model)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        b, length, d = x.shape
        return x.view(b, length, self.n_heads, d // self.n_heads).transpose(1, 2)  # [B, L, D] -> [B, N, L, E]

    def _project(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The three projections; inputs that are the same tensor share one matrix product (self-attention: one
        ``D -> 3D`` product, cross-attention: one ``D -> 2D`` for keys and values), with the same weights."""
        projs = (self.q_proj, self.k_proj, self.v_proj)
        if k is v:
            fused = projs if q is k else projs[1:]
            weight = torch.cat([m.weight for m in fused])  # [m * D, D]
            bias = torch.cat([m.bias for m in fused])  # [m * D]
            parts = F.linear(k, weight, bias).chunk(len(fused), dim=-1)  # [B, L, m * D] -> m x [B, L, D]
            return parts if q is k else (self.q_proj(q), *parts)
        return self.q_proj(q), self.k_proj(k), self.v_proj(v)

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool = False) -> torch.Tensor:
        """``q`` ``[B, L_Q, D]``, ``k``/``v`` ``[B, L_K, D]`` -> ``[B, L_Q, D]``."""
        b, l_q, d = q.shape
        qp, kp, vp = self._project(q, k, v)
        out = self.kernel(self._heads(qp), self._heads(kp), self._heads(vp), causal)  # [B, N, L_Q, E]
        if self.mix:
            return self.out_proj(out.reshape(b, l_q, d))  # [B, N, L_Q, E] read as [B, L_Q, N * E]
        out = out.transpose(1, 2).reshape(b, l_q, d)  # [B, N, L_Q, E] -> [B, L_Q, N, E] -> [B, L_Q, D]
        return self.out_proj(out)

    def extra_repr(self) -> str:
        return f"n_heads={self.n_heads}, mix={self.mix}"


class VarLinear(nn.Module):
    """``V`` independent linear maps applied along a variable axis: ``[..., V, d_in] -> [..., V, d_out]``.

    One einsum instead of a Python loop over ``V`` modules; initialised like ``nn.Linear``.
    """

    def __init__(self, n_vars: int, d_in: int, d_out: int, bias: bool = True) -> None:
        super().__init__()
        bound = 1.0 / math.sqrt(d_in)
        self.weight = nn.Parameter(torch.empty(n_vars, d_in, d_out).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(n_vars, d_out).uniform_(-bound, bound)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.einsum("...vi,vio->...vo", x, self.weight)  # [..., V, d_in] -> [..., V, d_out]
        return y if self.bias is None else y + self.bias


class VarLayerNorm(nn.Module):
    """Layer norm over the last axis with a separate affine map per variable: ``[..., V, d] -> [..., V, d]``."""

    def __init__(self, n_vars: int, d: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n_vars, d))
        self.bias = nn.Parameter(torch.zeros(n_vars, d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(x, x.shape[-1:]) * self.weight + self.bias


def _linear(d_in: int, d_out: int, n_vars: int | None, bias: bool = True) -> nn.Module:
    return nn.Linear(d_in, d_out, bias=bias) if n_vars is None else VarLinear(n_vars, d_in, d_out, bias=bias)


class GLU(nn.Module):
    """Gated linear unit ``GLU(g) = sigmoid(W4 g + b4) * (W5 g + b5)`` (TFT eq. 5), with dropout on its input."""

    def __init__(self, d_in: int, d_out: int, dropout: float = 0.0, n_vars: int | None = None) -> None:
        super().__init__()
        self.dropout = Dropout(dropout)
        self.proj = _linear(d_in, 2 * d_out, n_vars)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        value, gate = self.proj(self.dropout(x)).chunk(2, dim=-1)  # [..., 2 * d_out] -> 2 x [..., d_out]
        return value * torch.sigmoid(gate)


class GateAddNorm(nn.Module):
    """Gated skip connection ``LayerNorm(skip + GLU(x))`` used around TFT's LSTM, attention and the whole decoder."""

    def __init__(self, d_in: int, d_out: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.glu = GLU(d_in, d_out, dropout)
        self.norm = nn.LayerNorm(d_out)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return self.norm(skip + self.glu(x))


class GRN(nn.Module):
    """Gated residual network (TFT eqs. 2-4): ``LayerNorm(skip(a) + GLU(W1 ELU(W2 a + W3 c + b2) + b1))``.

    ``skip`` is the identity when ``d_in == d_out``, else a linear map. The optional context ``c`` ``[B, d_context]``
    is broadcast over any time axis of ``a``. With ``n_vars`` set, ``a`` is ``[..., V, d_in]`` and each variable
    has its own weights (TFT's per-variable GRNs in the variable selection networks); no context then.
    """

    def __init__(
        self,
        d_in: int,
        d_hidden: int,
        d_out: int,
        dropout: float = 0.0,
        d_context: int | None = None,
        n_vars: int | None = None,
    ) -> None:
        super().__init__()
        if n_vars is not None and d_context is not None:
            raise ValueError("a per-variable GRN takes no context")
        self.skip = _linear(d_in, d_out, n_vars) if d_in != d_out else None
        self.fc_in = _linear(d_in, d_hidden, n_vars)  # W2, b2
        self.fc_context = nn.Linear(d_context, d_hidden, bias=False) if d_context else None  # W3
        self.fc_hidden = _linear(d_hidden, d_hidden, n_vars)  # W1, b1
        self.glu = GLU(d_hidden, d_out, dropout, n_vars)
        self.norm = nn.LayerNorm(d_out) if n_vars is None else VarLayerNorm(n_vars, d_out)

    def forward(self, a: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        skip = a if self.skip is None else self.skip(a)
        h = self.fc_in(a)
        if self.fc_context is not None and context is not None:
            c = self.fc_context(context)  # [B, d_hidden]
            while c.dim() < h.dim():
                c = c.unsqueeze(1)  # [B, d_hidden] -> [B, 1, d_hidden] (broadcast over time)
            h = h + c
        h = self.fc_hidden(F.elu(h))
        return self.norm(skip + self.glu(h))
