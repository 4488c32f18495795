"""What each walk-forward fold trains (the ``[gm]`` config section), torch-free so that reading a config never
imports torch: network names come from the registry's name table, not from the network classes."""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from ground.choices import choice_hint
from ground.errors import InvalidValue
from ml.gm.calibration import METHODS as CALIBRATION_METHODS
from ml.networks.registry import DATA_HPARAMS, NETWORK_NAMES, SIZES, default_hparams
from ml.train_config import TrainConfig

DEFAULT_MEMBERS = ("informer", "tft", "nbeats", "tsmixer")
WEIGHTINGS = ("inverse_mse", "equal")
CALIBRATION_POOLS = ("expanding", "fold")
# Sizes the windows set; quantiles stay a member setting.
_FROM_WINDOWS = tuple(k for k in DATA_HPARAMS if k != "quantiles")


def _choice(value: str, choices: tuple[str, ...], field_name: str, what: str) -> None:
    if value not in choices:
        raise InvalidValue(field_name, f"unknown {what} {value!r}", choice_hint(value, choices))


def _default_train() -> TrainConfig:
    """Cold-start training sized for a 2-core CPU (about 25 s per fold for the four tiny members)."""
    return TrainConfig(max_epochs=6, batch_size=128, learning_rate=1e-3, patience=2, seed=0)


def _default_warm_train() -> TrainConfig:
    """Warm-start training: a short adaptation of the previous fold's weights (about 6 s per fold)."""
    return TrainConfig(max_epochs=2, batch_size=128, learning_rate=5e-4, patience=1, seed=0)


@dataclass(frozen=True)
class GMEnsembleConfig:
    """What each fold trains (the ``[gm]`` config section).

    ``hparams`` overrides the ``size`` preset per member (``{"tft": {"hidden_size": 32}}``); data-derived sizes
    (input_size, horizon, n_features, ...) come from the windows. ``warm_train`` replaces ``train`` for members
    that start from the previous fold's weights (shorter: they only adapt). ``cpu_threads`` is the torch thread count
    while training on the CPU (None: leave it): these networks' ops are too small to split, and with 2 threads on a
    busy 2-core machine a training step was measured 7-20x slower than with 1.
    """

    members: tuple[str, ...] = DEFAULT_MEMBERS
    size: str = "tiny"
    hparams: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    train: TrainConfig = field(default_factory=_default_train)
    warm_train: TrainConfig = field(default_factory=_default_warm_train)
    weighting: str = "inverse_mse"
    calibration: str = "platt"
    calibration_pool: str = "expanding"
    cpu_threads: int | None = 1

    def __post_init__(self) -> None:
        members = tuple(self.members)
        if not members:
            raise InvalidValue("members", "the GM ensemble needs at least one member")
        for name in members:
            _choice(name, NETWORK_NAMES, "members", "network")
        if len(set(members)) != len(members):
            raise InvalidValue("members", f"duplicate ensemble members in {list(members)}")
        _choice(self.size, SIZES, "size", "model size")
        _choice(self.weighting, WEIGHTINGS, "weighting", "ensemble weighting")
        _choice(self.calibration, CALIBRATION_METHODS, "calibration", "calibration method")
        _choice(self.calibration_pool, CALIBRATION_POOLS, "calibration_pool", "calibration pool")
        for name in self.hparams:
            if name not in members:
                raise InvalidValue("hparams", f"hparams given for {name!r}, which is not an ensemble member",
                                   choice_hint(name, members))
        threads = self.cpu_threads
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
            raise InvalidValue("cpu_threads", f"must be empty or an integer >= 1, got {threads!r}")
        object.__setattr__(self, "members", members)
        frozen = {k: MappingProxyType(dict(v)) for k, v in self.hparams.items()}
        object.__setattr__(self, "hparams", MappingProxyType(frozen))

    def member_hparams(self, name: str) -> dict[str, Any]:
        """The size preset merged with this member's overrides (without the data-derived sizes)."""
        merged = {**default_hparams(name, self.size), **dict(self.hparams.get(name, {}))}
        return {k: v for k, v in merged.items() if k not in _FROM_WINDOWS}

    def to_dict(self) -> dict[str, Any]:
        """Plain values for ``meta.json`` and run records."""
        return {
            "members": list(self.members),
            "size": self.size,
            "hparams": {k: dict(v) for k, v in self.hparams.items()},
            "train": dataclasses.asdict(self.train),
            "warm_train": dataclasses.asdict(self.warm_train),
            "weighting": self.weighting,
            "calibration": self.calibration,
            "calibration_pool": self.calibration_pool,
            "cpu_threads": self.cpu_threads,
        }
