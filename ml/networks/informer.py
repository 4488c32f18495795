"""Informer: Zhou et al., "Informer: Beyond Efficient Transformer for Long Sequence Time-Series Forecasting",
AAAI 2021, arXiv 2012.07436.

Encoder-decoder Transformer with the three ideas of the paper:

1. ProbSparse self-attention (``ml.networks.layers.ProbAttention``): only the ``u = c ln L`` most "active" queries
   attend to every key, so self-attention costs O(L ln L) instead of O(L^2).
2. Self-attention distilling between encoder layers: Conv1d(k=3) -> BatchNorm -> ELU -> MaxPool(k=3, stride 2)
   halves the sequence, so a stack of ``e_layers`` layers costs O((2 - eps) L ln L) memory.
3. Generative-style decoder: its input is the last ``label_len`` encoder inputs (the start token) followed by zero
   placeholders for the ``H`` target steps; masked ProbSparse self-attention plus full cross-attention to the
   encoder produce the whole horizon in one forward pass.

Embeddings (section "Input representation"): value (circular Conv1d token embedding) + fixed sinusoidal position,
plus a linear time-feature embedding of the known-future inputs ``x_future`` on the decoder's horizon positions when
``n_future > 0``. (The contract carries no calendar inputs for past rows, so the encoder and the start token get
none; calendar columns placed in ``x_past`` are embedded as values.)

Departures from the authors' code, each deliberate: ProbSparse follows the paper's Algorithm 1 (one random key
sample shared by all queries, ``S = Q K_s^T``; the code draws a sample per query, see ``ProbAttention``) and
averages the sampled scores for the max-mean measurement (the code divides their sum by L_K); in eval mode the
sample is the evenly spaced keys, so inference is deterministic; the output head is applied to the horizon
positions only (it is position-wise, so nothing changes).

Kept from the authors' code although the paper does not describe it: the decoder's self-attention merges its heads
in their "mix" layout (``mix=True``, their default; see ``AttentionLayer``). On ETTh1 it lowered our test MSE
most at M24 (docs/benchmarks.md); ``mix=False`` gives the usual merge.
Revision 2 of this network (``REVISION``): versions stored by revision 1, which had no mix, refuse to load.

Shapes: ``x_past`` ``[B, L, F]`` -> ``[B, H, T, 1]`` (B batch, L input_size, F n_features, H horizon, T n_targets,
D d_model, S = label_len + H decoder length).
"""
from __future__ import annotations

from types import MappingProxyType
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from ml.networks.base import ForecastNetwork, check_choice
from ml.networks.layers import (
    AttentionLayer,
    Dropout,
    FullAttention,
    ProbAttention,
    TokenEmbedding,
    sinusoid_table,
)

ATTENTIONS = ("prob", "full")
ACTIVATIONS = ("gelu", "relu")


def make_attention(kind: str, factor: int, dropout: float) -> nn.Module:
    """The attention kernel for ``kind``: ``"prob"`` (ProbSparse) or ``"full"`` (canonical, for comparison)."""
    return ProbAttention(factor=factor, dropout=dropout) if kind == "prob" else FullAttention(dropout=dropout)


