"""Direction calibration: Platt and isotonic fits, JSON round trips, reliability and hit-rate tables."""
from __future__ import annotations

import json

import numpy as np
import pytest

from ml.errors import ModelError
from ml.gm.calibration import (
    DirectionCalibrator,
    calibration_summary,
    hit_rate_by_confidence,
    pool_adjacent_violators,
    reliability_table,
)


def _logistic_data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    score = rng.normal(0.0, 1.0, n)
    p = 1.0 / (1.0 + np.exp(-(2.0 * score - 0.5)))
    return score, (rng.uniform(size=n) < p).astype(np.float64)


def test_platt_recovers_a_known_logistic_model() -> None:
    score, up = _logistic_data(20000, 0)
    cal = DirectionCalibrator.fit(score, up, "platt")
    assert cal.a == pytest.approx(2.0, abs=0.1) and cal.b == pytest.approx(-0.5, abs=0.07)
    assert cal.n_fit == 20000


@pytest.mark.parametrize("method", ["platt", "isotonic"])
def test_calibrated_probabilities_are_calibrated_out_of_sample(method: str) -> None:
    score, up = _logistic_data(4000, 1)
    cal = DirectionCalibrator.fit(score, up, method)
    test_score, test_up = _logistic_data(4000, 2)
    prob = cal.predict(test_score)
    assert calibration_summary(prob, test_up)["ece"] < 0.04
    assert np.all(np.diff(cal.predict(np.linspace(-3, 3, 50))) >= 0)  # monotone in the score
    assert np.all((prob > 0) & (prob < 1))


@pytest.mark.parametrize("method", ["platt", "isotonic"])
def test_json_round_trip_reproduces_predictions(method: str) -> None:
    score, up = _logistic_data(300, 3)
    cal = DirectionCalibrator.fit(score, up, method)
    again = DirectionCalibrator.from_dict(json.loads(json.dumps(cal.to_dict())))
    grid = np.linspace(-4, 4, 33)
    assert again == cal and np.array_equal(again.predict(grid), cal.predict(grid))


def test_pool_adjacent_violators_matches_a_hand_computed_fit() -> None:
    vals, wts, starts = pool_adjacent_violators(np.array([1.0, 3.0, 2.0, 4.0, 0.0]), np.ones(5))
    # [1, 3, 2, 4, 0] -> 3,2 pool to 2.5; then 4,0 pool to 2, which violates 2.5 -> pool [3,2,4,0] to 2.25
    assert np.allclose(vals, [1.0, 2.25]) and np.allclose(wts, [1.0, 4.0]) and list(starts) == [0, 1]


def test_isotonic_is_a_step_function_through_block_frequencies() -> None:
    score = np.array([-2.0, -1.0, 0.0, 1.0, 2.0, 3.0])
    up = np.array([0.0, 1.0, 0.0, 1.0, 1.0, 1.0])
    cal = DirectionCalibrator.fit(score, up, "isotonic")
    assert cal.predict(np.array([-5.0]))[0] == pytest.approx(0.01)  # clipped away from certainty
    assert cal.predict(np.array([-0.5]))[0] == pytest.approx(0.5)  # the pooled block {-1, 0}
    assert cal.predict(np.array([10.0]))[0] == pytest.approx(0.99)


def test_one_sided_outcomes_do_not_give_certainty_and_nan_pairs_are_dropped() -> None:
    score = np.array([0.1, 0.5, -0.2, 1.0, np.nan])
    up = np.array([1.0, 1.0, 1.0, 1.0, 0.0])
    cal = DirectionCalibrator.fit(score, up, "platt")
    assert cal.n_fit == 4 and np.all(cal.predict(score[:4]) < 0.9)


def test_bad_method_and_too_little_data() -> None:
    with pytest.raises(ModelError, match="did you mean 'platt'"):
        DirectionCalibrator.fit(np.arange(5.0), np.ones(5), "plat")
    with pytest.raises(ModelError, match="at least 2"):
        DirectionCalibrator.fit(np.array([1.0, np.nan]), np.array([1.0, 0.0]))


def test_reliability_table_counts_and_means() -> None:
    prob = np.array([0.05, 0.15, 0.12, 0.95, 1.0, np.nan])
    up = np.array([0.0, 1.0, 0.0, 1.0, 1.0, 1.0])
    table = reliability_table(prob, up, n_bins=10)
    assert len(table) == 10 and table["count"].sum() == 5
    assert table.loc[1, "count"] == 2 and table.loc[1, "predicted_mean"] == pytest.approx(0.135)
    assert table.loc[1, "observed_freq"] == pytest.approx(0.5)
    assert table.loc[9, "count"] == 2 and table.loc[9, "observed_freq"] == 1.0  # p = 1.0 lands in the last bin
    assert table.loc[5, "count"] == 0 and np.isnan(table.loc[5, "observed_freq"])


def test_hit_rate_by_confidence_bucket() -> None:
    prob = np.array([0.52, 0.48, 0.7, 0.3, 0.9, 0.95])
    up = np.array([1.0, 1.0, 1.0, 0.0, 0.0, 1.0])
    table = hit_rate_by_confidence(prob, up, edges=(0.0, 0.1, 0.5, 1.0))
    assert list(table["count"]) == [2, 2, 2]
    assert list(table["hit_rate"]) == [0.5, 1.0, 0.5]
    assert table.loc[0, "bucket"] == "0.00-0.10"


def test_summary_brier_and_ece() -> None:
    prob, up = np.array([0.8, 0.8, 0.8, 0.8, 0.8]), np.array([1.0, 1.0, 1.0, 1.0, 0.0])
    s = calibration_summary(prob, up)
    assert s["ece"] == pytest.approx(0.0) and s["brier"] == pytest.approx((4 * 0.04 + 0.64) / 5) and s["n"] == 5


@pytest.mark.parametrize("method", ["platt", "isotonic"])
def test_an_inverted_relation_gives_no_opinion_never_an_inverted_bet(method: str) -> None:
    score, up = _logistic_data(2000, 4)
    cal = DirectionCalibrator.fit(-score, up, method)  # higher score, fewer ups: anti-skill on validation
    assert not cal.has_opinion and "<= 0" in cal.reason
    grid = np.linspace(-3, 3, 25)
    assert np.array_equal(cal.predict(grid), np.full(25, 0.5))  # no vote, not a bet on the other side
    assert np.isnan(cal.predict(np.array([np.nan])))[0]


def test_platt_slope_is_never_negative() -> None:
    # Rank correlation slightly positive while the least-squares-like logistic slope is pulled negative by one
    # extreme point: the constrained fit holds the slope at 0 and the calibrator has no opinion.
    score = np.array([-1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0, 40.0])
    up = np.array([0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 1.0, 0.0])
    cal = DirectionCalibrator.fit(score, up, "platt")
    assert cal.a == 0.0  # unconstrained, the fit gives about -0.04
    assert not cal.has_opinion and "slope held at 0" in cal.reason
    assert np.all(np.diff(cal.predict(np.linspace(-5, 50, 100))) >= 0)


def test_skilled_validation_keeps_its_opinion_and_the_reason_round_trips() -> None:
    score, up = _logistic_data(500, 5)
    cal = DirectionCalibrator.fit(score, up, "platt")
    assert cal.has_opinion and cal.a > 0
    flat = DirectionCalibrator.fit(-score, up, "platt")
    again = DirectionCalibrator.from_dict(json.loads(json.dumps(flat.to_dict())))
    assert again == flat and not again.has_opinion
