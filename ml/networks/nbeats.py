"""N-BEATS: Oreshkin et al., "N-BEATS: Neural basis expansion analysis for interpretable time series
forecasting", ICLR 2020, arXiv 1905.10437.

A deep stack of fully connected blocks. Each block reads the residual of its input, runs ``n_layers`` ReLU layers
and a linear layer to expansion coefficients ``theta``, and maps them through a basis ``g`` to a *backcast* (what
the block explains of its input, subtracted before the next block) and a *forecast* (added to the output): doubly
residual stacking (section 3.2).

- Generic configuration (N-BEATS-G): ``n_stacks`` stacks of ``n_blocks`` blocks with learned linear bases. As in the
  authors' code the basis is folded into the coefficient layer (``theta`` holds the L backcast and H forecast
  values directly).
- Interpretable configuration (N-BEATS-I, section 3.3): a trend stack with the polynomial basis ``t^i``,
  ``i = 0..trend_degree`` on ``t = 0, 1/H, .., (H-1)/H``, then a seasonality stack with the Fourier basis
  ``cos(2 pi k t)``, ``k = 0..floor(H/2)-1`` and ``sin(2 pi k t)``, ``k = 1..floor(H/2)-1``; weights shared by the
  blocks of a stack (``share_weights``, on in the paper). The backcast of a seasonality block uses the same
  periods on the input window, the backcast of a trend block the same degree on ``t = 0, 1/L, .., (L-1)/L``.
- ``naive_level``: the forecast starts from the last observed value, to which the stacks add (the authors' code
  and neuralforecast do this; the paper leaves it implicit). ``decompose`` returns each part separately.

Univariate: only the ``T`` target columns of ``x_past`` are used, each as its own series (channel-independent,
folded into the batch), with shared weights.

Shapes: ``x_past`` ``[B, L, F]`` -> ``[B, H, T, 1]``; inside, series ``[N = B*T, L]`` -> forecast ``[N, H]``.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from types import MappingProxyType
from typing import ClassVar

import torch
from torch import nn

from ml.networks.base import ForecastNetwork, check_choice
from ml.networks.layers import Dropout

KINDS = ("generic", "interpretable")


class GenericBasis(nn.Module):
    """Learned basis: ``theta`` ``[N, L + H]`` holds the backcast and forecast directly."""

    def __init__(self, input_size: int, horizon: int) -> None:
        super().__init__()
        self.input_size = input_size
        self.theta_size = input_size + horizon

    def forward(self, theta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # split, not two slices: its backward concatenates the two gradients instead of zero-filling two copies
        backcast, forecast = theta.split((self.input_size, self.theta_size - self.input_size), dim=1)
        return backcast, forecast  # [N, L + H] -> [N, L], [N, H]


class _FixedBasis(nn.Module):
    """Fixed basis matrices: ``theta`` ``[N, P_b + P_f]`` -> (``theta_b @ basis_b`` ``[N, L]``,
    ``theta_f @ basis_f`` ``[N, H]``)."""

    def __init__(self, backcast: torch.Tensor, forecast: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("backcast_basis", backcast, persistent=False)  # [P_b, L]
        self.register_buffer("forecast_basis", forecast, persistent=False)  # [P_f, H]
        self.n_backcast = backcast.shape[0]
        self.theta_size = backcast.shape[0] + forecast.shape[0]

    def forward(self, theta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        theta_b, theta_f = theta.split((self.n_backcast, self.theta_size - self.n_backcast), dim=1)  # [N, P_b], [N, P_f]
        return theta_b @ self.backcast_basis, theta_f @ self.forecast_basis  # [N, L], [N, H]


def trend_basis(degree: int, length: int) -> torch.Tensor:
    """Polynomial basis ``[degree + 1, length]``: rows ``t^i`` on ``t = arange(length) / length``."""
    t = torch.arange(length, dtype=torch.float32) / length  # [length]
    return torch.stack([t**i for i in range(degree + 1)])  # [degree + 1, length]


def seasonality_basis(horizon: int, length: int) -> torch.Tensor:
    """Fourier basis ``[2K + 1, length]`` with ``K = max(0, floor(H/2) - 1)``: ``cos(2 pi k t)``, ``k = 0..K``, then
    ``sin(2 pi k t)``, ``k = 1..K``, on ``t = arange(length) / H`` (periods are fractions of the horizon)."""
    k_max = max(0, horizon // 2 - 1)
    t = torch.arange(length, dtype=torch.float32) / horizon  # [length]
    cos = torch.stack([torch.cos(2 * math.pi * k * t) for k in range(k_max + 1)])  # [K + 1, length]
    sin = [torch.sin(2 * math.pi * k * t) for k in range(1, k_max + 1)]
    return torch.cat([cos, torch.stack(sin)]) if sin else cos  # [2K + 1, length]


class Block(nn.Module):
    """FC stack ``L -> width (x n_layers, ReLU) -> theta`` followed by a basis: ``[N, L] -> ([N, L], [N, H])``."""

    def __init__(self, input_size: int, width: int, n_layers: int, basis: GenericBasis | _FixedBasis, dropout: float) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for i in range(n_layers):
            # in place: the Linear's output is not needed for its backward, so ReLU may overwrite it
            layers += [nn.Linear(input_size if i == 0 else width, width), nn.ReLU(inplace=True), Dropout(dropout)]
        self.fc = nn.Sequential(*layers)
        self.theta = nn.Linear(width, basis.theta_size)
        self.basis = basis

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.basis(self.theta(self.fc(x)))


class Stack(nn.Module):
    """``n_blocks`` blocks in sequence; with ``share`` one block's weights are applied ``n_blocks`` times."""

    def __init__(self, make_block: Callable[[], Block], n_blocks: int, share: bool) -> None:
        super().__init__()
        self.n_blocks = n_blocks
        self.blocks = nn.ModuleList([make_block()] if share else [make_block() for _ in range(n_blocks)])

    def forward(self, residual: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``[N, L]`` -> (residual after the stack ``[N, L]``, the stack's forecast ``[N, H]``)."""
        forecast = None
        for i in range(self.n_blocks):
            backcast, block_forecast = self.blocks[i % len(self.blocks)](residual)
            residual = residual - backcast
            forecast = block_forecast if forecast is None else forecast + block_forecast
        assert forecast is not None  # n_blocks >= 1
        return residual, forecast


class NBEATS(ForecastNetwork):
    """N-BEATS, generic or interpretable (see module docstring)."""

    name: ClassVar[str] = "nbeats"
    MULTIVARIATE: ClassVar[bool] = False
    FUTURE_EXOG: ClassVar[bool] = False
    QUANTILES: ClassVar[bool] = False
    SIZES: ClassVar = MappingProxyType({
        "tiny": MappingProxyType({"kind": "generic", "n_stacks": 2, "n_blocks": 1, "n_layers": 2, "layer_width": 16}),
        "small": MappingProxyType({"kind": "generic", "n_stacks": 4, "n_blocks": 1, "n_layers": 4,
                                   "layer_width": 128}),
        # N-BEATS-G of the paper: 30 stacks of one block, 4 layers of 512 units
        "base": MappingProxyType({"kind": "generic", "n_stacks": 30, "n_blocks": 1, "n_layers": 4,
                                  "layer_width": 512}),
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
        kind: str = "generic",
        n_stacks: int = 4,
        n_blocks: int = 1,
        n_layers: int = 4,
        layer_width: int = 128,
        share_weights: bool | None = None,
        trend_degree: int = 3,
        trend_width: int = 256,
        seasonality_width: int = 2048,
        dropout: float = 0.0,
        naive_level: bool = True,
    ) -> None:
        super().__init__(
            input_size=input_size, horizon=horizon, n_features=n_features, n_targets=n_targets, n_future=n_future,
            quantiles=quantiles, kind=kind, n_stacks=n_stacks, n_blocks=n_blocks, n_layers=n_layers,
            layer_width=layer_width, share_weights=share_weights, trend_degree=trend_degree, trend_width=trend_width,
            seasonality_width=seasonality_width, dropout=dropout, naive_level=naive_level,
        )
        check_choice("NBEATS", "kind", kind, KINDS)
        if min(n_stacks, n_blocks, n_layers, layer_width, trend_width, seasonality_width) < 1 or trend_degree < 0:
            raise ValueError("NBEATS: stack, block, layer counts and widths must be >= 1, trend_degree >= 0")
        self.kind, self.naive_level = kind, naive_level
        share = (kind == "interpretable") if share_weights is None else share_weights
        length = input_size

        def block(width: int, basis: GenericBasis | _FixedBasis) -> Block:
            return Block(length, width, n_layers, basis, dropout)

        if kind == "generic":
            self.stack_names = tuple(f"stack_{i}" for i in range(n_stacks))
            stacks = [
                Stack(lambda: block(layer_width, GenericBasis(length, horizon)), n_blocks, share)
                for _ in range(n_stacks)
            ]
        else:
            self.stack_names = ("trend", "seasonality")
            trend = (trend_basis(trend_degree, length), trend_basis(trend_degree, horizon))
            season = (seasonality_basis(horizon, length), seasonality_basis(horizon, horizon))
            stacks = [
                Stack(lambda: block(trend_width, _FixedBasis(*trend)), n_blocks, share),
                Stack(lambda: block(seasonality_width, _FixedBasis(*season)), n_blocks, share),
            ]
        self.stacks = nn.ModuleList(stacks)

    def _series(self, x_past: torch.Tensor) -> torch.Tensor:
        """The target columns as independent series: ``[B, L, F] -> [B * T, L]``."""
        b, length, _ = x_past.shape
        y = x_past[..., : self.n_targets].transpose(1, 2)  # [B, L, F] -> [B, L, T] -> [B, T, L]
        return y.reshape(b * self.n_targets, length)  # [B, T, L] -> [B * T, L]

    def _unfold(self, forecast: torch.Tensor, batch: int) -> torch.Tensor:
        """``[B * T, H] -> [B, H, T]``."""
        return forecast.view(batch, self.n_targets, self.horizon).transpose(1, 2)  # [B*T, H] -> [B, T, H] -> [B, H, T]

    def decompose(self, x_past: torch.Tensor) -> dict[str, torch.Tensor]:
        """Forecast parts, each ``[B, H, T]``: ``level`` (when ``naive_level``) and one per stack (``trend`` and
        ``seasonality`` in the interpretable configuration); their sum is the forecast."""
        b = x_past.shape[0]
        residual = self._series(x_past)  # [N, L]
        parts: dict[str, torch.Tensor] = {}
        if self.naive_level:
            parts["level"] = self._unfold(residual[:, -1:].expand(-1, self.horizon), b)  # [N, 1] -> [N, H] -> [B, H, T]
        for name, stack in zip(self.stack_names, self.stacks):
            residual, forecast = stack(residual)
            parts[name] = self._unfold(forecast, b)
        return parts

    def forward(
        self, x_past: torch.Tensor, x_future: torch.Tensor | None = None, x_static: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``x_past`` ``[B, L, F]`` -> ``[B, H, T, 1]`` (``x_future`` is not used); the sum of ``decompose``'s parts."""
        residual = self._series(x_past)  # [N, L]
        total = residual[:, -1:] if self.naive_level else None  # [N, 1], broadcast over the horizon
        for stack in self.stacks:
            residual, forecast = stack(residual)
            total = forecast if total is None else total + forecast  # [N, H]
        assert total is not None  # at least one stack
        return self._unfold(total, x_past.shape[0]).unsqueeze(-1)  # [N, H] -> [B, H, T] -> [B, H, T, 1]
