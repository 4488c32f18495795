"""Walk-forward GM training and out-of-sample signals over a test period, without backtrader.

For each fold of the schedule: fit the scaler on the fold's training rows, build the training and validation
windows, train and calibrate the ensemble, store it as a version, and forecast the fold's test bars. A test bar's
signal therefore depends on prices up to that bar (causal features) and on a model fitted to data that ends an
embargo before the fold's test window; ``tests/ml/gm/test_runner.py`` checks this by perturbing later prices.
"""
from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from ground.provenance import fingerprint_frame
from ground.signals import GM_FORECAST, GM_MU, GM_PROB, VOLATILITY
from ml.device import torch_threads
from ml.gm.calibration import calibration_summary, hit_rate_by_confidence, reliability_table
from ml.gm.config import GMEnsembleConfig
from ml.gm.ensemble import GMEnsemble, MemberReport, save_ensemble, train_ensemble
from ml.gm.features import PAST_FEATURES, WARMUP_BARS, FeatureSet, build_features
from ml.gm.predictor import GMPredictor
from ml.gm.scaling import StandardScaler
from ml.gm.walkforward import Fold, WalkForwardConfig, format_folds, make_folds
from ml.gm.windows import WindowSet, make_windows
from ml.store import ModelStore

log = logging.getLogger(__name__)

ProgressFn = Callable[[int, int, str], None]  # (folds done, folds in total, one-line summary)


@dataclass(frozen=True)
class GMRunResult:
    """Out-of-sample GM signals and the record of how they were made.

    - ``signals``: per test bar (index ``date``): ``gm_mu``, ``gm_prob``, ``gm_unc``, ``volatility`` (trailing daily
      vol of log returns), ``fold``, ``fwd_return`` (realised H-bar log return; NaN where the data ends first).
    - ``folds``: one row per fold: windows, store version, validation and test errors, directional accuracy, and per
      member ``val_mse_<net>``, ``weight_<net>``, ``epochs_<net>``, plus training ``seconds``.
    - ``calibration``: reliability tables and hit rates by confidence bucket on the pooled validation and test
      bars (keys ``reliability_validation``, ``reliability_test``, ``hit_rate_validation``, ``hit_rate_test``,
      ``summary`` with Brier score and ECE).
    - ``versions``: the store reference of each fold's ensemble (``GM/<name>/<version>``; empty without a store).
    - ``ensembles``: each fold's trained ensemble, in order (for paper trading or re-running a fold);
      ``previous`` the ensemble the first fold followed (None for a fresh run).
    """

    signals: pd.DataFrame
    folds: pd.DataFrame
    calibration: Mapping[str, pd.DataFrame]
    versions: list[str]
    ensembles: list[GMEnsemble]
    previous: GMEnsemble | None
    schedule: list[Fold]
    seconds: float


def _windows(scaled: np.ndarray, future: np.ndarray, rows: range, wf: WalkForwardConfig) -> WindowSet:
    """Windows whose last input rows are exactly ``rows``, with the calendar of each decision bar attached."""
    L, H = wf.sequence_length, wf.horizon
    ws = make_windows(scaled, input_size=L, horizon=H, start=rows.start - L + 1, end=rows.stop + H)
    x_future = torch.tensor(future[ws.t_index], dtype=torch.float32)  # [N, H, K]
    return WindowSet(x_past=ws.x_past, x_future=x_future, y=ws.y, t_index=ws.t_index)


def train_fold(
    frame: pd.DataFrame,
    features: FeatureSet,
    fold: Fold,
    wf: WalkForwardConfig,
    ens: GMEnsembleConfig,
    *,
    previous: GMEnsemble | None = None,
) -> tuple[GMEnsemble, list[MemberReport]]:
    """Train one fold's ensemble after ``previous`` (the prior fold's, for warm start and calibration pooling).

    The scaler sees only the rows the training windows read (inputs and labels).
    """
    L, H = wf.sequence_length, wf.horizon
    fit_rows = fold.fit_rows(L, H)
    scaler = StandardScaler.fit(features.past, slice(fit_rows.start, fit_rows.stop), PAST_FEATURES)
    scaled = scaler.transform(features.past)
    last_seen = pd.Timestamp(features.index[fold.last_seen_row(H)])
    info = {
        "train_window": [fold.train_dates[0].isoformat(), fold.train_dates[1].isoformat()],
        "val_window": [fold.val_dates[0].isoformat(), fold.val_dates[1].isoformat()],
        "valid_from": fold.test_dates[0].isoformat(),
        "data_last_date": last_seen.isoformat(),
        "data_fingerprint": fingerprint_frame(frame.loc[:last_seen]),
        "walkforward": dataclasses.asdict(wf),
        "gm_config": ens.to_dict(),
    }
    return train_ensemble(
        _windows(scaled, features.future, fold.train, wf),
        _windows(scaled, features.future, fold.val, wf),
        scaler,
        ens,
        previous=previous,
        warm_start=wf.warm_start,
        info=info,
    )


