"""Skill statistics against hand-computed values, and intervals that widen for overlapping labels."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import rankdata

from backtests.report.skill import _ranks, block_indices, forecast_skill, skill_by, skill_table, verdict


def test_statistics_match_hand_computed_values() -> None:
    f = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    r = np.array([0.1, -0.2, 0.3, 0.4, 0.5])
    p = np.full(5, 0.6)
    s = forecast_skill(f, p, r, horizon=1, n_boot=50).estimates
    assert s["rank_ic"].value == pytest.approx(0.9)  # ranks of r: 2 1 3 4 5, 1 - 6 * 2 / 120
    assert s["dir_acc"].value == pytest.approx(0.8) and s["majority"].value == pytest.approx(0.8)
    assert s["dir_edge"].value == pytest.approx(0.0)
    # Brier 0.2 (four 0.4^2, one 0.6^2, over 5); climatology 0.8: four 0.2^2 and one 0.8^2 -> 0.16
    assert s["bss"].value == pytest.approx(1 - 0.2 / 0.16)
    assert s["ece"].value == pytest.approx(0.2)  # one bin: |0.6 - 0.8|
    assert math.isnan(s["cal_slope"].value)  # a constant probability carries no information


def test_zero_forecasts_are_not_calls_and_majority_can_be_down() -> None:
    f = np.array([-1.0, 0.0, -2.0, 1.0])
    r = np.array([-0.1, 0.5, -0.3, -0.2])
    s = forecast_skill(f, np.full(4, 0.5), r, horizon=1, n_boot=20).estimates
    # called bars: 0, 2, 3; hits on 0 and 2; all three realised down -> majority 1.0
    assert s["dir_acc"].value == pytest.approx(2 / 3) and s["majority"].value == pytest.approx(1.0)


def test_ranks_match_scipy_with_ties() -> None:
    x = np.array([[3.0, 1.0, 3.0, 2.0, 1.0], [5.0, 4.0, 4.0, 4.0, 0.0]])
    assert np.allclose(_ranks(x), np.vstack([rankdata(row) for row in x]))


def test_calibration_slope_recovers_a_calibrated_probability() -> None:
    rng = np.random.default_rng(1)
    z = rng.normal(size=10000)
    p = 1 / (1 + np.exp(-z))
    r = np.where(rng.uniform(size=10000) < p, 1.0, -1.0)
    s = forecast_skill(z, p, r, horizon=1, n_boot=40).estimates
    assert s["cal_slope"].value == pytest.approx(1.0, abs=0.08)
    assert s["cal_slope"].low < s["cal_slope"].value < s["cal_slope"].high
    assert s["bss"].low > 0 and s["rank_ic"].low > 0


def test_block_bootstrap_interval_is_wider_for_overlapping_labels() -> None:
    rng = np.random.default_rng(2)
    daily = rng.normal(size=1520)
    label = np.convolve(daily, np.ones(20), "valid")[:1500]  # overlapping 20-bar sums
    f = np.convolve(rng.normal(size=1520), np.ones(20), "valid")[:1500] + 0.2 * label  # overlapping too
    iid = forecast_skill(f, np.full(1500, 0.5), label, horizon=1, n_boot=400).estimates["rank_ic"]
    blk = forecast_skill(f, np.full(1500, 0.5), label, horizon=20, n_boot=400).estimates["rank_ic"]
    assert blk.high - blk.low > iid.high - iid.low


def test_block_indices_are_runs_of_neighbours() -> None:
    idx = block_indices(10, 4, 3, np.random.default_rng(0))
    assert idx.shape == (3, 10) and idx.max() < 10
    assert np.all(np.diff(idx[:, :4], axis=1) == 1)


def test_verdict_and_tables() -> None:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"mu": rng.normal(size=300), "p": np.full(300, 0.5), "r": rng.normal(size=300),
                          "fold": np.repeat([0, 1, 2], 100)})
    skills = skill_by(frame, "mu", "p", "r", horizon=5, by="fold")
    assert list(skills) == ["0", "1", "2", "all"] and skills["all"].n == 300
    line = verdict("GM", skills["all"])
    assert line.startswith("GM: no detectable skill (IC ") and "95% CI" in line
    strong = forecast_skill(frame["r"] + 0.1 * rng.normal(size=300), frame["p"], frame["r"], 5)
    assert verdict("GM", strong).startswith("GM: skill detected")
    assert "not measurable" in verdict("GM", forecast_skill([1.0], [0.5], [0.1], 5))
    table = skill_table(skills)
    assert list(table.index) == ["0", "1", "2", "all"] and "rank_ic" in table.columns
