"""Walk-forward GM run: no look-ahead (perturbing later prices changes no earlier signal), exact fold re-runs,
training-only scalers, the result tables, stored versions and clear errors."""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from ml.errors import ModelError
from ml.gm import runner as gm_run
from ml.gm.ensemble import load_ensemble
from ml.gm.features import PAST_FEATURES, WARMUP_BARS, FeatureSet, build_features
from ml.gm.predictor import GMPredictor
from ml.gm.runner import audit_last_fold, run_gm_walk_forward, train_fold
from ml.gm.scaling import StandardScaler
from ml.gm.walkforward import make_folds
from ml.store import ModelStore
from tests.ml.gm.test_ensemble import WF, tiny_config
from tests.ml.gm.test_features import price_frame

FRAME = price_frame(360, seed=7)
TEST_START, TEST_END = FRAME.index[270], FRAME.index[335]  # three folds of 20 bars and one of 6
SIGNAL_COLS = ["gm_mu", "gm_prob", "gm_unc", "volatility"]


def _run(frame: pd.DataFrame, **kw: object):  # type: ignore[no-untyped-def]
    args = {"test_start": TEST_START, "test_end": TEST_END, "wf": WF, "ens": tiny_config()}
    return run_gm_walk_forward(frame, **{**args, **kw})  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    store = ModelStore(tmp_path_factory.mktemp("models"))
    calls: list[tuple[int, int, str]] = []
    result = _run(FRAME, store=store, model_name="synthetic", progress=lambda d, n, s: calls.append((d, n, s)))
    return result, store, calls


def test_perturbing_prices_after_t_changes_no_signal_at_or_before_t(full) -> None:  # type: ignore[no-untyped-def]
    result, _, _ = full
    cut = result.schedule[1].test.start + 7 + WARMUP_BARS  # price row of a bar inside the second test window
    t = FRAME.index[cut]
    rng = np.random.default_rng(0)
    shocked = FRAME.copy()
    factor = np.exp(np.cumsum(rng.normal(0.0, 0.05, len(FRAME) - cut - 1)))
    shocked.iloc[cut + 1 :, :4] = shocked.iloc[cut + 1 :, :4].mul(factor, axis=0)
    shocked.iloc[cut + 1 :, 4] *= rng.uniform(0.2, 5.0, len(FRAME) - cut - 1)
    other = _run(shocked)
    before = result.signals.loc[:t, SIGNAL_COLS]
    assert len(before) == 28 and before.equals(other.signals.loc[:t, SIGNAL_COLS])
    after_a, after_b = result.signals.loc[t:, SIGNAL_COLS].iloc[1:], other.signals.loc[t:, SIGNAL_COLS].iloc[1:]
    assert (np.abs(after_a - after_b).to_numpy() > 1e-9).any(axis=1).mean() > 0.9  # the perturbation was seen later


def test_audit_reruns_the_last_fold_without_later_bars_and_finds_identical_signals(full) -> None:  # type: ignore[no-untyped-def]
    result, _, _ = full
    last = result.schedule[-1]
    audit = audit_last_fold(FRAME, result, wf=WF, ens=tiny_config())
    assert audit.cut == FRAME.index[FRAME.index >= last.test_dates[0]][2]  # the middle of the 6-bar last window
    assert len(audit.table) == 3 and audit.passed and audit.max_abs_diff < 1e-6
    assert list(audit.table.columns[:3]) == ["gm_mu_run", "gm_prob_run", "gm_unc_run"]


def test_audit_catches_a_feature_that_looks_ahead(monkeypatch: pytest.MonkeyPatch) -> None:
    def leaky(frame: pd.DataFrame, horizon: int = 5) -> FeatureSet:
        fs = build_features(frame, horizon)
        past = fs.past.copy()
        past[:-1, 1] = fs.past[1:, 0]  # "ret_5" replaced by tomorrow's return: a look-ahead bug
        return dataclasses.replace(fs, past=past)

    monkeypatch.setattr(gm_run, "build_features", leaky)
    cfg = tiny_config(members=("nbeats", "tsmixer"))
    result = _run(FRAME, ens=cfg)
    audit = audit_last_fold(FRAME, result, wf=WF, ens=cfg)
    assert not audit.passed and audit.max_abs_diff > 1e-4


def test_scaler_is_fitted_on_the_training_rows_only(full) -> None:  # type: ignore[no-untyped-def]
    result, _, _ = full
    features = build_features(FRAME, WF.horizon)
    fold = result.schedule[0]
    rows = fold.fit_rows(WF.sequence_length, WF.horizon)
    assert rows.stop - 1 < fold.val.start - WF.embargo
    expected = StandardScaler.fit(features.past, slice(rows.start, rows.stop), PAST_FEATURES)
    assert result.ensembles[0].scaler == expected
    assert expected != StandardScaler.fit(features.past, slice(rows.start, rows.stop + 1), PAST_FEATURES)
    spiked = FRAME.copy()
    spiked.iloc[rows.stop + WARMUP_BARS :, 4] *= 100.0  # wild volume from the first row after the training rows
    spiked_features = build_features(spiked, WF.horizon)
    ens, _ = train_fold(spiked, spiked_features, fold, WF, tiny_config(members=("nbeats",)))
    assert ens.scaler == expected