def _fold_row(
    fold: Fold, ensemble: GMEnsemble, reports: list[MemberReport], test: pd.DataFrame, version: str, seconds: float
) -> dict[str, object]:
    known = test["fwd_return"].notna()
    mu, fwd = test.loc[known, GM_MU], test.loc[known, "fwd_return"]
    metrics = ensemble.info["metrics"]
    row: dict[str, object] = {
        "fold": fold.fold_id,
        "train_start": fold.train_dates[0],
        "train_end": fold.train_dates[1],
        "val_start": fold.val_dates[0],
        "val_end": fold.val_dates[1],
        "test_start": fold.test_dates[0],
        "test_end": fold.test_dates[1],
        "n_train": metrics["n_train_windows"],
        "n_val": metrics["n_val_windows"],
        "n_test": len(test),
        "version": version,
        "val_mse": metrics["val_mse"],
        "val_dir_acc": metrics["val_dir_acc"],
        "test_mse": float(np.mean((mu - fwd) ** 2)) if known.any() else np.nan,
        "test_dir_acc": float(np.mean((mu > 0) == (fwd > 0))) if known.any() else np.nan,
        "seconds": seconds,
        "gm_opinion": ensemble.calibrator.has_opinion,
        "no_opinion_reason": ensemble.calibrator.reason,
        "calibration_slope": ensemble.calibrator.a if ensemble.calibrator.method == "platt" else np.nan,
    }
    for r in reports:
        row[f"val_mse_{r.name}"] = r.val_mse
        row[f"weight_{r.name}"] = r.weight
        row[f"epochs_{r.name}"] = r.epochs_run
    return row


def _calibration(val: pd.DataFrame, test: pd.DataFrame) -> dict[str, pd.DataFrame]:
    out: dict[str, pd.DataFrame] = {}
    summary = {}
    for name, part in (("validation", val), ("test", test)):
        fwd = part["fwd_return"].to_numpy()
        prob, up = part[GM_PROB].to_numpy(), np.where(np.isnan(fwd), np.nan, (fwd > 0).astype(np.float64))
        out[f"reliability_{name}"] = reliability_table(prob, up)
        out[f"hit_rate_{name}"] = hit_rate_by_confidence(prob, up)
        summary[name] = calibration_summary(prob, up)
    out["summary"] = pd.DataFrame(summary).T
    return out


@dataclass
class _Collected:
    test: list[pd.DataFrame] = dataclasses.field(default_factory=list)
    val: list[pd.DataFrame] = dataclasses.field(default_factory=list)
    rows: list[dict[str, object]] = dataclasses.field(default_factory=list)
    versions: list[str] = dataclasses.field(default_factory=list)
    ensembles: list[GMEnsemble] = dataclasses.field(default_factory=list)


def run_gm_walk_forward(
    frame: pd.DataFrame,
    *,
    test_start: str | pd.Timestamp,
    test_end: str | pd.Timestamp | None,
    wf: WalkForwardConfig,
    ens: GMEnsembleConfig,
    store: ModelStore | None = None,
    model_name: str = "gm",
    progress: ProgressFn | None = None,
    previous: GMEnsemble | None = None,
) -> GMRunResult:
    """Walk-forward train and forecast over ``[test_start, test_end]`` (inclusive; ``None``: to the data's end).

    ``previous`` stands for the fold before the first one (its warm start and calibration pool), to re-run a later
    fold exactly as the full run did.
    Deterministic for a given config (seeds live in ``ens.train``). Raises ``ModelError`` for too little history.
    """
    started = time.perf_counter()
    features = build_features(frame, horizon=wf.horizon)
    schedule = make_folds(features.index, test_start, test_end, wf, warmup=WARMUP_BARS)
    log.info("walk-forward schedule, %d folds:\n%s", len(schedule), format_folds(schedule))
    with torch_threads(ens.cpu_threads):
        parts = _run_folds(frame, features, schedule, wf, ens, store, model_name, progress, previous)
    signals = pd.concat(parts.test)
    signals.index.name = "date"
    return GMRunResult(
        signals=signals,
        folds=pd.DataFrame(parts.rows),
        calibration=_calibration(pd.concat(parts.val), signals),
        versions=parts.versions,
        ensembles=parts.ensembles,
        previous=previous,
        schedule=schedule,
        seconds=time.perf_counter() - started,
    )


