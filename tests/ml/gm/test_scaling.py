"""StandardScaler: training-rows-only statistics, JSON round trip, constant columns, bad input."""
from __future__ import annotations

import json

import numpy as np
import pytest

from ml.errors import ModelError
from ml.gm.scaling import StandardScaler


def test_fit_uses_only_the_given_rows_and_transforms_everything() -> None:
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.normal(1.0, 2.0, (100, 2)), rng.normal(50.0, 9.0, (50, 2))])
    sc = StandardScaler.fit(values, slice(0, 100), ("a", "b"))
    assert np.allclose(sc.mean, values[:100].mean(axis=0)) and np.allclose(sc.std, values[:100].std(axis=0))
    later = values.copy()
    later[100:] = 1e6  # rows after the training range cannot move the statistics
    assert StandardScaler.fit(later, slice(0, 100), ("a", "b")) == sc
    z = sc.transform(values)
    assert np.allclose(z[:100].mean(axis=0), 0.0) and np.allclose(z[:100].std(axis=0), 1.0)
    assert z[100:, 0].mean() > 10  # test rows are scaled with training statistics, not re-centred
    assert np.allclose(sc.inverse_column(z[:, 1], 1), values[:, 1])


def test_json_round_trip_is_exact() -> None:
    values = np.random.default_rng(1).normal(size=(30, 3))
    sc = StandardScaler.fit(values, range(0, 30), ("x", "y", "z"))
    again = StandardScaler.from_dict(json.loads(json.dumps(sc.to_dict())))
    assert again == sc
    assert np.array_equal(again.transform(values), sc.transform(values))


def test_constant_column_is_centred_not_blown_up() -> None:
    values = np.column_stack([np.full(10, 3.0), np.arange(10.0)])
    sc = StandardScaler.fit(values, slice(None), ("c", "x"))
    assert sc.std[0] == 1.0 and np.all(sc.transform(values)[:, 0] == 0.0)


@pytest.mark.parametrize(
    ("values", "names", "message"),
    [
        (np.ones((1, 2)), ("a", "b"), "at least 2"),
        (np.ones((5, 2)), ("a",), "names"),
        (np.array([[1.0, np.nan], [2.0, 3.0]]), ("a", "b"), "NaN"),
    ],
)
def test_bad_fit_input(values: np.ndarray, names: tuple[str, ...], message: str) -> None:
    with pytest.raises(ModelError, match=message):
        StandardScaler.fit(values, slice(None), names)


def test_malformed_metadata_is_a_model_error() -> None:
    with pytest.raises(ModelError, match="malformed"):
        StandardScaler.from_dict({"names": ["a"], "mean": [0.0]})
    with pytest.raises(ModelError, match="positive std"):
        StandardScaler.from_dict({"names": ["a"], "mean": [0.0], "std": [0.0]})
