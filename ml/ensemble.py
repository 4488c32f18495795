"""The GM ensemble of one walk-forward fold: train the member networks, weight them, calibrate, forecast, store.

Each member forecasts the next ``H`` daily log returns (scaled); the member's forecast of the ``H``-bar log return
is the sum of the unscaled path (see ``ml.features``). Members are weighted by inverse validation MSE of that sum
(or equally). The uncertainty of the ensemble forecast combines two parts in quadrature:

- the noise around a forecast: from the quantile members (TFT), the 10%-90% width of each step turned into a
  normal standard deviation and summed over the ``H`` steps as independent daily returns; without a quantile
  member, the ensemble's validation RMSE;
- the members' disagreement: the weighted standard deviation of their forecasts.

The direction probability is ``calibrator(mu / unc)``, fitted on validation windows, which the weights never trained
on: this fold's, plus (``calibration_pool = "expanding"``, the default) those of every earlier fold of the run, each
scored by its own fold's model. Half a year of validation bars is too few for a calibration that holds out of sample
(its base rate alone swings from 0.35 to 0.7 on NVDA); on the 21 NVDA folds 2020-2025 pooling cut the test
expected calibration error from 0.093 to 0.046 and the Brier score from 0.255 to 0.245. Every pooled bar precedes
the fold's test window by at least the embargo. Everything is stored as one model-store version (safetensors +
JSON) and rebuilt by the registry.
"""
from __future__ import annotations

import dataclasses
import difflib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from statistics import NormalDist
from types import MappingProxyType
from typing import Any

import numpy as np
import torch

from ml.calibration import METHODS as CALIBRATION_METHODS
from ml.calibration import DirectionCalibrator
from ml.device import torch_threads
from ml.errors import IntegrityError, ModelError
from ml.features import FUTURE_FEATURES, PAST_FEATURES
from ml.networks.base import ForecastNetwork
from ml.scaling import StandardScaler
from ml.store import ModelStore, ModelVersion, load_networks, save_networks
from ml.trainer import FitResult, TrainConfig, fit, predict
from ml.windows import WindowSet

log = logging.getLogger(__name__)

DEFAULT_MEMBERS = ("informer", "tft", "nbeats", "tsmixer")
SIZES = ("tiny", "small", "base")
WEIGHTINGS = ("inverse_mse", "equal")
CALIBRATION_POOLS = ("expanding", "fold")
MODEL_TYPE = "gm_ensemble"
_DATA_KEYS = ("input_size", "horizon", "n_features", "n_targets", "n_future")  # set from the data, not the config