def test_capped_training_window_trains_on_the_newest_windows_and_fits_the_scaler_on_them() -> None:
    wf = dataclasses.replace(WF, max_train_bars=WF.min_train_bars)
    features = build_features(FRAME, WF.horizon)
    fold = make_folds(features.index, TEST_START, TEST_END, wf)[0]
    assert len(fold.train) == wf.max_train_bars and fold.train.start > WF.sequence_length - 1
    ens, _ = train_fold(FRAME, features, fold, wf, tiny_config(members=("nbeats",)))
    assert ens.info["metrics"]["n_train_windows"] == wf.max_train_bars
    assert ens.info["train_window"][0] == features.index[fold.train.start].isoformat()
    rows = fold.fit_rows(WF.sequence_length, WF.horizon)
    assert rows.start == fold.train.start - WF.sequence_length + 1
    assert ens.scaler == StandardScaler.fit(features.past, slice(rows.start, rows.stop), PAST_FEATURES)


def test_signal_and_fold_tables(full) -> None:  # type: ignore[no-untyped-def]
    result, _, calls = full
    sig = result.signals
    period = FRAME.index[(FRAME.index >= TEST_START) & (FRAME.index <= TEST_END)]
    assert sig.index.equals(period) and sig.index.name == "date"
    assert list(sig.columns) == ["gm_mu", "gm_prob", "gm_unc", "volatility", "fold", "fwd_return"]
    assert list(sig["fold"].unique()) == [0, 1, 2, 3] and sig["fwd_return"].notna().all()
    close = FRAME["close"]
    d = sig.index[5]
    assert sig.loc[d, "fwd_return"] == pytest.approx(np.log(close.iloc[close.index.get_loc(d) + WF.horizon] / close[d]))
    folds = result.folds
    assert len(folds) == 4 and list(folds["n_test"]) == [20, 20, 20, 6]
    for net in ("informer", "tft", "nbeats", "tsmixer"):
        assert folds[f"weight_{net}"].between(0, 1).all() and (folds[f"val_mse_{net}"] > 0).all()
    assert np.allclose(folds[[c for c in folds if c.startswith("weight_")]].sum(axis=1), 1.0)
    first = sig[sig["fold"] == 0]
    assert folds.loc[0, "test_dir_acc"] == pytest.approx(np.mean((first["gm_mu"] > 0) == (first["fwd_return"] > 0)))
    assert (folds["train_end"] < folds["val_start"]).all() and (folds["val_end"] < folds["test_start"]).all()
    assert [c[:2] for c in calls] == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert [e.info["metrics"]["calibration_bars"] for e in result.ensembles] == [30, 60, 90, 120]  # pooled
    cal = result.calibration
    assert cal["reliability_test"]["count"].sum() == len(sig)
    assert cal["reliability_validation"]["count"].sum() == 4 * WF.val_bars
    assert cal["hit_rate_test"]["count"].sum() == len(sig) and set(cal["summary"].index) == {"validation", "test"}


def test_every_fold_is_a_stored_version_that_reproduces_its_signals(full) -> None:  # type: ignore[no-untyped-def]
    result, store, _ = full
    assert len(set(result.versions)) == 4 and all(v.startswith("GM/synthetic/") for v in result.versions)
    assert list(result.folds["version"]) == result.versions
    fold = result.schedule[2]
    loaded = load_ensemble(store, "synthetic", result.versions[2].rsplit("/", 1)[1])
    assert loaded.info["valid_from"] == fold.test_dates[0].isoformat()
    again = GMPredictor(loaded).predict_batch(build_features(FRAME, WF.horizon), fold.test)
    stored = result.signals[result.signals["fold"] == 2][["gm_mu", "gm_prob", "gm_unc"]]
    assert np.array_equal(again.to_numpy(), stored.to_numpy())


def test_too_little_history_is_a_clear_error() -> None:
    with pytest.raises(ModelError, match=r"too little history.*bars exist, the walk-forward schedule needs"):
        _run(FRAME, test_start=FRAME.index[100], test_end=FRAME.index[120])


def test_schedule_matches_make_folds(full) -> None:  # type: ignore[no-untyped-def]
    result, _, _ = full
    features = build_features(FRAME, WF.horizon)
    assert result.schedule == make_folds(features.index, TEST_START, TEST_END, WF)


def test_a_fold_without_validation_skill_has_no_opinion_and_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    from ml.gm import ensemble as ens_mod
    from ml.gm.calibration import DirectionCalibrator

    real_fit = DirectionCalibrator.fit

    def inverted(score, up, method="platt"):  # type: ignore[no-untyped-def]
        # validation outcomes "up" exactly when the score is low: anti-skill on every fold
        return real_fit(score, (score < np.median(score)).astype(float), method)

    monkeypatch.setattr(ens_mod.DirectionCalibrator, "fit", staticmethod(inverted))
    result = _run(FRAME, ens=tiny_config(members=("nbeats",)))
    assert not result.folds["gm_opinion"].any()
    assert result.folds["no_opinion_reason"].str.contains("<= 0|slope held at 0").all()
    assert (result.signals["gm_prob"] == 0.5).all()  # no vote on any test bar, never an inverted one
