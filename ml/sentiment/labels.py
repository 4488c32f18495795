"""The three sentiment classes and how class probabilities become a score and a confidence.

One mapping is shared by training, prediction, the benchmarks and the aggregation, so that a score of +1 always
means "certainly positive" and 0 means "balanced or neutral", whichever model produced it.
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ground.choices import choice_hint
from ground.errors import DataError

LABELS: tuple[str, ...] = ("negative", "neutral", "positive")
NEGATIVE, NEUTRAL, POSITIVE = range(3)


def label_index(label: str, where: str = "") -> int:
    """Class index of a label name (case and surrounding spaces ignored); unknown names suggest close matches."""
    name = str(label).strip().lower()
    if name in LABELS:
        return LABELS.index(name)
    raise DataError(f"unknown sentiment label {label!r}", where, choice_hint(name, LABELS))


def label_indices(labels: Iterable[str], where: str = "") -> np.ndarray:
    """Vector of class indices; ``where`` names the source, and each error adds the 1-based position."""
    out = []
    for i, lab in enumerate(labels):
        out.append(label_index(lab, f"{where} item {i + 1}" if where else f"item {i + 1}"))
    return np.asarray(out, dtype=np.int64)


def balanced_class_weights(labels: np.ndarray) -> np.ndarray:
    """Cross-entropy weight per class, ``n / (K * count)`` (0 for a class absent from ``labels``), so every class
    present weighs as much in the loss as it would in a balanced set."""
    counts = np.bincount(labels, minlength=len(LABELS)).astype(np.float64)
    return np.where(counts > 0, counts.sum() / (len(LABELS) * np.maximum(counts, 1.0)), 0.0)


def score_from_probs(probs: np.ndarray) -> np.ndarray:
    """Score in [-1, 1]: P(positive) - P(negative). ``probs`` is ``[N, 3]`` in ``LABELS`` order."""
    p = np.asarray(probs, dtype=np.float64)
    return np.clip(p[..., POSITIVE] - p[..., NEGATIVE], -1.0, 1.0)


def confidence_from_probs(probs: np.ndarray) -> np.ndarray:
    """Confidence in [0, 1]: one minus the entropy normalised by log(3).

    Uniform probabilities (the model has no idea) give 0 and a one-hot prediction gives 1; unlike the maximum
    probability it also falls when the runner-up class is close.
    """
    p = np.clip(np.asarray(probs, dtype=np.float64), 0.0, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log(p), 0.0)
    entropy = -terms.sum(axis=-1)
    return np.clip(1.0 - entropy / np.log(len(LABELS)), 0.0, 1.0)