def _run_folds(
    frame: pd.DataFrame,
    features: FeatureSet,
    schedule: list[Fold],
    wf: WalkForwardConfig,
    ens: GMEnsembleConfig,
    store: ModelStore | None,
    model_name: str,
    progress: ProgressFn | None,
    previous: GMEnsemble | None,
) -> _Collected:
    out = _Collected()
    prev = previous
    for fold in schedule:
        t0 = time.perf_counter()
        ensemble, reports = train_fold(frame, features, fold, wf, ens, previous=prev)
        version = save_ensemble(ensemble, store, model_name).ref if store is not None else ""
        predictor = GMPredictor(ensemble, cpu_threads=ens.cpu_threads)
        parts = []
        for rng in (fold.val, fold.test):
            part = predictor.predict_batch(features, rng)
            part[VOLATILITY] = features.volatility[rng.start : rng.stop]
            part["fold"] = fold.fold_id
            part["fwd_return"] = features.fwd_return[rng.start : rng.stop]
            parts.append(part)
        seconds = time.perf_counter() - t0
        out.val.append(parts[0])
        out.test.append(parts[1])
        out.rows.append(_fold_row(fold, ensemble, reports, parts[1], version, seconds))
        out.versions.append(version)
        out.ensembles.append(ensemble)
        prev = ensemble
        row = out.rows[-1]
        summary = (
            f"fold {fold.fold_id + 1}/{len(schedule)} test {fold.test_dates[0].date()}..{fold.test_dates[1].date()} "
            f"val mse {row['val_mse']:.3g} test dir acc {row['test_dir_acc']:.2f} in {seconds:.1f}s"
        )
        members = ", ".join(f"{r.name} {r.epochs_run} ep{' warm' if r.warm else ''}" for r in reports)
        log.info("%s (%s)", summary, members)
        if progress is not None:
            progress(fold.fold_id + 1, len(schedule), summary)
    return out


@dataclass(frozen=True)
class LeakageAudit:
    """One fold re-run on data cut at ``cut``: per bar from the fold's test start to the cut, both runs' GM
    signals and their gap; ``rerun`` holds the re-run's signals (for comparing what is built on them)."""

    fold_id: int
    cut: pd.Timestamp
    table: pd.DataFrame
    max_abs_diff: float
    passed: bool
    rerun: pd.DataFrame
    tolerance: float


def audit_sample(n_folds: int) -> list[int]:
    """The folds an audit re-runs: the first, a middle and the last one (fewer when there are fewer folds)."""
    return sorted({0, (n_folds - 1) // 2, n_folds - 1}) if n_folds else []


def audit_fold(
    frame: pd.DataFrame,
    result: GMRunResult,
    fold_id: int,
    *,
    wf: WalkForwardConfig,
    ens: GMEnsembleConfig,
    cut: str | pd.Timestamp | None = None,
    tolerance: float = 1e-6,
) -> LeakageAudit:
    """Re-run fold ``fold_id`` with every bar after ``cut`` removed and compare its signals up to ``cut``.

    A signal that changes when later bars disappear was using them. ``cut`` defaults to the middle of the fold's
    test window; the re-run starts from the previous fold's ensemble, as the full run did. Training on the CPU is
    bit-for-bit deterministic; forecasting a shorter batch can still round float32 differently (about 1e-9 was
    seen), hence the default ``tolerance`` of 1e-6, far below any look-ahead effect (GPU kernels may need more).
    """
    position = next(i for i, f in enumerate(result.schedule) if f.fold_id == fold_id)
    fold = result.schedule[position]
    test_dates = result.signals.index[result.signals["fold"] == fold_id]
    cut_ts = pd.Timestamp(test_dates[(len(test_dates) - 1) // 2]) if cut is None else pd.Timestamp(cut)
    previous = result.ensembles[position - 1] if position > 0 else result.previous
    rerun = run_gm_walk_forward(
        frame.loc[:cut_ts], test_start=fold.test_dates[0], test_end=cut_ts, wf=wf, ens=ens, previous=previous
    )
    before = result.signals.loc[fold.test_dates[0] : cut_ts, list(GM_FORECAST)]
    after = rerun.signals.reindex(before.index)[list(GM_FORECAST)]
    table = before.add_suffix("_run").join(after.add_suffix("_rerun"))
    gap = (before - after).abs().max(axis=1)
    table["max_abs_diff"] = gap.fillna(np.inf)
    worst = float(table["max_abs_diff"].max()) if len(table) else 0.0
    return LeakageAudit(fold_id, cut_ts, table, worst, bool(len(table)) and worst <= tolerance,
                        rerun.signals.reindex(before.index), tolerance)


def audit_last_fold(
    frame: pd.DataFrame,
    result: GMRunResult,
    *,
    wf: WalkForwardConfig,
    ens: GMEnsembleConfig,
    cut: str | pd.Timestamp | None = None,
    tolerance: float = 1e-6,
) -> LeakageAudit:
    """``audit_fold`` of the last fold."""
    return audit_fold(frame, result, result.schedule[-1].fold_id, wf=wf, ens=ens, cut=cut, tolerance=tolerance)


def embargo_violations(schedule: list[Fold], wf: WalkForwardConfig) -> list[str]:
    """Folds whose fitting reads a label that reaches into the test window minus the embargo (one line each)."""
    out = []
    for fold in schedule:
        last = fold.last_seen_row(wf.horizon)
        if last >= fold.test.start - wf.embargo:
            out.append(f"fold {fold.fold_id}: a training or validation label reads row {last}, the test window "
                       f"starts at row {fold.test.start} (embargo {wf.embargo})")
    return out
