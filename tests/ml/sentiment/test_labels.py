"""The label <-> score mapping shared by every model."""
from __future__ import annotations

import math

import numpy as np
import pytest

from ground.errors import DataError
from ml.sentiment.labels import LABELS, confidence_from_probs, label_index, label_indices, score_from_probs


@pytest.mark.parametrize(
    ("probs", "score", "confidence"),
    [
        ((0.0, 0.0, 1.0), 1.0, 1.0),
        ((1.0, 0.0, 0.0), -1.0, 1.0),
        ((0.0, 1.0, 0.0), 0.0, 1.0),
        ((1 / 3, 1 / 3, 1 / 3), 0.0, 0.0),
        ((0.5, 0.0, 0.5), 0.0, 1.0 - math.log(2) / math.log(3)),
        ((0.1, 0.2, 0.7), 0.6, 1.0 - -(0.1 * math.log(0.1) + 0.2 * math.log(0.2) + 0.7 * math.log(0.7)) / math.log(3)),
    ],
)
def test_probability_table(probs: tuple[float, float, float], score: float, confidence: float) -> None:
    p = np.array([probs])
    assert score_from_probs(p)[0] == pytest.approx(score)
    assert confidence_from_probs(p)[0] == pytest.approx(confidence)


def test_order_and_ranges() -> None:
    assert LABELS == ("negative", "neutral", "positive")
    p = np.random.default_rng(0).dirichlet([1, 1, 1], size=200)
    s, c = score_from_probs(p), confidence_from_probs(p)
    assert s.min() >= -1 and s.max() <= 1 and c.min() >= 0 and c.max() <= 1


def test_label_names_are_forgiving_about_case_but_not_typos() -> None:
    assert label_index(" Positive ") == 2
    assert label_indices(["negative", "neutral"]).tolist() == [0, 1]
    with pytest.raises(DataError, match="did you mean 'neutral'") as err:
        label_indices(["positive", "nuetral"], "file.csv")
    assert "item 2" in str(err.value)
