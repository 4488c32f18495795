"""Forecast accuracy on ETTh1 (or any CSV of that layout) under the standard protocol, beside neuralforecast.

Protocol (Informer and TSMixer papers, thuml Time-Series-Library; ../shared/data/README.md): rows
train [0, 8640), val [8640 - L, 11520), test [11520 - L, 14400); a per-column standard scaler fitted on the
training rows only; lookback L = 96; every test window at stride 1; MSE and MAE on the scaled values.
Univariate ("S": OT in, OT out) at horizons 24 and 168, multivariate ("M": all columns in and out) at 24 and 96.
A file shorter than 14,400 rows is split 70/10/20 in time (the Time-Series-Library's custom-data rule).

By default every model, ours and the peer, sees each window standardised by its own input rows
(``--window-scaler standard``, neuralforecast's ``scaler_type="standard"``); errors are still measured on the
protocol's scale. ``--window-scaler none`` feeds the globally scaled values as the papers do.

For each setting it prints our networks, their ensemble (plain mean and validation-weighted), a repeat-last-value
baseline, the published figures, and neuralforecast's model of the same name at matched size, matched windows per
optimisation step, the same optimisation-step budget and the same per-fit time limit, all on the same windows.
neuralforecast (a bench extra) keeps the LAST weights after early stopping; a callback here restores the
best-validation weights so that both sides are judged on the weights they would select.

    python bench/forecast_ett.py                 # the full benchmark (sized for ~60 min on a 2-core CPU)
    python bench/forecast_ett.py --quick         # smoke run: a few minutes
    python bench/forecast_ett.py --data ../shared/data/benchmarks/ETTh2.csv --settings S24,M96 --networks nbeats
"""
from __future__ import annotations

import argparse
import copy
import logging
import math
import sys
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import SHARED_DATA, markdown_table, report, set_threads, setup_peer_logging
from ml.gm.windows import WindowSet, make_windows, merge_channels, split_channels, standardize_windows
from ml.networks.registry import build_network, default_hparams
from ml.train_config import TrainConfig
from ml.trainer import fit, predict

log = logging.getLogger("bench.forecast_ett")

LOOKBACK = 96
ETT_BORDERS = (8640, 11520, 14400)  # 12 / 4 / 4 months of hourly rows
SETTINGS: dict[str, tuple[str, int]] = {"S24": ("S", 24), "S168": ("S", 168), "M24": ("M", 24), "M96": ("M", 96)}
NETWORKS = ("informer", "tft", "nbeats", "tsmixer")
NF_CLASS = {"informer": "Informer", "tft": "TFT", "nbeats": "NBEATS", "tsmixer": "TSMixer"}
PUBLISHED: dict[str, list[tuple[str, float, float]]] = {
    "S24": [("Informer (paper)", 0.098, 0.247)],
    "S168": [("Informer (paper)", 0.183, 0.346)],
    "M24": [("Informer (paper)", 0.577, 0.549)],
    "M96": [("NHITS (neuralforecast paper)", 0.378, 0.393)],
}
# Training settings per network (both libraries get the same): windows per step, learning rate, epochs, patience.
TRAIN: dict[str, dict[str, Any]] = {
    # Informer: the paper's batch 32; chosen on validation loss (S24, 2 epochs): lr 1e-3 0.0595, 5e-4 0.0597,
    # the paper's 1e-4 (meant for longer training) 0.0667.
    "informer": {"batch_size": 32, "learning_rate": 1e-3, "max_epochs": 6, "patience": 3},
    "tft": {"batch_size": 64, "learning_rate": 1e-3, "max_epochs": 10, "patience": 3},
    "nbeats": {"batch_size": 256, "learning_rate": 1e-3, "max_epochs": 30, "patience": 5},
    # TSMixer: validation loss (M96, best of 15 epochs) 0.6878 at lr 1e-3, 0.6886 at 3e-4, 0.7604 at 1e-4 (4 epochs).
    "tsmixer": {"batch_size": 32, "learning_rate": 1e-3, "max_epochs": 15, "patience": 3},
}
# In the multivariate settings neuralforecast's Informer and TFT are univariate models shared over the 7 series;
# ours are trained the same way (channel-independent windows, 7x the windows per step), not mixing channels.
# Mixing channels, as the Informer paper's M setting does, measured far worse here (M24 MSE: informer 1.04, tft 0.85).
CHANNEL_INDEPENDENT = ("informer", "tft")
WINDOW_SCALERS = ("standard", "none")  # per-window standardisation on both sides, or the papers' raw values
TFT_QUANTILES = (0.1, 0.5, 0.9)  # our TFT's default quantiles; its peer trains with the same quantile loss
BUDGET_MINUTES = 55.0  # the whole run, evaluation included
FIT_SHARE = 0.75  # of the time left per fit still to run; the rest covers validation-set and test-set prediction
MIN_FIT_SECONDS = 5.0