def _choice(value: str, choices: tuple[str, ...], what: str) -> None:
    if value not in choices:
        close = difflib.get_close_matches(str(value), choices, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"choose one of {', '.join(choices)}"
        raise ModelError(f"unknown {what} '{value}'", where="gm config", fix=hint)


def _registry() -> Any:
    from ml.networks import registry  # imports every network: loaded on first use only

    return registry


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
    train: TrainConfig = field(default_factory=lambda: _default_train())
    warm_train: TrainConfig = field(default_factory=lambda: _default_warm_train())
    weighting: str = "inverse_mse"
    calibration: str = "platt"
    calibration_pool: str = "expanding"
    cpu_threads: int | None = 1

    def __post_init__(self) -> None:
        members = tuple(self.members)
        if not members:
            raise ModelError("the GM ensemble needs at least one member", where="gm config")
        known = tuple(_registry().NETWORKS)
        for name in members:
            _choice(name, known, "network")
        if len(set(members)) != len(members):
            raise ModelError(f"duplicate ensemble members in {list(members)}", where="gm config")
        _choice(self.size, SIZES, "model size")
        _choice(self.weighting, WEIGHTINGS, "ensemble weighting")
        _choice(self.calibration, CALIBRATION_METHODS, "calibration method")
        _choice(self.calibration_pool, CALIBRATION_POOLS, "calibration pool")
        for name in self.hparams:
            if name not in members:
                close = difflib.get_close_matches(name, members, n=1)
                raise ModelError(
                    f"hparams given for '{name}', which is not an ensemble member",
                    where="gm config",
                    fix=f"did you mean '{close[0]}'?" if close else f"members are {', '.join(members)}",
                )
        threads = self.cpu_threads
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
            raise ModelError(f"cpu_threads must be None or an integer >= 1, got {threads!r}", where="gm config")
        object.__setattr__(self, "members", members)
        frozen = {k: MappingProxyType(dict(v)) for k, v in self.hparams.items()}
        object.__setattr__(self, "hparams", MappingProxyType(frozen))

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> GMEnsembleConfig:
        """Build from a config table. ``train``/``warm_train`` tables override this class's defaults key by key;
        an unknown key fails with the closest names."""
        names = [f.name for f in dataclasses.fields(cls)]
        for key in values:
            if key not in names:
                close = difflib.get_close_matches(key, names, n=3)
                hint = f"did you mean {', '.join(close)}?" if close else f"valid: {', '.join(names)}"
                raise ModelError(f"unknown gm option '{key}'", where="gm config", fix=hint)
        kwargs = dict(values)
        for key in ("train", "warm_train"):
            if key in kwargs:
                base = dataclasses.asdict(_default_train() if key == "train" else _default_warm_train())
                kwargs[key] = TrainConfig.from_mapping({**base, **dict(kwargs[key])})
        if "members" in kwargs:
            kwargs["members"] = tuple(kwargs["members"])
        return cls(**kwargs)

    def member_hparams(self, name: str) -> dict[str, Any]:
        """The size preset merged with this member's overrides (without the data-derived sizes)."""
        merged = {**_registry().default_hparams(name, self.size), **dict(self.hparams.get(name, {}))}
        return {k: v for k, v in merged.items() if k not in _DATA_KEYS}

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


@dataclass(frozen=True)
class EnsembleForecast:
    """Per-window forecasts in log-return units: ensemble ``mu``, ``unc``, ``prob`` and each member's ``mu``."""

    mu: np.ndarray
    unc: np.ndarray
    prob: np.ndarray
    member_mu: Mapping[str, np.ndarray]


@dataclass(frozen=True)
class MemberReport:
    """How one member's training went (seconds are informational and never stored in the model's meta)."""

    name: str
    val_mse: float
    weight: float
    warm: bool
    best_epoch: int
    epochs_run: int
    stop_reason: str
    seconds: float


def _unknown_labels(x_past: torch.Tensor, horizon: int) -> torch.Tensor:
    """NaN targets ``[N, H, 1]``: forecasting windows have no labels yet."""
    return torch.full((x_past.shape[0], horizon, 1), float("nan"))


def _quantile_sigma(pred: torch.Tensor, quantiles: tuple[float, ...], std0: float) -> np.ndarray:
    """Std of the ``H``-step sum from per-step quantiles ``[N, H, 1, Q]``: widest pair as a normal interval."""
    lo, hi = int(np.argmin(quantiles)), int(np.argmax(quantiles))
    nd = NormalDist()
    span = nd.inv_cdf(quantiles[hi]) - nd.inv_cdf(quantiles[lo])
    width = (pred[..., 0, hi] - pred[..., 0, lo]).double().clamp(min=0.0).numpy() * std0  # [N, H] log-return units
    step_sigma = width / span
    return np.sqrt((step_sigma**2).sum(axis=1))  # independent daily returns: variances add


def _member_forecasts(
    members: Mapping[str, ForecastNetwork],
    scaler: StandardScaler,
    x_past: torch.Tensor,
    x_future: torch.Tensor | None,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Each member's ``H``-bar log-return forecast ``[N]``, and the quantile members' noise std ``[N]``."""
    y = _unknown_labels(x_past, next(iter(members.values())).horizon)
    member_mu: dict[str, np.ndarray] = {}
    sigma: dict[str, np.ndarray] = {}
    for name, net in members.items():
        ws = WindowSet(x_past=x_past, x_future=x_future if net.FUTURE_EXOG else None, y=y, t_index=np.arange(len(y)))
        pred = predict(net, ws)  # [N, H, 1, Q], scaled units
        point = net.point(pred)[..., 0].double().numpy()  # [N, H, 1, Q] -> [N, H]
        member_mu[name] = scaler.inverse_column(point, 0).sum(axis=1)  # [N, H] -> [N]
        if net.QUANTILES:
            sigma[name] = _quantile_sigma(pred, net.quantiles, scaler.std[0])
    return member_mu, sigma


def _combine(
    member_mu: Mapping[str, np.ndarray], sigma: Mapping[str, np.ndarray], weights: Mapping[str, float], noise: float
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted mean forecast and its uncertainty: quantile noise (or ``noise``) and spread in quadrature."""
    w = np.array([weights[n] for n in member_mu])
    stack = np.stack(list(member_mu.values()))  # [M, N]
    mu = w @ stack
    spread2 = w @ (stack - mu) ** 2
    if sigma:
        sw = np.array([weights[n] for n in sigma])
        sw = sw / sw.sum() if sw.sum() > 0 else np.full(len(sw), 1.0 / len(sw))
        base = sw @ np.stack(list(sigma.values()))  # [Mq] @ [Mq, N] -> [N]
    else:
        base = np.full_like(mu, noise)
    return mu, np.sqrt(base**2 + spread2)


def _score(mu: np.ndarray, unc: np.ndarray) -> np.ndarray:
    """The calibrator's input: forecast over uncertainty (a z-score)."""
    return mu / np.maximum(unc, 1e-12)


@dataclass(frozen=True)
class GMEnsemble:
    """A fold's trained ensemble: members (in order), weights, scaler, calibration and its training record.

    ``calibration_pool`` holds the (score, outcome) validation pairs the calibrator was fitted on, so the next
    fold can extend them and a re-run of the next fold from this version reproduces its calibration.
    """

    members: Mapping[str, ForecastNetwork]
    weights: Mapping[str, float]
    scaler: StandardScaler
    calibrator: DirectionCalibrator
    calibration_pool: tuple[np.ndarray, np.ndarray]
    noise: float
    sequence_length: int
    horizon: int
    info: Mapping[str, Any]

    def forecast(self, x_past: torch.Tensor, x_future: torch.Tensor | None) -> EnsembleForecast:
        """Forecasts for scaled inputs ``[N, L, F]`` and calendar inputs ``[N, H, K]``."""
        member_mu, sigma = _member_forecasts(self.members, self.scaler, x_past, x_future)
        mu, unc = _combine(member_mu, sigma, self.weights, self.noise)
        prob = self.calibrator.predict(_score(mu, unc))
        return EnsembleForecast(mu=mu, unc=unc, prob=prob, member_mu=MappingProxyType(member_mu))


def _seeded_build(name: str, hparams: dict[str, Any], seed: int) -> ForecastNetwork:
    """Build with a fixed initialisation, leaving the caller's RNG state untouched."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return _registry().build_network(name, **hparams)


def _member_windows(ws: WindowSet, net_cls: type[ForecastNetwork]) -> WindowSet:
    return ws if net_cls.FUTURE_EXOG else WindowSet(x_past=ws.x_past, x_future=None, y=ws.y, t_index=ws.t_index)


def train_ensemble(
    train_ws: WindowSet,
    val_ws: WindowSet,
    scaler: StandardScaler,
    cfg: GMEnsembleConfig,
    *,
    previous: GMEnsemble | None = None,
    warm_start: bool = True,
    info: Mapping[str, Any] | None = None,
) -> tuple[GMEnsemble, list[MemberReport]]:
    """Train every member on ``train_ws`` with early stopping on ``val_ws``; weight and calibrate on validation.

    Windows carry scaled inputs and the scaled ``ret_1`` path as ``y``; ``x_future`` holds the calendar inputs.
    Member ``i`` is initialised and trained with seed ``train.seed + i`` (independent of the fold, so re-running
    one fold reproduces it). ``previous`` is the previous fold's ensemble: with ``warm_start``, members of
    identical shape start from its weights; with the expanding calibration pool, its pool is extended.
    """
    with torch_threads(cfg.cpu_threads):
        return _train_ensemble(train_ws, val_ws, scaler, cfg, previous if warm_start else None, previous, info)


def _train_ensemble(
    train_ws: WindowSet,
    val_ws: WindowSet,
    scaler: StandardScaler,
    cfg: GMEnsembleConfig,
    warm_from: GMEnsemble | None,
    previous: GMEnsemble | None,
    info: Mapping[str, Any] | None,
) -> tuple[GMEnsemble, list[MemberReport]]:
    registry = _registry()
    data_sizes = {
        "input_size": train_ws.input_size,
        "horizon": train_ws.horizon,
        "n_features": train_ws.n_features,
        "n_targets": train_ws.n_targets,
    }
    val_fwd = scaler.inverse_column(val_ws.y[..., 0].double().numpy(), 0).sum(axis=1)  # [N, H] -> [N]
    members: dict[str, ForecastNetwork] = {}
    fits: dict[str, tuple[bool, FitResult]] = {}
    for i, name in enumerate(cfg.members):
        net_cls = registry.NETWORKS[name]
        n_future = train_ws.n_future if net_cls.FUTURE_EXOG else 0
        hparams = {**cfg.member_hparams(name), **data_sizes, "n_future": n_future}
        tcfg = cfg.train
        net = _seeded_build(name, hparams, tcfg.seed + i)
        prev = None if warm_from is None else warm_from.members.get(name)
        warm = prev is not None and prev.hparams == net.hparams
        if warm:
            net.load_state_dict(prev.state_dict())
            tcfg = cfg.warm_train
        tcfg = dataclasses.replace(tcfg, seed=tcfg.seed + i)
        result = fit(net, _member_windows(train_ws, net_cls), _member_windows(val_ws, net_cls), tcfg)
        log.debug("%s: %d epochs (%s)%s", name, result.epochs_run, result.stop_reason, " warm" if warm else "")
        members[name] = net
        fits[name] = (warm, result)
    # Weights from each member's validation MSE on the H-bar log return, the quantity the strategy trades on.
    member_mu, sigma = _member_forecasts(members, scaler, val_ws.x_past, val_ws.x_future)
    mse = {n: float(np.mean((m - val_fwd) ** 2)) for n, m in member_mu.items()}
    if cfg.weighting == "inverse_mse":
        inv = {n: 1.0 / max(v, 1e-18) for n, v in mse.items()}
        weights = {n: v / sum(inv.values()) for n, v in inv.items()}
    else:
        weights = {n: 1.0 / len(mse) for n in mse}
    ens_mu = sum(weights[n] * member_mu[n] for n in member_mu)
    noise = float(np.sqrt(np.mean((ens_mu - val_fwd) ** 2)))
    mu, unc = _combine(member_mu, sigma, weights, noise)
    up = (val_fwd > 0).astype(np.float64)
    pool = (_score(mu, unc), up)
    if cfg.calibration_pool == "expanding" and previous is not None:
        old_score, old_up = previous.calibration_pool
        pool = (np.concatenate([old_score, pool[0]]), np.concatenate([old_up, up]))
    calibrator = DirectionCalibrator.fit(*pool, cfg.calibration)
    prob = calibrator.predict(_score(mu, unc))
    metrics = {
        "val_mse": float(np.mean((mu - val_fwd) ** 2)),
        "val_dir_acc": float(np.mean((mu > 0) == (val_fwd > 0))),
        "val_brier": float(np.mean((prob - up) ** 2)),
        "calibration_bars": len(pool[0]),
        "member_val_mse": mse,
        "n_train_windows": len(train_ws),
        "n_val_windows": len(val_ws),
    }
    ensemble = GMEnsemble(
        members=MappingProxyType(members),
        weights=MappingProxyType(weights),
        scaler=scaler,
        calibrator=calibrator,
        calibration_pool=pool,
        noise=noise,
        sequence_length=train_ws.input_size,
        horizon=train_ws.horizon,
        info=MappingProxyType({**dict(info or {}), "metrics": metrics}),
    )
    reports = [
        MemberReport(n, mse[n], weights[n], warm, r.best_epoch, r.epochs_run, r.stop_reason, r.seconds)
        for n, (warm, r) in fits.items()
    ]
    return ensemble, reports


def save_ensemble(ens: GMEnsemble, store: ModelStore, name: str) -> ModelVersion:
    """One store version under ``GM/<name>``: member weights as ``member.<net>.*`` plus everything to rebuild it."""
    meta = {
        "model_type": MODEL_TYPE,
        "member_order": list(ens.members),
        "weights": dict(ens.weights),
        "scaler": ens.scaler.to_dict(),
        "calibration": ens.calibrator.to_dict(),
        "calibration_pool": {"score": ens.calibration_pool[0].tolist(), "up": ens.calibration_pool[1].tolist()},
        "noise": ens.noise,
        "sequence_length": ens.sequence_length,
        "horizon": ens.horizon,
        "past_features": list(PAST_FEATURES),
        "future_features": list(FUTURE_FEATURES),
        "target": "sum of the predicted next-H daily log returns (ret_1 path) = log(close[t+H] / close[t])",
        **dict(ens.info),
        "info_keys": sorted(ens.info),
    }
    return save_networks(store, "GM", name, dict(ens.members), meta)


def load_ensemble(store: ModelStore, name: str, version: str = "latest") -> GMEnsemble:
    """Rebuild a stored fold ensemble through the registry (verified by the store; nothing is unpickled)."""
    nets, meta = load_networks(store, "GM", name, version, build=_registry().build_network)
    where = f"GM/{name}/{meta['version']}"
    if meta.get("model_type") != MODEL_TYPE:
        raise IntegrityError(f"this version is a '{meta.get('model_type')}', not a GM ensemble", where=where)
    if meta.get("past_features") != list(PAST_FEATURES) or meta.get("future_features") != list(FUTURE_FEATURES):
        raise ModelError(
            f"the model was trained on features {meta.get('past_features')} + {meta.get('future_features')}, "
            f"but this version of ml.features computes {list(PAST_FEATURES)} + {list(FUTURE_FEATURES)}",
            where=where,
            fix="retrain the model with this version",
        )
    order = meta["member_order"]
    return GMEnsemble(
        members=MappingProxyType({n: nets[n] for n in order}),
        weights=MappingProxyType({n: float(meta["weights"][n]) for n in order}),
        scaler=StandardScaler.from_dict(meta["scaler"]),
        calibrator=DirectionCalibrator.from_dict(meta["calibration"]),
        calibration_pool=(
            np.asarray(meta["calibration_pool"]["score"], dtype=np.float64),
            np.asarray(meta["calibration_pool"]["up"], dtype=np.float64),
        ),
        noise=float(meta["noise"]),
        sequence_length=int(meta["sequence_length"]),
        horizon=int(meta["horizon"]),
        info=MappingProxyType({k: meta[k] for k in meta.get("info_keys", [])}),
    )
