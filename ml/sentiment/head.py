"""The trained part of the transformer path: a small MLP over frozen sentence embeddings.

A frozen encoder with a two-layer head trains in seconds on CPU and keeps the encoder's cached vectors reusable
across retrainings; ``ml.sentiment.finetune`` trains the encoder with the head instead, slower to train but it
generalised better to unseen English headlines (docs/benchmarks.md).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from ml.sentiment.encoders import TextEncoder, build_encoder
from ml.sentiment.labels import LABELS


class MLPHead(nn.Module):
    """``[B, in_dim]`` features -> standardise -> ``[B, n_classes]`` logits: Linear, GELU, dropout, Linear.

    Normalised sentence embeddings have tiny per-dimension values; standardising them with statistics of the
    training rows (buffers saved with the weights) lets the head train in tens of epochs instead of hundreds.
    """

    shift: torch.Tensor  # registered buffers
    scale: torch.Tensor

    def __init__(self, in_dim: int, hidden: int = 256, dropout: float = 0.1, n_classes: int = len(LABELS)) -> None:
        super().__init__()
        if in_dim < 1 or hidden < 1 or not 0.0 <= dropout < 1.0:
            raise ValueError("MLPHead: need in_dim >= 1, hidden >= 1 and 0 <= dropout < 1")
        self.hparams: dict[str, Any] = {"in_dim": in_dim, "hidden": hidden, "dropout": dropout, "n_classes": n_classes}
        self.net = nn.Sequential(
            nn.Dropout(dropout),
            nn.Linear(in_dim, hidden),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, n_classes),
        )
        self.register_buffer("shift", torch.zeros(in_dim))
        self.register_buffer("scale", torch.ones(in_dim))

    def fit_scaler(self, x: torch.Tensor) -> None:
        """Set the input standardisation from training features ``[N, in_dim]``."""
        self.shift.copy_(x.mean(dim=0))
        self.scale.copy_(x.std(dim=0, unbiased=False).clamp(min=1e-6))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x - self.shift) / self.scale)


class EncoderHead:
    """One route of the transformer path: a frozen encoder (``spec`` names it) and the head trained on it."""

    kind = "encoder_head"

    def __init__(self, spec: str, encoder: TextEncoder, head: MLPHead) -> None:
        self.spec, self.encoder, self.module = spec, encoder, head

    @classmethod
    def new(cls, spec: str, encoder: TextEncoder, hidden: int = 256, dropout: float = 0.1) -> EncoderHead:
        """An untrained head sized for ``encoder``."""
        return cls(spec, encoder, MLPHead(encoder.dim, hidden, dropout))

    def featurize(self, texts: Sequence[str]) -> torch.Tensor:
        """``[N, D]`` embeddings (through the cache when the encoder has one)."""
        return torch.from_numpy(np.ascontiguousarray(self.encoder.encode(list(texts))))

    def prepare(self, features: torch.Tensor, train_idx: np.ndarray) -> None:
        """Fit the head's input standardisation on the training rows only."""
        self.module.fit_scaler(features[torch.from_numpy(np.asarray(train_idx, dtype=np.int64))])

    def logits(self, features: torch.Tensor, idx: np.ndarray | None = None) -> torch.Tensor:
        """``[n, 3]`` logits for the rows ``idx`` of ``features`` (all rows when None)."""
        x = features if idx is None else features[torch.from_numpy(np.asarray(idx, dtype=np.int64))]
        return self.module(x)

    def describe(self) -> dict[str, Any]:
        """JSON that rebuilds this route: the encoder spec and id, and the head's hyperparameters."""
        return {"type": self.kind, "encoder": self.spec, "encoder_id": self.encoder.id, "head": self.module.hparams}

    @classmethod
    def from_description(cls, desc: dict[str, Any], wrap: Any = None) -> EncoderHead:
        """Rebuild an untrained route from :meth:`describe`; ``wrap`` may wrap the encoder (e.g. with a cache)."""
        encoder = build_encoder(desc["encoder"])
        if wrap is not None:
            encoder = wrap(encoder)
        return cls(desc["encoder"], encoder, MLPHead(**desc["head"]))