class DistilLayer(nn.Module):
    """Self-attention distilling (eq. 5): ``MaxPool(ELU(BatchNorm(Conv1d(x))))``, halving the length."""

    def __init__(self, d_model: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(d_model, d_model, kernel_size=3, padding=1, padding_mode="circular")
        self.norm = nn.BatchNorm1d(d_model)
        self.pool = nn.MaxPool1d(kernel_size=3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, L, D] -> [B, ceil(L / 2), D]``."""
        y = F.elu(self.norm(self.conv(x.transpose(1, 2))))  # [B, L, D] -> [B, D, L]
        # pooling reads D-contiguous rows several times faster (forward and backward) than L-contiguous ones
        y = y.transpose(1, 2).contiguous().transpose(1, 2)  # [B, D, L], memory laid out as [B, L, D]
        return self.pool(y).transpose(1, 2)  # [B, D, ceil(L / 2)] -> [B, L', D] (contiguous)


class _FeedForward(nn.Module):
    """Position-wise feed-forward ``D -> d_ff -> D`` (the authors' kernel-1 convolutions, as linear layers)."""

    def __init__(self, d_model: int, d_ff: int, dropout: float, activation: str) -> None:
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(d_model, d_ff), nn.Linear(d_ff, d_model)
        self.dropout = Dropout(dropout)
        self.act = F.gelu if activation == "gelu" else F.relu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.fc2(self.dropout(self.act(self.fc1(x)))))


class EncoderLayer(nn.Module):
    """Self-attention then feed-forward, each with a residual connection and post-LayerNorm."""

    def __init__(self, attention: AttentionLayer, d_model: int, d_ff: int, dropout: float, activation: str) -> None:
        super().__init__()
        self.attention = attention
        self.ff = _FeedForward(d_model, d_ff, dropout, activation)
        self.norm1, self.norm2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.dropout = Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, L, D] -> [B, L, D]``."""
        x = self.norm1(x + self.dropout(self.attention(x, x, x)))
        return self.norm2(x + self.ff(x))


class DecoderLayer(nn.Module):
    """Masked self-attention, cross-attention to the encoder output, feed-forward; post-LayerNorm residuals."""

    def __init__(
        self, self_attention: AttentionLayer, cross_attention: AttentionLayer, d_model: int, d_ff: int,
        dropout: float, activation: str,
    ) -> None:
        super().__init__()
        self.self_attention, self.cross_attention = self_attention, cross_attention
        self.ff = _FeedForward(d_model, d_ff, dropout, activation)
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(d_model), nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.dropout = Dropout(dropout)

    def forward(self, x: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
        """``x`` ``[B, S, D]``, ``memory`` ``[B, L', D]`` -> ``[B, S, D]``."""
        x = self.norm1(x + self.dropout(self.self_attention(x, x, x, causal=True)))
        x = self.norm2(x + self.dropout(self.cross_attention(x, memory, memory)))
        return self.norm3(x + self.ff(x))


class InformerEncoder(nn.Module):
    """Embedding plus ``e_layers`` encoder layers with a distilling layer between consecutive ones."""

    position: torch.Tensor  # a registered buffer

    def __init__(
        self, n_features: int, max_len: int, d_model: int, n_heads: int, e_layers: int, d_ff: int, factor: int,
        dropout: float, attention: str, distil: bool, activation: str,
    ) -> None:
        super().__init__()
        self.token = TokenEmbedding(n_features, d_model)
        self.register_buffer("position", sinusoid_table(max_len, d_model), persistent=False)  # [max_len, D]
        self.dropout = Dropout(dropout)
        self.layers = nn.ModuleList(
            EncoderLayer(
                AttentionLayer(make_attention(attention, factor, dropout), d_model, n_heads),
                d_model, d_ff, dropout, activation,
            )
            for _ in range(e_layers)
        )
        self.distil = nn.ModuleList(DistilLayer(d_model) for _ in range(e_layers - 1)) if distil else None
        self.norm = nn.LayerNorm(d_model)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Value + position embedding ``[B, L, F] -> [B, L, D]`` (before dropout)."""
        return self.token(x) + self.position[: x.shape[1]]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, L, F] -> [B, L', D]`` with ``L' = ceil(L / 2^(e_layers - 1))`` when distilling."""
        h = self.dropout(self.embed(x))
        for i, layer in enumerate(self.layers):
            h = layer(h)
            if self.distil is not None and i < len(self.distil):
                h = self.distil[i](h)
        return self.norm(h)


class Informer(ForecastNetwork):
    """Informer with ProbSparse attention, distilling and a one-pass generative decoder (see module docstring)."""

    name: ClassVar[str] = "informer"
    MULTIVARIATE: ClassVar[bool] = True
    FUTURE_EXOG: ClassVar[bool] = True
    QUANTILES: ClassVar[bool] = False
    REVISION: ClassVar[int] = 2  # 2: decoder self-attention in the authors' "mix" layout
    SIZES: ClassVar = MappingProxyType({
        "tiny": MappingProxyType({"d_model": 16, "n_heads": 2, "e_layers": 2, "d_layers": 1, "d_ff": 32, "factor": 2,
                                  "dropout": 0.1}),
        "small": MappingProxyType({"d_model": 64, "n_heads": 4, "e_layers": 2, "d_layers": 1, "d_ff": 128,
                                   "factor": 5, "dropout": 0.05}),
        # the authors' default setting: d_model 512, 8 heads, 2 encoder + 1 decoder layers, d_ff 2048
        "base": MappingProxyType({"d_model": 512, "n_heads": 8, "e_layers": 2, "d_layers": 1, "d_ff": 2048,
                                  "factor": 5, "dropout": 0.05}),
    })

    def __init__(
        self,
        *,
        input_size: int,
        horizon: int,
        n_features: int,
        n_targets: int = 1,
        n_future: int = 0,
        quantiles: tuple[float, ...] = (0.1, 0.5, 0.9),
        d_model: int = 64,
        n_heads: int = 4,
        e_layers: int = 2,
        d_layers: int = 1,
        d_ff: int = 128,
        factor: int = 5,
        dropout: float = 0.05,
        label_len: int | None = None,
        distil: bool = True,
        attention: str = "prob",
        activation: str = "gelu",
        mix: bool = True,
    ) -> None:
        super().__init__(
            input_size=input_size, horizon=horizon, n_features=n_features, n_targets=n_targets, n_future=n_future,
            quantiles=quantiles, d_model=d_model, n_heads=n_heads, e_layers=e_layers, d_layers=d_layers, d_ff=d_ff,
            factor=factor, dropout=dropout, label_len=label_len, distil=distil, attention=attention,
            activation=activation, mix=mix,
        )
        check_choice("Informer", "attention", attention, ATTENTIONS)
        check_choice("Informer", "activation", activation, ACTIVATIONS)
        self.label_len = input_size // 2 if label_len is None else label_len
        if not 0 <= self.label_len <= input_size:
            raise ValueError(f"Informer: label_len={label_len} must lie in [0, input_size={input_size}]")
        if e_layers < 1 or d_layers < 1 or factor < 1 or d_ff < 1:
            raise ValueError("Informer: e_layers, d_layers, factor and d_ff must be >= 1")
        dec_len = self.label_len + horizon
        self.encoder = InformerEncoder(
            n_features, input_size, d_model, n_heads, e_layers, d_ff, factor, dropout, attention, distil, activation
        )
        self.dec_token = TokenEmbedding(n_features, d_model)
        self.register_buffer("dec_position", sinusoid_table(dec_len, d_model), persistent=False)  # [S, D]
        self.time_embedding = nn.Linear(n_future, d_model, bias=False) if n_future > 0 else None
        self.dec_dropout = Dropout(dropout)
        self.decoder = nn.ModuleList(
            DecoderLayer(
                AttentionLayer(make_attention(attention, factor, dropout), d_model, n_heads, mix=mix),
                AttentionLayer(FullAttention(dropout), d_model, n_heads),
                d_model, d_ff, dropout, activation,
            )
            for _ in range(d_layers)
        )
        self.dec_norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, n_targets)

    def decoder_input(self, x_past: torch.Tensor) -> torch.Tensor:
        """Start token plus placeholders: ``[B, L, F] -> [B, label_len + H, F]`` (last ``label_len`` rows, then 0)."""
        b, length, f = x_past.shape
        start = x_past[:, length - self.label_len :, :]  # [B, label_len, F]
        return torch.cat([start, x_past.new_zeros(b, self.horizon, f)], dim=1)  # [B, label_len + H, F]

    def forward(
        self, x_past: torch.Tensor, x_future: torch.Tensor | None = None, x_static: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``x_past`` ``[B, L, F]``, ``x_future`` ``[B, H, K]`` (when ``n_future > 0``) -> ``[B, H, T, 1]``."""
        memory = self.encoder(x_past)  # [B, L', D]
        dec = self.dec_token(self.decoder_input(x_past)) + self.dec_position  # [B, S, D]
        if self.time_embedding is not None:
            if x_future is None:
                raise ValueError(f"Informer was built with n_future={self.n_future} but got no x_future")
            marks = self.time_embedding(x_future)  # [B, H, K] -> [B, H, D]
            dec = dec + F.pad(marks, (0, 0, self.label_len, 0))  # [B, H, D] -> [B, S, D] (no marks on the start token)
        dec = self.dec_dropout(dec)
        for layer in self.decoder:
            dec = layer(dec, memory)
        out = self.head(self.dec_norm(dec[:, -self.horizon :, :]))  # [B, S, D] -> [B, H, D] -> [B, H, T]
        return out.unsqueeze(-1)  # [B, H, T] -> [B, H, T, 1]
