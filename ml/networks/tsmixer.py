"""TSMixer: Chen et al., "TSMixer: An All-MLP Architecture for Time Series Forecasting", TMLR 2023,
arXiv 2303.06053.

``tsmixer`` (section 4.1, the authors' ``tsmixer_basic``): reversible instance normalisation, ``n_blocks`` mixer
layers, then a temporal projection ``L -> H`` of the target channels. A mixer layer is

- time mixing: norm -> Linear over the time axis (shared by all channels) -> ReLU -> dropout, plus the input;
- feature mixing: norm -> Linear(C, ff_dim) -> ReLU -> dropout -> Linear(ff_dim, C) -> dropout, plus the input.

The norm is the authors' 2D normalisation over (time, feature): batch norm (``"batch"``, their default: statistics
per (time, feature) position over the batch) or layer norm (``"layer"``, over the whole ``[L, C]`` slice).

``tsmixerx`` (section 4.3, TSMixer with auxiliary information): align, then mix. The normalised history
``[L, F]`` is projected along time to ``[H, F]`` and feature-mixed to ``ff_dim``; the known-future inputs
``[H, K]`` are feature-mixed to ``ff_dim`` and concatenated; static inputs ``[S]`` (optional) are repeated over
the horizon, feature-mixed and concatenated too, and also condition every mixer layer (conditional feature mixing:
their feature-mixed projection is concatenated to the feature-mixing input). Mixer layers over ``[H, ff_dim]`` and a
linear head to the ``T`` targets follow, then the RevIN inverse for the targets.

Shapes: ``x_past`` ``[B, L, F]`` (``x_future`` ``[B, H, K]``, ``x_static`` ``[B, S]`` for ``tsmixerx``) ->
``[B, H, T, 1]``.
"""
from __future__ import annotations

from types import MappingProxyType
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from ml.networks.base import ForecastNetwork, check_choice
from ml.networks.layers import Dropout, RevIN

NORMS = ("batch", "layer")