@dataclass(frozen=True)
class EttData:
    """The scaled matrix (OT last, as in the file), the window sets per split, and the split borders."""

    name: str
    columns: list[str]
    scaled: np.ndarray  # [R, C] standardised with training statistics
    borders: tuple[int, int, int]


@dataclass
class Budget:
    """Shares the time left over the fits still to run, so evaluation overheads seen so far shrink later fits.

    Both sides of one comparison get the same limit. ``fixed`` (``--fit-seconds``) overrides the sharing.
    """

    deadline: float
    fits_left: int
    fixed: float | None = None

    def next_limit(self, fits: int) -> float:
        """The time limit of each of the next ``fits`` fits."""
        if self.fixed is not None:
            limit = self.fixed
        else:
            left = self.deadline - time.perf_counter()
            limit = max(MIN_FIT_SECONDS, FIT_SHARE * left / max(1, self.fits_left))
        self.fits_left -= fits
        return limit


@dataclass
class Run:
    """One trained model's outcome on one setting."""

    model: str
    source: str
    val_pred: np.ndarray | None  # [N_val, H, T]
    test_pred: np.ndarray  # [N_test, H, T]
    fit_seconds: float = 0.0
    predict_seconds: float = 0.0
    params: int | None = None
    train_samples_per_s: float | None = None
    epochs: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def load_ett(path: Path) -> EttData:
    """Read a CSV with a date column and numeric columns including ``OT``; scale with training statistics."""
    df = pd.read_csv(path)
    if "date" not in df.columns or "OT" not in df.columns:
        raise SystemExit(f"{path}: need a 'date' column and a target column 'OT' (got {list(df.columns)})")
    values = df.drop(columns=["date"]).apply(pd.to_numeric, errors="raise")
    cols = [c for c in values.columns if c != "OT"] + ["OT"]  # OT last, as the papers order it
    arr = values[cols].to_numpy(dtype=np.float64)
    n = len(arr)
    if n >= ETT_BORDERS[-1]:
        borders = ETT_BORDERS
    else:
        borders = (int(n * 0.7), int(n * 0.8), n)
    mean = arr[: borders[0]].mean(axis=0)
    std = arr[: borders[0]].std(axis=0)
    std[std == 0] = 1.0
    return EttData(path.stem, cols, (arr - mean) / std, borders)


def setting_windows(
    data: EttData, mode: str, horizon: int, test_stride: int = 1
) -> tuple[WindowSet, WindowSet, WindowSet]:
    """Train/val/test windows; univariate uses OT alone, multivariate every column (all are targets).

    ``test_stride`` > 1 (smoke runs only) keeps every ``test_stride``-th test window counted back from the last.
    """
    values = data.scaled[:, -1:] if mode == "S" else data.scaled
    t1, t2, t3 = data.borders
    n_t = values.shape[1]
    kw = {"input_size": LOOKBACK, "horizon": horizon, "n_targets": n_t}
    test = make_windows(values, start=t2 - LOOKBACK, end=t3, **kw)
    if test_stride > 1:
        test = test.subset((t3 - horizon - 1 - test.t_index) % test_stride == 0)
    return make_windows(values, start=0, end=t1, **kw), make_windows(values, start=t1 - LOOKBACK, end=t2, **kw), test


