"""The single source of network names, for configs, the CLI and the model store.

Names map to where each class lives and a class is imported on first use, so reading a config (which checks member
names) never imports torch. ``build_network(name, **hparams)`` is the one way to construct a network from stored or
user-given settings: an unknown name or hyperparameter, or an invalid value, raises ``ModelError`` that says what is
valid.
"""
from __future__ import annotations

import importlib
import inspect
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from ground.choices import suggest
from ml.errors import ModelError

if TYPE_CHECKING:
    from ml.networks.base import ForecastNetwork

# name -> (module, class); the class's own ``name`` attribute equals the key (a contract test checks it).
_LOCATIONS: Mapping[str, tuple[str, str]] = MappingProxyType({
    "informer": ("ml.networks.informer", "Informer"),
    "tft": ("ml.networks.tft", "TFT"),
    "nbeats": ("ml.networks.nbeats", "NBEATS"),
    "tsmixer": ("ml.networks.tsmixer", "TSMixer"),
    "tsmixerx": ("ml.networks.tsmixer", "TSMixerX"),
})
NETWORK_NAMES: tuple[str, ...] = tuple(_LOCATIONS)
SIZES = ("tiny", "small", "base")
# Data dimensions: given by the windows, not by a size preset.
DATA_HPARAMS = ("input_size", "horizon", "n_features", "n_targets", "n_future", "quantiles")


def _unknown(what: str, value: str, valid: tuple[str, ...], where: str = "") -> ModelError:
    hint = suggest(value, valid)
    return ModelError(f"unknown {what} {value!r}", where=where, fix=f"{hint + ' ' if hint else ''}valid: {', '.join(valid)}")


def get_network(name: str) -> type[ForecastNetwork]:
    """The network class registered as ``name``."""
    try:
        module, cls_name = _LOCATIONS[name]
    except KeyError:
        raise _unknown("network", str(name), NETWORK_NAMES) from None
    cls: type[ForecastNetwork] = getattr(importlib.import_module(module), cls_name)
    return cls


def valid_hparams(name: str) -> tuple[str, ...]:
    """Every keyword ``build_network(name, ...)`` accepts (data dimensions and architecture)."""
    params = inspect.signature(get_network(name).__init__).parameters.values()
    return tuple(p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY)


def build_network(name: str, **hparams: Any) -> ForecastNetwork:
    """Construct ``name`` from keyword hyperparameters, validating names and values at this boundary."""
    cls = get_network(name)
    valid = valid_hparams(name)
    for key in hparams:
        if key not in valid:
            raise _unknown("hyperparameter", key, valid, where=f"network {name!r}")
    missing = [p for p in ("input_size", "horizon", "n_features") if p not in hparams]
    if missing:
        raise ModelError(f"network {name!r} needs {', '.join(missing)}", fix="set them from the window shapes")
    try:
        return cls(**hparams)
    except (ValueError, TypeError) as exc:
        raise ModelError(f"invalid hyperparameters for network {name!r}: {exc}", fix="check the values") from exc


def default_hparams(name: str, size: str = "small") -> dict[str, Any]:
    """Architecture hyperparameters of a preset: ``tiny`` (tests), ``small`` (2-core CPU), ``base`` (~ the paper).

    Data dimensions (``input_size``, ``horizon``, ``n_features``...) are not included: they come from the data.
    """
    cls = get_network(name)
    if size not in SIZES:
        raise _unknown("size", str(size), SIZES, where=f"network {name!r}")
    return dict(cls.SIZES[size])
