"""GM ensemble: training, weights, uncertainty, calibration, warm start, determinism, store round trip."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from ground.config import from_mapping
from ground.errors import ConfigError, InvalidValue
from ml.device import torch_threads
from ml.errors import IntegrityError
from ml.gm.calibration import DirectionCalibrator
from ml.gm.config import GMEnsembleConfig
from ml.gm.ensemble import GMEnsemble, load_ensemble, save_ensemble
from ml.gm.features import FUTURE_FEATURES, PAST_FEATURES, build_features
from ml.gm.predictor import GMPredictor
from ml.gm.runner import train_fold
from ml.gm.walkforward import WalkForwardConfig, make_folds
from ml.store import ModelStore, save_network
from ml.train_config import TrainConfig
from tests.ml.gm.test_features import price_frame

WF = WalkForwardConfig(retrain_every=20, embargo=3, val_bars=30, min_train_bars=120, sequence_length=16, horizon=3)
FAST = TrainConfig(max_epochs=2, batch_size=32, learning_rate=1e-3, patience=2, seed=0, device="cpu")


def tiny_config(**kw: object) -> GMEnsembleConfig:
    base = {"size": "tiny", "train": FAST, "warm_train": FAST}
    return GMEnsembleConfig(**{**base, **kw})  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def setup():  # type: ignore[no-untyped-def]
    frame = price_frame(330, seed=5)
    features = build_features(frame, WF.horizon)
    folds = make_folds(features.index, features.index[250], None, WF)
    ens, reports = train_fold(frame, features, folds[0], WF, tiny_config())
    return frame, features, folds, ens, reports


def test_members_weights_and_forecast_shapes(setup) -> None:  # type: ignore[no-untyped-def]
    _, features, folds, ens, reports = setup
    assert list(ens.members) == ["informer", "tft", "nbeats", "tsmixer"]
    assert sum(ens.weights.values()) == pytest.approx(1.0)
    mse = {r.name: r.val_mse for r in reports}
    order_by_mse = sorted(mse, key=mse.get)
    order_by_weight = sorted(ens.weights, key=ens.weights.get, reverse=True)
    assert order_by_mse == order_by_weight  # inverse-MSE weighting
    best, worst = order_by_mse[0], order_by_mse[-1]
    assert ens.weights[best] / ens.weights[worst] == pytest.approx(mse[worst] / mse[best])
    sig = GMPredictor(ens).predict_batch(features, folds[0].test)
    assert len(sig) == len(folds[0].test) and np.isfinite(sig.to_numpy()).all()
    assert ((sig["gm_prob"] > 0) & (sig["gm_prob"] < 1)).all() and (sig["gm_unc"] > 0).all()
    metrics = ens.info["metrics"]
    assert set(metrics["member_val_mse"]) == set(ens.members) and metrics["n_val_windows"] == WF.val_bars


def test_mean_is_the_weighted_member_mean_and_uncertainty_includes_spread(setup) -> None:  # type: ignore[no-untyped-def]
    _, features, folds, ens, _ = setup
    pred = GMPredictor(ens)
    x_past, x_future = pred._inputs(features, np.asarray(folds[0].test))
    with torch_threads(1):
        fc = ens.forecast(x_past, x_future)
    stack = np.stack([fc.member_mu[n] for n in ens.members])
    w = np.array([ens.weights[n] for n in ens.members])
    assert np.allclose(fc.mu, w @ stack)
    spread = np.sqrt(w @ (stack - fc.mu) ** 2)
    assert np.all(fc.unc >= spread - 1e-12)
    # Without the quantile member the noise term is the validation RMSE, a constant.
    no_tft = GMEnsemble(**{**ens.__dict__, "members": {n: m for n, m in ens.members.items() if n != "tft"},
                           "weights": {n: 1 / 3 for n in ens.members if n != "tft"}})
    with torch_threads(1):
        fc2 = no_tft.forecast(x_past, x_future)
    s2 = np.stack([fc2.member_mu[n] for n in no_tft.members])
    assert np.allclose(fc2.unc, np.sqrt(ens.noise**2 + np.var(s2, axis=0)))


def test_training_is_deterministic(setup) -> None:  # type: ignore[no-untyped-def]
    frame, features, folds, ens, _ = setup
    again, _ = train_fold(frame, features, folds[0], WF, tiny_config())
    for name in ens.members:
        for key, value in ens.members[name].state_dict().items():
            assert torch.equal(value, again.members[name].state_dict()[key]), (name, key)
    assert dict(again.weights) == dict(ens.weights) and again.calibrator == ens.calibrator


def test_warm_start_begins_from_the_previous_weights(setup) -> None:  # type: ignore[no-untyped-def]
    frame, features, folds, ens, _ = setup
    # A negligible learning rate leaves warm-started members where they started: at the previous fold's weights.
    frozen = TrainConfig(max_epochs=1, batch_size=32, learning_rate=1e-12, seed=0, device="cpu")
    warm, reports = train_fold(frame, features, folds[1], WF, tiny_config(warm_train=frozen), previous=ens)
    _, cold_reports = train_fold(frame, features, folds[1], WF, tiny_config(warm_train=frozen))
    assert all(r.warm for r in reports) and not any(r.warm for r in cold_reports)
    for name in ens.members:
        prev, new = ens.members[name].state_dict(), warm.members[name].state_dict()
        float_keys = [k for k in prev if prev[k].is_floating_point() and "running" not in k]
        assert all(torch.allclose(prev[k], new[k], atol=1e-6) for k in float_keys), name


def test_calibration_pool_extends_the_previous_folds_validation_pairs(setup) -> None:  # type: ignore[no-untyped-def]
    frame, features, folds, ens, _ = setup
    assert len(ens.calibration_pool[0]) == WF.val_bars and ens.info["metrics"]["calibration_bars"] == WF.val_bars
    cfg = tiny_config(members=("nbeats", "tsmixer"))
    pooled, _ = train_fold(frame, features, folds[1], WF, cfg, previous=ens)
    score, up = pooled.calibration_pool
    assert len(score) == 2 * WF.val_bars
    assert np.array_equal(score[: WF.val_bars], ens.calibration_pool[0])
    assert np.array_equal(up[: WF.val_bars], ens.calibration_pool[1])
    assert pooled.calibrator == DirectionCalibrator.fit(score, up, "platt")
    val_fwd = features.fwd_return[folds[1].val.start : folds[1].val.stop]
    assert np.array_equal(up[WF.val_bars :], (val_fwd > 0).astype(float))
    per_fold = tiny_config(members=("nbeats", "tsmixer"), calibration_pool="fold")
    alone, _ = train_fold(frame, features, folds[1], WF, per_fold, previous=ens)
    assert np.array_equal(alone.calibration_pool[0], score[WF.val_bars :])


def test_store_round_trip_rebuilds_the_same_forecasts(setup, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, features, folds, ens, _ = setup
    store = ModelStore(tmp_path)
    version = save_ensemble(ens, store, "nvda-gm")
    tensors, meta = store.load("GM", "nvda-gm", version.version)
    assert {k.split(".")[1] for k in tensors} == set(ens.members) and all(k.startswith("member.") for k in tensors)
    assert meta["members"]["tft"]["class"] == "tft"
    assert meta["members"]["tft"]["hparams"]["input_size"] == WF.sequence_length
    assert meta["past_features"] == list(PAST_FEATURES) and meta["future_features"] == list(FUTURE_FEATURES)
    assert meta["train_window"][0].startswith(str(folds[0].train_dates[0].date())) and meta["data_fingerprint"]
    assert meta["scaler"] == ens.scaler.to_dict()
    assert meta["calibration_pool"]["score"] == ens.calibration_pool[0].tolist()
    assert meta["calibration"] == json.loads(json.dumps(ens.calibrator.to_dict()))
    loaded = load_ensemble(store, "nvda-gm", version.version)
    a = GMPredictor(ens).predict_batch(features, folds[0].test)
    b = GMPredictor(loaded).predict_batch(features, folds[0].test)
    assert np.array_equal(a.to_numpy(), b.to_numpy())
    assert save_ensemble(loaded, store, "nvda-gm").version == version.version  # same content, same id


def test_loading_something_else_fails_clearly(setup, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, _, _, ens, _ = setup
    store = ModelStore(tmp_path)
    save_network(store, "GM", "single", ens.members["nbeats"], {})
    with pytest.raises(IntegrityError):
        load_ensemble(store, "single")
    v = save_ensemble(ens, store, "ens")
    meta_path = v.path / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta["past_features"] = ["ret_1", "rsi"]
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(IntegrityError):  # edited metadata no longer matches its content-derived id
        load_ensemble(store, "ens")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"members": ("informer", "tfx")}, "did you mean 'tft'"),
        ({"members": ("tft", "tft")}, "duplicate"),
        ({"members": ()}, "at least one"),
        ({"size": "huge"}, "model size"),
        ({"weighting": "inverse-mse"}, "did you mean 'inverse_mse'"),
        ({"calibration": "isotonik"}, "did you mean 'isotonic'"),
        ({"calibration_pool": "expandng"}, "did you mean 'expanding'"),
        ({"hparams": {"nbeat": {"layer_width": 8}}}, "not an ensemble member"),
        ({"cpu_threads": 0}, "cpu_threads"),
    ],
)
def test_config_validation(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidValue, match=message):
        GMEnsembleConfig(**kwargs)  # type: ignore[arg-type]


def test_from_mapping_overrides_defaults_key_by_key_and_rejects_unknown_keys() -> None:
    cfg = from_mapping(GMEnsembleConfig, {"members": ["tft", "nbeats"], "train": {"max_epochs": 50}}, "test.toml")
    default = GMEnsembleConfig()
    assert cfg.members == ("tft", "nbeats") and cfg.train.max_epochs == 50
    assert cfg.train.batch_size == default.train.batch_size and cfg.warm_train == default.warm_train
    with pytest.raises(ConfigError, match="did you mean 'weighting'"):
        from_mapping(GMEnsembleConfig, {"weighing": "equal"}, "test.toml")
    with pytest.raises(ConfigError, match="unknown config key 'warm_train.max_epoch'"):
        from_mapping(GMEnsembleConfig, {"warm_train": {"max_epoch": 3}}, "test.toml")


def test_member_hparams_merge_size_preset_and_overrides() -> None:
    cfg = GMEnsembleConfig(size="tiny", hparams={"tft": {"hidden_size": 12, "input_size": 999}})
    hp = cfg.member_hparams("tft")
    assert hp["hidden_size"] == 12 and "input_size" not in hp  # data sizes always come from the windows
    assert cfg.to_dict()["hparams"] == {"tft": {"hidden_size": 12, "input_size": 999}}
    json.dumps(cfg.to_dict())
