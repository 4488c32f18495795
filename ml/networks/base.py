"""The thin base every forecasting network derives from: hyperparameters, capabilities and tensor contract.

A network is rebuilt from its hyperparameters alone (``cls(**net.hparams)``), so the model store can save
weights as safetensors plus JSON metadata and never needs to unpickle anything.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any, ClassVar

import torch
from torch import nn

from ground.choices import choice_hint
from ml.errors import ModelError


class ForecastNetwork(nn.Module):
    """Base class of the GM networks.

    Tensor contract (B batch, L input_size, F n_features, H horizon, K n_future, T n_targets, Q quantiles):

    - ``x_past``: ``[B, L, F]`` past observed inputs, already scaled; the first ``n_targets`` columns are the targets.
    - ``x_future``: ``[B, H, K]`` known-future inputs (calendar features), or ``None`` when ``n_future == 0``.
    - ``x_static``: ``[B, S]`` static inputs, only for networks with ``STATIC_EXOG`` built with ``n_static = S > 0``.
    - returns ``[B, H, T, Q]``; ``Q == len(quantiles)`` for networks with ``QUANTILES``, else 1.

    Capability flags are class attributes, as neuralforecast's ``EXOGENOUS_FUTR``/``MULTIVARIATE``.
    """

    name: ClassVar[str] = ""
    MULTIVARIATE: ClassVar[bool] = True  # uses all F past inputs (False: only the target columns)
    FUTURE_EXOG: ClassVar[bool] = False  # consumes x_future
    QUANTILES: ClassVar[bool] = False  # outputs several quantiles and trains with the quantile loss
    STATIC_EXOG: ClassVar[bool] = False  # accepts x_static when built with n_static > 0
    # Raised when the same hyperparameters and weights would compute something else: the model store records it
    # and refuses a version stored by another revision rather than silently changing its forecasts.
    REVISION: ClassVar[int] = 1
    # Named architecture presets ("tiny" for tests, "small" for 2-core CPU runs, "base" ~ the paper's sizes):
    # the hyperparameters that are not data dimensions. Read through ``ml.networks.registry.default_hparams``.
    SIZES: ClassVar[Mapping[str, Mapping[str, Any]]] = MappingProxyType({})

    def __init__(
        self,
        *,
        input_size: int,
        horizon: int,
        n_features: int,
        n_targets: int = 1,
        n_future: int = 0,
        quantiles: tuple[float, ...] = (0.1, 0.5, 0.9),
        **hparams: Any,
    ) -> None:
        super().__init__()
        if input_size < 1 or horizon < 1 or n_features < 1 or n_targets < 1 or n_targets > n_features:
            raise ValueError(
                f"{type(self).__name__}: need input_size, horizon, n_features >= 1 and 1 <= n_targets <= n_features"
            )
        self.input_size, self.horizon = input_size, horizon
        self.n_features, self.n_targets, self.n_future = n_features, n_targets, n_future
        self.quantiles = tuple(float(q) for q in quantiles) if self.QUANTILES else (0.5,)
        self._hparams: dict[str, Any] = {
            "input_size": input_size,
            "horizon": horizon,
            "n_features": n_features,
            "n_targets": n_targets,
            "n_future": n_future,
            "quantiles": list(quantiles),
            **hparams,
        }

    @property
    def hparams(self) -> dict[str, Any]:
        """JSON-serialisable keyword arguments that rebuild this network with ``type(self)(**hparams)``."""
        return dict(self._hparams)

    def forward(
        self, x_past: torch.Tensor, x_future: torch.Tensor | None = None, x_static: torch.Tensor | None = None
    ) -> torch.Tensor:
        raise NotImplementedError

    def loss(self, pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Training loss. ``pred`` ``[B, H, T, Q]``, ``y`` ``[B, H, T]``: MSE, or the quantile (pinball) loss."""
        if not self.QUANTILES:
            return torch.mean((pred[..., 0] - y) ** 2)
        q = torch.tensor(self.quantiles, device=pred.device, dtype=pred.dtype)  # [Q]
        err = y.unsqueeze(-1) - pred  # [B, H, T, Q]
        return torch.mean(torch.maximum(q * err, (q - 1.0) * err))

    def point(self, pred: torch.Tensor) -> torch.Tensor:
        """Point forecast ``[B, H, T]`` from ``[B, H, T, Q]``: the median quantile (or the single output)."""
        if pred.shape[-1] == 1:
            return pred[..., 0]
        idx = min(range(len(self.quantiles)), key=lambda i: abs(self.quantiles[i] - 0.5))
        return pred[..., idx]


def check_choice(owner: str, field: str, value: str, options: Iterable[str]) -> str:
    """Validate a categorical hyperparameter; an unknown value fails with the close matches suggested."""
    options = tuple(options)
    if value in options:
        return value
    raise ModelError(f"{owner}: unknown {field}={value!r}", fix=choice_hint(value, options))
