"""Per-column standardisation fitted on a fold's training rows only, stored as JSON beside the weights.

Fitting on training rows alone keeps validation and test statistics out of the model's inputs; saving the
statistics (not an object) lets a stored model be reloaded without unpickling and reproduce its inputs exactly.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ml.errors import ModelError

# A column with (near) zero spread on the training rows is centred but not divided, rather than blown up.
_MIN_STD = 1e-12


@dataclass(frozen=True)
class StandardScaler:
    """``(x - mean) / std`` per column; ``names`` records which feature each column is."""

    names: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]

    def __post_init__(self) -> None:
        if not len(self.names) == len(self.mean) == len(self.std):
            raise ModelError(
                f"scaler statistics disagree in length (names {len(self.names)}, mean {len(self.mean)}, "
                f"std {len(self.std)})"
            )
        if any(not np.isfinite(s) or s <= 0 for s in self.std) or not np.all(np.isfinite(self.mean)):
            raise ModelError("scaler statistics must be finite with positive std")

    @classmethod
    def fit(cls, values: np.ndarray, rows: range | slice, names: Sequence[str]) -> StandardScaler:
        """Statistics of ``values[rows]`` (the training rows); population std, floored for constant columns."""
        x = np.asarray(values, dtype=np.float64)[rows]
        if x.ndim != 2 or x.shape[0] < 2:
            raise ModelError(f"scaler needs at least 2 training rows of a 2-D matrix, got shape {x.shape}")
        if x.shape[1] != len(names):
            raise ModelError(f"scaler got {x.shape[1]} columns but {len(names)} names")
        if not np.all(np.isfinite(x)):
            raise ModelError("scaler training rows contain NaN or infinite values")
        std = x.std(axis=0)
        std = np.where(std > _MIN_STD, std, 1.0)
        return cls(tuple(names), tuple(float(m) for m in x.mean(axis=0)), tuple(float(s) for s in std))

    def transform(self, values: np.ndarray) -> np.ndarray:
        x = np.asarray(values, dtype=np.float64)
        if x.shape[-1] != len(self.names):
            raise ModelError(f"scaler expects {len(self.names)} columns, got {x.shape[-1]}")
        return (x - np.asarray(self.mean)) / np.asarray(self.std)

    def inverse_column(self, values: np.ndarray, column: int = 0) -> np.ndarray:
        """Scaled values of one column back in its original units (e.g. predicted log returns)."""
        return np.asarray(values, dtype=np.float64) * self.std[column] + self.mean[column]

    def to_dict(self) -> dict[str, Any]:
        return {"names": list(self.names), "mean": list(self.mean), "std": list(self.std)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StandardScaler:
        try:
            return cls(
                tuple(str(n) for n in data["names"]),
                tuple(float(m) for m in data["mean"]),
                tuple(float(s) for s in data["std"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"scaler statistics in model metadata are malformed ({exc})") from exc