def mse_mae(pred: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    return float(np.mean((pred - y) ** 2)), float(np.mean(np.abs(pred - y)))


def channel_independent(name: str, mode: str) -> bool:
    return mode == "M" and name in CHANNEL_INDEPENDENT


def train_cfg(name: str, mode: str, n_series: int, *, quick: bool, fit_seconds: float, seed: int) -> TrainConfig:
    """Our training settings; a channel-independent fit draws ``batch_size`` windows per series per step."""
    settings = dict(TRAIN[name])
    if quick:
        settings.update(max_epochs=1)
    if channel_independent(name, mode):
        settings["batch_size"] *= n_series
    return TrainConfig(device="cpu", seed=seed, lr_schedule="cosine", max_train_seconds=fit_seconds, **settings)


def run_ours(
    name: str, size: str, ws: tuple[WindowSet, WindowSet, WindowSet], cfg: TrainConfig, mode: str, scaler: str
) -> Run:
    """Build, train (best-validation weights restored) and predict one of our networks.

    ``scaler`` ``"standard"`` standardises every window by its own input rows (``standardize_windows``) and maps
    the forecasts back, as neuralforecast's ``scaler_type="standard"`` does for the peer.
    """
    n_series = ws[0].n_targets
    split = channel_independent(name, mode)
    prepared = [split_channels(w) if split else w for w in ws]
    scaled = [standardize_windows(w) if scaler == "standard" else (w, None) for w in prepared]
    (train, _), (val, val_scale), (test, test_scale) = scaled

    def forecast(w: WindowSet, scale: Any) -> np.ndarray:
        pred = net.point(predict(net, w))  # [N, H, T]
        pred = pred if scale is None else scale.invert(pred)
        return (merge_channels(pred.unsqueeze(-1), n_series)[..., 0] if split else pred).numpy()  # [N*C, H, 1] -> [N, H, C]

    torch.manual_seed(cfg.seed)
    net = build_network(
        name, input_size=LOOKBACK, horizon=train.horizon, n_features=train.n_features, n_targets=train.n_targets,
        **default_hparams(name, size),
    )
    res = fit(net, train, val, cfg)
    steps_per_epoch = max(1, len(train) // cfg.batch_size)
    t0 = time.perf_counter()
    test_pred = forecast(test, test_scale)
    pred_s = time.perf_counter() - t0
    best_step = min(res.best_epoch * steps_per_epoch, res.steps)
    return Run(
        model=f"{name} (channel-independent)" if split else name, source="ours", val_pred=forecast(val, val_scale),
        test_pred=test_pred, fit_seconds=res.seconds, predict_seconds=pred_s,
        params=sum(p.numel() for p in net.parameters()), train_samples_per_s=res.train_samples_per_s,
        epochs=f"best {best_step}/{res.steps} steps ({res.stop_reason.replace('_', ' ')})",
        extra={"steps_per_epoch": steps_per_epoch},
    )


# -- neuralforecast ---------------------------------------------------------------------------------------------
def nf_available() -> bool:
    try:
        import neuralforecast  # noqa: F401
    except ImportError:
        return False
    return True


def peer_callbacks(restore_best: bool) -> list[Any]:
    """Lightning callbacks for the peer: a step timer, and (with validation) best-weight restoring.

    neuralforecast trains deep copies of the models it is given, callbacks included: read them back from the
    fitted model with ``fitted_callback``.
    """
    import pytorch_lightning as pl

    class StepTimer(pl.Callback):
        """Counts training steps and times the loop from the first step's start to the last step's end."""

        def __init__(self) -> None:
            self.start: float | None = None
            self.end, self.steps = 0.0, 0

        def on_train_batch_start(self, trainer: Any, module: Any, batch: Any, batch_idx: int) -> None:
            if self.start is None:
                self.start = time.perf_counter()

        def on_train_batch_end(self, trainer: Any, module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
            self.end = time.perf_counter()
            self.steps += 1

        @property
        def loop_seconds(self) -> float:
            return 0.0 if self.start is None else self.end - self.start

    class RestoreBest(pl.Callback):
        """Keeps the weights of the best validation loss and loads them back when training ends."""

        def __init__(self) -> None:
            self.best, self.best_step, self.state = math.inf, 0, None

        def on_validation_end(self, trainer: Any, module: Any) -> None:
            value = trainer.callback_metrics.get("ptl/val_loss")
            if trainer.sanity_checking or value is None:
                return
            if float(value) < self.best:
                self.best, self.best_step = float(value), trainer.global_step
                self.state = copy.deepcopy(module.state_dict())

        def on_train_end(self, trainer: Any, module: Any) -> None:
            if self.state is not None:
                module.load_state_dict(self.state)

    return [StepTimer()] + ([RestoreBest()] if restore_best else [])


def fitted_callback(nf: Any, class_name: str) -> Any:
    return next((cb for cb in nf.models[0].trainer_kwargs.get("callbacks", []) if type(cb).__name__ == class_name), None)


def nf_model(
    name: str, size: str, mode: str, horizon: int, n_series: int, cfg: TrainConfig, steps: int, *, validate: bool = True,
    scaler: str = "none",
) -> Any:
    """neuralforecast's model of the same name at our ``size``: same widths, depths, heads, dropout and loss.

    With ``validate`` it checks validation loss about once per epoch of ours, stops early with our patience and
    restores the best weights; without, it trains exactly ``steps`` steps (speed runs).
    """
    from neuralforecast import models as nfm
    from neuralforecast.losses.pytorch import MSE, MQLoss

    hp = default_hparams(name, size)
    # The loss ours trains and validates with: MSE, or for TFT the quantile loss at our TFT's quantiles (its point
    # forecast is the median, read back by nf_test_predictions).
    loss = MQLoss(quantiles=list(TFT_QUANTILES)) if name == "tft" else MSE()
    # Windows per step: ours draws batch_size windows; a univariate neuralforecast model fed all M-mode series
    # sees one series per window, so it gets batch_size windows per series of ours (same target values per step)
    # unless ours is channel-independent too, and so already counts single-series windows.
    univariate_peer = name != "tsmixer"
    per_series = mode == "M" and univariate_peer and not channel_independent(name, mode)
    windows = cfg.batch_size * (n_series if per_series else 1)
    common: dict[str, Any] = {
        "h": horizon, "input_size": LOOKBACK, "loss": loss, "valid_loss": loss, "learning_rate": cfg.learning_rate,
        "max_steps": steps, "val_check_steps": max(1, steps // cfg.max_epochs) if validate else steps,
        "early_stop_patience_steps": cfg.patience if validate else -1,
        "batch_size": n_series if univariate_peer else 1, "windows_batch_size": windows,
        "inference_windows_batch_size": 1024, "valid_batch_size": n_series,
        "scaler_type": "identity" if scaler == "none" else scaler,
        "random_seed": cfg.seed, "logger": False, "enable_progress_bar": False, "enable_model_summary": False,
        "accelerator": "cpu", "callbacks": peer_callbacks(restore_best=validate),
    }
    if cfg.max_train_seconds is not None:
        common["max_time"] = timedelta(seconds=cfg.max_train_seconds)
    if name == "informer":
        return nfm.Informer(
            hidden_size=hp["d_model"], n_head=hp["n_heads"], encoder_layers=hp["e_layers"], decoder_layers=hp["d_layers"],
            conv_hidden_size=hp["d_ff"], factor=hp["factor"], dropout=hp["dropout"], distil=True, **common,
        )
    if name == "tft":
        return nfm.TFT(hidden_size=hp["hidden_size"], n_head=hp["n_heads"], n_rnn_layers=hp["lstm_layers"], dropout=hp["dropout"], **common)
    if name == "nbeats":
        if hp.get("kind", "generic") != "generic":
            raise SystemExit("the neuralforecast NBEATS peer is matched to the generic configuration only")
        w = hp["layer_width"]
        return nfm.NBEATS(
            stack_types=["identity"] * hp["n_stacks"], n_blocks=[hp["n_blocks"]] * hp["n_stacks"],
            mlp_units=[[w, w]] * (hp["n_layers"] - 1), **common,  # its blocks: 1 + len(mlp_units) hidden layers
        )
    if name == "tsmixer":
        common["valid_batch_size"] = 1
        return nfm.TSMixer(n_series=n_series, n_block=hp["n_blocks"], ff_dim=hp["ff_dim"], dropout=hp["dropout"], revin=True, **common)
    raise SystemExit(f"no neuralforecast peer for {name}")


def _long_frame(values: np.ndarray, rows: slice) -> pd.DataFrame:
    """neuralforecast's long layout: one series per column, integer time steps."""
    block = values[rows]
    idx = np.arange(rows.start or 0, (rows.start or 0) + len(block))
    return pd.concat(
        [pd.DataFrame({"unique_id": f"s{c:02d}", "ds": idx, "y": block[:, c]}) for c in range(block.shape[1])],
        ignore_index=True,
    )


def nf_test_predictions(nf: Any, data: EttData, mode: str, horizon: int, test_stride: int = 1) -> np.ndarray:
    """The fitted peer's forecasts ``[N, H, T]`` for the same test windows as ``setting_windows`` (same order)."""
    values = data.scaled[:, -1:] if mode == "S" else data.scaled
    _, t2, t3 = data.borders
    n_windows = (t3 - t2 - horizon) // test_stride + 1
    test_size = horizon + test_stride * (n_windows - 1)  # windows counted back from the end, as in setting_windows
    cv = nf.cross_validation(
        _long_frame(values, slice(t3 - test_size - LOOKBACK, t3)), n_windows=None, test_size=test_size,
        step_size=test_stride, use_fitted=True,
    )
    outputs = [c for c in cv.columns if c not in ("unique_id", "ds", "cutoff", "y")]
    col = next((c for c in outputs if c.endswith("-median")), outputs[0])  # a quantile model's point forecast
    cv = cv.sort_values(["cutoff", "ds", "unique_id"])
    return cv[col].to_numpy(dtype=np.float64).reshape(n_windows, horizon, values.shape[1])  # [N*H*T] -> [N, H, T]


def run_nf(
    name: str, size: str, data: EttData, mode: str, horizon: int, cfg: TrainConfig, steps: int, *,
    test_stride: int = 1, validate: bool = True, scaler: str = "none",
) -> Run:
    """Fit neuralforecast's model on the training rows (validation rows for early stopping unless ``validate`` is
    off, as in smoke runs), then predict the test windows."""
    from neuralforecast import NeuralForecast

    values = data.scaled[:, -1:] if mode == "S" else data.scaled
    t1, t2, _ = data.borders
    model = nf_model(name, size, mode, horizon, values.shape[1], cfg, steps, validate=validate, scaler=scaler)
    nf = NeuralForecast(models=[model], freq=1)
    t0 = time.perf_counter()
    if validate:
        nf.fit(_long_frame(values, slice(0, t2)), val_size=t2 - t1)
    else:
        nf.fit(_long_frame(values, slice(0, t1)), val_size=0)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    pred = nf_test_predictions(nf, data, mode, horizon, test_stride)
    pred_s = time.perf_counter() - t0
    timer, best = fitted_callback(nf, "StepTimer"), fitted_callback(nf, "RestoreBest")
    return Run(
        model=NF_CLASS[name], source="neuralforecast", val_pred=None, test_pred=pred, fit_seconds=fit_s, predict_seconds=pred_s,
        params=sum(p.numel() for p in nf.models[0].parameters()),  # nf trains a deep copy of `model`
        train_samples_per_s=None,
        epochs=f"best {best.best_step if best and best.state is not None else '-'}/{timer.steps} steps",
    )


# -- the benchmark -----------------------------------------------------------------------------------------------
def simplex_weights(preds: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Non-negative weights summing to 1 that minimise the MSE of ``sum_m w_m preds[m]`` against ``y``."""
    from scipy.optimize import minimize

    p = preds.reshape(len(preds), -1)  # [M, N, H, T] -> [M, N*H*T]
    gram, cross = p @ p.T / p.shape[1], p @ y.reshape(-1) / p.shape[1]  # [M, M], [M]
    m = len(preds)
    res = minimize(
        lambda w: w @ gram @ w - 2 * cross @ w, np.full(m, 1.0 / m), jac=lambda w: 2 * gram @ w - 2 * cross,
        bounds=[(0.0, 1.0)] * m, constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1.0}], method="SLSQP",
    )
    w = np.clip(res.x, 0.0, None)
    return w / w.sum()


def ensemble_rows(runs: list[Run], y_val: np.ndarray, y_test: np.ndarray) -> list[list[Any]]:
    """Three ensembles of our members, weights fitted on the validation windows only: the plain mean, inverse
    validation MSE, and the validation-optimal convex combination (stacking)."""
    if len(runs) < 2:
        return []
    preds = np.stack([r.test_pred for r in runs])  # [M, N, H, T]
    val_preds = np.stack([r.val_pred for r in runs])  # [M, N_val, H, T]
    inv = np.array([1.0 / mse_mae(v, y_val)[0] for v in val_preds])
    rows = [["ensemble (mean)", "ours", None, *mse_mae(preds.mean(axis=0), y_test), None, ""]]
    for label, weights in (("inverse val MSE", inv / inv.sum()), ("val-fitted convex", simplex_weights(val_preds, y_val))):
        combined = np.tensordot(weights, preds, axes=1)  # [M] x [M, N, H, T] -> [N, H, T]
        names = ", ".join(f"{r.model} {w:.2f}" for r, w in zip(runs, weights))
        rows.append([f"ensemble ({label}: {names})", "ours", None, *mse_mae(combined, y_test), None, ""])
    return rows


def run_setting(key: str, data: EttData, args: argparse.Namespace, budget: Budget) -> tuple[str, list[list[Any]]]:
    mode, horizon = SETTINGS[key]
    train, val, test = setting_windows(data, mode, horizon, args.test_stride)
    y_val, y_test = val.y.numpy(), test.y.numpy()
    rows: list[list[Any]] = []
    ours: list[Run] = []
    summary: list[list[Any]] = []
    for name in args.networks:
        limit = budget.next_limit(2 if args.peer else 1)
        cfg = train_cfg(name, mode, train.n_targets, quick=args.quick, fit_seconds=limit, seed=args.seed)
        log.info("%s %s: training ours (%s, limit %.0f s)", key, name, args.size, limit)
        run = run_ours(name, args.size, (train, val, test), cfg, mode, args.window_scaler)
        ours.append(run)
        mse, mae = mse_mae(run.test_pred, y_test)
        rows.append([run.model, "ours", run.params, mse, mae, f"{run.fit_seconds:.1f} / {limit:.0f}", run.epochs])
        peer_mse = None
        if args.peer:
            steps = 20 if args.quick else cfg.max_epochs * run.extra["steps_per_epoch"]
            log.info("%s %s: training neuralforecast %s (<= %d steps)", key, name, NF_CLASS[name], steps)
            peer = run_nf(
                name, args.size, data, mode, horizon, cfg, steps, test_stride=args.test_stride, validate=not args.quick,
                scaler=args.window_scaler,
            )
            peer_mse, peer_mae = mse_mae(peer.test_pred, y_test)
            rows.append([
                f"{peer.model} (neuralforecast)", "peer", peer.params, peer_mse, peer_mae,
                f"{peer.fit_seconds:.1f} / {limit:.0f}", peer.epochs,
            ])
        summary.append([key, name, mse, peer_mse, None if peer_mse is None else mse / peer_mse,
                        None if peer_mse is None else ("yes" if mse <= peer_mse * 1.02 else "no")])
    rows += ensemble_rows(ours, y_val, y_test)
    last = np.repeat(test.x_past[:, -1:, : test.n_targets].numpy(), horizon, axis=1)  # [N, 1, T] -> [N, H, T]
    rows.append(["repeat last value", "baseline", 0, *mse_mae(last, y_test), None, ""])
    if data.name == "ETTh1":
        rows += [[label, "published", None, m, a, None, ""] for label, m, a in PUBLISHED[key]]
    table = markdown_table(["model", "source", "params", "test MSE", "test MAE", "fit s / limit", "training"], rows)
    kind = "univariate OT" if mode == "S" else "multivariate"
    stride = f", stride {args.test_stride} (not the protocol)" if args.test_stride > 1 else ""
    header = f"### {data.name} {key} ({kind}, h={horizon}, L={LOOKBACK}, {len(test)} test windows{stride})\n\n"
    return header + table, summary


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=SHARED_DATA / "benchmarks" / "ETTh1.csv", help="CSV: date, numeric columns, OT")
    p.add_argument("--settings", default=",".join(SETTINGS), help=f"comma list of {', '.join(SETTINGS)}")
    p.add_argument("--networks", default=",".join(NETWORKS), help=f"comma list of {', '.join(NETWORKS)}")
    p.add_argument("--size", default="small", choices=("tiny", "small", "base"), help="size preset of every network")
    p.add_argument("--budget-minutes", type=float, default=BUDGET_MINUTES, help="wall-time budget of the whole run")
    p.add_argument("--fit-seconds", type=float, default=None, help="time limit of each fit, each side [default: from the budget]")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--window-scaler", choices=WINDOW_SCALERS, default=WINDOW_SCALERS[0],
        help="per-window input standardisation, both sides (neuralforecast scaler_type); none: the raw protocol",
    )
    p.add_argument("--threads", type=int, default=1, help="torch threads, both sides (1: robust on a busy machine)")
    p.add_argument("--no-peer", dest="peer", action="store_false", help="skip neuralforecast")
    p.add_argument("--test-stride", type=int, default=1, help="keep every n-th test window (protocol: 1)")
    p.add_argument(
        "--quick", action="store_true",
        help="smoke run: one epoch, 20 peer steps without validation, 10 s per fit, test stride 24",
    )
    p.add_argument("--no-append", dest="append", action="store_false", help="do not append to docs/benchmarks.md")
    args = p.parse_args(argv)
    args.settings = [s.strip() for s in args.settings.split(",") if s.strip()]
    args.networks = [n.strip() for n in args.networks.split(",") if n.strip()]
    for s in args.settings:
        if s not in SETTINGS:
            p.error(f"unknown setting {s!r}; choose from {', '.join(SETTINGS)}")
    for n in args.networks:
        if n not in NETWORKS:
            p.error(f"unknown network {n!r}; choose from {', '.join(NETWORKS)}")
    if not args.data.exists():
        p.error(f"{args.data} not found (the shared data folder ../shared/data is absent?)")
    if args.peer and not nf_available():
        log.warning("neuralforecast is not installed (pip install neuralforecast -c <torch pin>): peer skipped")
        args.peer = False
    if args.quick:
        args.fit_seconds = min(args.fit_seconds or 10.0, 10.0)
        args.test_stride = max(args.test_stride, 24)
    if args.test_stride < 1:
        p.error("--test-stride must be >= 1")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    set_threads(args.threads)
    setup_peer_logging()
    data = load_ett(args.data)
    started = time.perf_counter()
    fits = len(args.settings) * len(args.networks) * (2 if args.peer else 1)
    budget = Budget(started + args.budget_minutes * 60, fits, args.fit_seconds)
    sections, summary = [], []
    for key in args.settings:
        text, rows = run_setting(key, data, args, budget)
        sections.append(text)
        summary += rows
        print(text + "\n", flush=True)
    total = time.perf_counter() - started
    body = "\n\n".join(sections)
    if args.peer:
        body += "\n\n### Ours against neuralforecast (target: ours MSE within 2% of the peer's or lower)\n\n"
        body += markdown_table(["setting", "network", "ours MSE", "peer MSE", "ours / peer", "target met"], summary)
    sizes = "; ".join(f"{n}: {default_hparams(n, args.size)}" for n in args.networks)
    train = "; ".join(f"{n}: {TRAIN[n]}" for n in args.networks)
    body += (
        f"\n\nSize preset `{args.size}`: {sizes}.\n\nWindow scaler, both sides: `{args.window_scaler}`"
        f"{' (each window standardised by its own input rows; forecasts mapped back; MSE on the protocol scale)' if args.window_scaler == 'standard' else ''}."
        f"\n\nTraining (AdamW, cosine LR, best-validation weights; both sides "
        f"of a comparison get the same time limit and windows per step"
        f"{'; quick: one epoch / 20 peer steps, peer not validated' if args.quick else ''}): {train}."
        f"\n\nTotal wall time: {total / 60:.1f} min (budget {args.budget_minutes:.0f} min)."
    )
    report(f"Forecast accuracy: {data.name}{' (quick smoke run)' if args.quick else ''}", body, append=args.append)


if __name__ == "__main__":
    main()