class TimeBatchNorm(nn.Module):
    """Batch norm with one statistic per (time, feature) position: ``[B, L, C] -> [B, L, C]``."""

    def __init__(self, length: int, channels: int) -> None:
        super().__init__()
        self.bn = nn.BatchNorm1d(length * channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, length, c = x.shape
        return self.bn(x.reshape(b, length * c)).view(b, length, c)  # [B, L, C] -> [B, L*C] -> [B, L, C]


def make_norm(kind: str, length: int, channels: int) -> nn.Module:
    return TimeBatchNorm(length, channels) if kind == "batch" else nn.LayerNorm([length, channels])


class TimeMixing(nn.Module):
    """Residual MLP along time, shared across channels: ``[B, L, C] -> [B, L, C]``."""

    def __init__(self, length: int, channels: int, dropout: float, norm: str) -> None:
        super().__init__()
        self.norm = make_norm(norm, length, channels)
        self.fc = nn.Linear(length, length)
        self.dropout = Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.norm(x).transpose(1, 2)  # [B, L, C] -> [B, C, L]
        y = F.relu(self.fc(y)).transpose(1, 2)  # [B, C, L] -> [B, L, C]
        return x + self.dropout(y)


class FeatureMixing(nn.Module):
    """Residual two-layer MLP along features: ``[B, L, C_in] -> [B, L, C_out]``.

    With ``C_in != C_out`` the residual goes through a linear projection (needed by ``tsmixerx``'s alignment).
    """

    def __init__(self, length: int, c_in: int, c_out: int, ff_dim: int, dropout: float, norm: str) -> None:
        super().__init__()
        self.norm = make_norm(norm, length, c_in)
        self.fc1, self.fc2 = nn.Linear(c_in, ff_dim), nn.Linear(ff_dim, c_out)
        self.dropout = Dropout(dropout)
        self.skip = nn.Linear(c_in, c_out) if c_in != c_out else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.dropout(self.fc2(self.dropout(F.relu(self.fc1(self.norm(x))))))
        return (x if self.skip is None else self.skip(x)) + y


class MixerLayer(nn.Module):
    """Time mixing then (conditional) feature mixing: ``[B, L, C_in] -> [B, L, C_out]``.

    With ``n_static > 0`` the static inputs ``[B, S]`` are feature-mixed to ``ff_dim`` channels, repeated over
    time and concatenated to the feature-mixing input.
    """

    def __init__(
        self, length: int, c_in: int, c_out: int, ff_dim: int, dropout: float, norm: str, n_static: int = 0
    ) -> None:
        super().__init__()
        self.time = TimeMixing(length, c_in, dropout, norm)
        self.static = FeatureMixing(length, n_static, ff_dim, ff_dim, dropout, norm) if n_static > 0 else None
        self.feature = FeatureMixing(length, c_in + (ff_dim if n_static > 0 else 0), c_out, ff_dim, dropout, norm)

    def forward(self, x: torch.Tensor, static: torch.Tensor | None = None) -> torch.Tensor:
        x = self.time(x)
        if self.static is not None:
            assert static is not None, "a static-feature mixer needs the static inputs"
            s = static.unsqueeze(1).expand(-1, x.shape[1], -1)  # [B, S] -> [B, L, S]
            x = torch.cat([x, self.static(s)], dim=-1)  # [B, L, C_in + ff_dim]
        return self.feature(x)


class TSMixer(ForecastNetwork):
    """TSMixer for multivariate forecasting from past inputs only (see module docstring)."""

    name: ClassVar[str] = "tsmixer"
    MULTIVARIATE: ClassVar[bool] = True
    FUTURE_EXOG: ClassVar[bool] = False
    QUANTILES: ClassVar[bool] = False
    SIZES: ClassVar = MappingProxyType({
        "tiny": MappingProxyType({"n_blocks": 2, "ff_dim": 8, "dropout": 0.1, "norm": "batch"}),
        "small": MappingProxyType({"n_blocks": 2, "ff_dim": 64, "dropout": 0.1, "norm": "batch"}),
        # the authors' tuned ETT setting (ETTm2 in their run_tuned_hparam.sh): 2 blocks, ff_dim 64, dropout 0.9
        "base": MappingProxyType({"n_blocks": 2, "ff_dim": 64, "dropout": 0.9, "norm": "batch"}),
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
        n_blocks: int = 2,
        ff_dim: int = 64,
        dropout: float = 0.1,
        norm: str = "batch",
        revin: bool = True,
    ) -> None:
        super().__init__(
            input_size=input_size, horizon=horizon, n_features=n_features, n_targets=n_targets, n_future=n_future,
            quantiles=quantiles, n_blocks=n_blocks, ff_dim=ff_dim, dropout=dropout, norm=norm, revin=revin,
        )
        check_choice("TSMixer", "norm", norm, NORMS)
        if n_blocks < 1 or ff_dim < 1:
            raise ValueError("TSMixer: n_blocks and ff_dim must be >= 1")
        self.revin = RevIN(n_features) if revin else None
        self.blocks = nn.ModuleList(
            MixerLayer(input_size, n_features, n_features, ff_dim, dropout, norm) for _ in range(n_blocks)
        )
        self.projection = nn.Linear(input_size, horizon)

    def forward(
        self, x_past: torch.Tensor, x_future: torch.Tensor | None = None, x_static: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``x_past`` ``[B, L, F]`` -> ``[B, H, T, 1]`` (``x_future`` is not used)."""
        x, stats = (x_past, None) if self.revin is None else self.revin.normalize(x_past)  # [B, L, F]
        for block in self.blocks:
            x = block(x)
        y = x[..., : self.n_targets].transpose(1, 2)  # [B, L, F] -> [B, L, T] -> [B, T, L]
        y = self.projection(y).transpose(1, 2)  # [B, T, L] -> [B, T, H] -> [B, H, T]
        if self.revin is not None and stats is not None:
            y = self.revin.denormalize(y, stats)
        return y.unsqueeze(-1)  # [B, H, T] -> [B, H, T, 1]


class TSMixerX(ForecastNetwork):
    """TSMixer with auxiliary information: known-future and optional static inputs (see module docstring)."""

    name: ClassVar[str] = "tsmixerx"
    MULTIVARIATE: ClassVar[bool] = True
    FUTURE_EXOG: ClassVar[bool] = True
    QUANTILES: ClassVar[bool] = False
    STATIC_EXOG: ClassVar[bool] = True
    SIZES: ClassVar = TSMixer.SIZES

    def __init__(
        self,
        *,
        input_size: int,
        horizon: int,
        n_features: int,
        n_targets: int = 1,
        n_future: int = 0,
        quantiles: tuple[float, ...] = (0.1, 0.5, 0.9),
        n_blocks: int = 2,
        ff_dim: int = 64,
        dropout: float = 0.1,
        norm: str = "batch",
        revin: bool = True,
        n_static: int = 0,
    ) -> None:
        super().__init__(
            input_size=input_size, horizon=horizon, n_features=n_features, n_targets=n_targets, n_future=n_future,
            quantiles=quantiles, n_blocks=n_blocks, ff_dim=ff_dim, dropout=dropout, norm=norm, revin=revin,
            n_static=n_static,
        )
        check_choice("TSMixerX", "norm", norm, NORMS)
        if n_blocks < 1 or ff_dim < 1 or n_static < 0 or n_future < 0:
            raise ValueError("TSMixerX: n_blocks and ff_dim must be >= 1, n_static and n_future >= 0")
        self.n_static = n_static
        h = horizon
        self.revin = RevIN(n_features) if revin else None
        self.time_projection = nn.Linear(input_size, h)
        self.past_mixing = FeatureMixing(h, n_features, ff_dim, ff_dim, dropout, norm)
        self.future_mixing = FeatureMixing(h, n_future, ff_dim, ff_dim, dropout, norm) if n_future > 0 else None
        self.static_mixing = FeatureMixing(h, n_static, ff_dim, ff_dim, dropout, norm) if n_static > 0 else None
        aligned = ff_dim * (1 + (n_future > 0) + (n_static > 0))
        self.blocks = nn.ModuleList(
            MixerLayer(h, aligned if i == 0 else ff_dim, ff_dim, ff_dim, dropout, norm, n_static)
            for i in range(n_blocks)
        )
        self.head = nn.Linear(ff_dim, n_targets)

    def forward(
        self, x_past: torch.Tensor, x_future: torch.Tensor | None = None, x_static: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``x_past`` ``[B, L, F]``, ``x_future`` ``[B, H, K]``, ``x_static`` ``[B, S]`` -> ``[B, H, T, 1]``."""
        x, stats = (x_past, None) if self.revin is None else self.revin.normalize(x_past)  # [B, L, F]
        x = self.time_projection(x.transpose(1, 2)).transpose(1, 2)  # [B, L, F] -> [B, F, L] -> [B, F, H] -> [B, H, F]
        parts = [self.past_mixing(x)]  # [B, H, ff_dim]
        if self.future_mixing is not None:
            if x_future is None:
                raise ValueError(f"TSMixerX was built with n_future={self.n_future} but got no x_future")
            parts.append(self.future_mixing(x_future))  # [B, H, K] -> [B, H, ff_dim]
        if self.static_mixing is not None:
            if x_static is None or x_static.shape[-1] != self.n_static:
                raise ValueError(f"TSMixerX built with n_static={self.n_static}: pass x_static [B, {self.n_static}]")
            s = x_static.unsqueeze(1).expand(-1, self.horizon, -1)  # [B, S] -> [B, H, S]
            parts.append(self.static_mixing(s))  # [B, H, ff_dim]
        z = torch.cat(parts, dim=-1)  # [B, H, m * ff_dim]
        for block in self.blocks:
            z = block(z, x_static)  # [B, H, ff_dim]
        y = self.head(z)  # [B, H, ff_dim] -> [B, H, T]
        if self.revin is not None and stats is not None:
            y = self.revin.denormalize(y, stats)
        return y.unsqueeze(-1)  # [B, H, T] -> [B, H, T, 1]
