"""Training hyperparameters of the forecasting networks, torch-free so that reading a config never imports torch."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

from ground.choices import choice_hint
from ground.errors import InvalidValue

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")
LR_SCHEDULES = ("cosine", "plateau", "none")
PLATEAU_FACTOR = 0.5  # LR multiplier when validation stalls under the "plateau" schedule


@dataclass(frozen=True)
class TrainConfig:
    """Training hyperparameters, validated on construction (a bad value raises ``InvalidValue`` naming the field).

    ``patience`` counts validation checks without an improvement larger than ``min_delta``; ``grad_clip`` 0
    turns clipping off; ``max_train_seconds`` stops training after the running batch once the budget is spent,
    and the cosine schedule then decays over that time budget when it would end sooner than the epochs.
    """

    max_epochs: int = 100
    batch_size: int = 32
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    patience: int = 10
    min_delta: float = 0.0
    grad_clip: float = 1.0
    lr_schedule: str = "cosine"
    warmup_epochs: int = 0
    seed: int = 0
    device: str = "auto"
    max_train_seconds: float | None = None
    val_every: int = 1
    eval_batch_size: int = 1024

    def __post_init__(self) -> None:
        for name in ("max_epochs", "batch_size", "patience", "val_every", "eval_batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidValue(name, f"must be an integer >= 1, got {value!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise InvalidValue("seed", f"must be an integer, got {self.seed!r}")
        if not isinstance(self.warmup_epochs, int) or not 0 <= self.warmup_epochs < self.max_epochs:
            raise InvalidValue("warmup_epochs", f"must be an integer in [0, max_epochs), got {self.warmup_epochs!r}")
        if not (isinstance(self.learning_rate, (int, float)) and math.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise InvalidValue("learning_rate", f"must be a finite number > 0, got {self.learning_rate!r}")
        for name in ("weight_decay", "min_delta", "grad_clip"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise InvalidValue(name, f"must be a finite number >= 0, got {value!r}")
        if self.max_train_seconds is not None and not (
            isinstance(self.max_train_seconds, (int, float)) and self.max_train_seconds > 0
        ):
            raise InvalidValue("max_train_seconds", f"must be empty or a number > 0, got {self.max_train_seconds!r}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise InvalidValue("lr_schedule", f"unknown schedule {self.lr_schedule!r}", choice_hint(self.lr_schedule, LR_SCHEDULES))
        if self.device not in DEVICE_CHOICES and not re.fullmatch(r"cuda:\d+", str(self.device)):
            raise InvalidValue("device", f"unknown device {self.device!r}", choice_hint(self.device, (*DEVICE_CHOICES, "cuda:N")))
