"""Training throughput, inference latency and test MSE: our networks against neuralforecast's same-named models.

Both sides train on the same ETTh1 windows (the protocol of forecast_ett.py: scaler fitted on train, L = 96, and
by default each window standardised by its own input rows, neuralforecast's ``scaler_type="standard"``) with
matched sizes, the same optimiser settings (Adam's update, no gradient clipping: neuralforecast's defaults), the
same windows per optimisation step (neuralforecast's ``windows_batch_size``; its
``batch_size`` counts series) and the same number of steps, without validation, so that the time measured is
training alone. Throughput = windows per second of training-loop time (from the first to the last step; data
loading and the optimiser step included). Latency: one window through the public predict API (median of
repeated calls), and every test window in one call. Target: ours >= 1.5x neuralforecast's throughput for every
network, at equal or better test MSE.

    python bench/train_speed.py                          # all four networks, univariate OT, h = 24
    python bench/train_speed.py --networks nbeats --epochs 4 --setting M96
    python bench/train_speed.py --seeds 0,1,2            # mean MSE and median speed over three seeds
    python bench/train_speed.py --quick                  # smoke run
"""
from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import SHARED_DATA, markdown_table, report, set_threads, setup_peer_logging
from bench.forecast_ett import (
    LOOKBACK,
    NETWORKS,
    NF_CLASS,
    SETTINGS,
    TRAIN,
    WINDOW_SCALERS,
    _long_frame,
    fitted_callback,
    load_ett,
    mse_mae,
    nf_available,
    nf_model,
    nf_test_predictions,
    setting_windows,
)
from ml.gm.windows import standardize_windows
from ml.networks.registry import build_network, default_hparams
from ml.train_config import TrainConfig
from ml.trainer import fit, predict

log = logging.getLogger("bench.train_speed")
LATENCY_CALLS = 20


def _median_seconds(fn: Any, calls: int) -> float:
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def run_ours(name: str, size: str, ws: tuple, cfg: TrainConfig, scaler: str) -> dict[str, Any]:
    train, _, test = ws
    test_scale = None
    if scaler == "standard":
        (train, _), (test, test_scale) = standardize_windows(train), standardize_windows(test)
    torch.manual_seed(cfg.seed)
    net = build_network(
        name, input_size=LOOKBACK, horizon=train.horizon, n_features=train.n_features, n_targets=train.n_targets,
        **default_hparams(name, size),
    )
    res = fit(net, train, None, cfg)
    one = test.subset(slice(0, 1))
    latency = _median_seconds(lambda: predict(net, one), LATENCY_CALLS)
    t0 = time.perf_counter()
    pred = net.point(predict(net, test))
    pred = (pred if test_scale is None else test_scale.invert(pred)).numpy()
    y = ws[2].y.numpy()
    return {
        "samples_per_s": res.train_samples_per_s, "steps": res.steps,
        "latency_ms": latency * 1e3, "all_test_s": time.perf_counter() - t0, "mse": mse_mae(pred, y)[0],
        "params": sum(p.numel() for p in net.parameters()),
    }


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One side over several seeds: median speeds and latencies (robust to a busy moment), mean and range of MSE."""
    mses = [r["mse"] for r in runs]
    out = {k: statistics.median(r[k] for r in runs) for k in ("samples_per_s", "latency_ms", "all_test_s")}
    out.update(steps=runs[0]["steps"], params=runs[0]["params"], mse=statistics.fmean(mses),
               mse_range=f"{min(mses):.4f}-{max(mses):.4f}" if len(mses) > 1 else "-")
    return out


def run_peer(
    name: str, size: str, data: Any, mode: str, horizon: int, cfg: TrainConfig, steps: int, test_stride: int,
    scaler: str,
) -> dict[str, Any]:
    from neuralforecast import NeuralForecast

    values = data.scaled[:, -1:] if mode == "S" else data.scaled
    t1, t2, _ = data.borders
    n_series = values.shape[1]
    nf = NeuralForecast(models=[nf_model(name, size, mode, horizon, n_series, cfg, steps, validate=False, scaler=scaler)], freq=1)
    nf.fit(_long_frame(values, slice(0, t1)), val_size=0)
    fitted = nf.models[0]  # neuralforecast trains a deep copy of the model it is given
    timer = fitted_callback(nf, "StepTimer")
    loop_s = timer.loop_seconds
    windows = fitted.windows_batch_size  # per step, counted in single-series windows
    per_step = windows / (n_series if (mode == "M" and name != "tsmixer") else 1)  # in windows of ours
    history = _long_frame(values, slice(t2 - LOOKBACK, t2))
    latency = _median_seconds(lambda: nf.predict(df=history), 5)
    t0 = time.perf_counter()
    pred = nf_test_predictions(nf, data, mode, horizon, test_stride)
    all_s = time.perf_counter() - t0
    _, _, test = setting_windows(data, mode, horizon, test_stride)
    return {
        "samples_per_s": timer.steps * per_step / loop_s if loop_s > 0 else 0.0, "steps": timer.steps,
        "latency_ms": latency * 1e3, "all_test_s": all_s, "mse": mse_mae(pred, test.y.numpy())[0],
        "params": sum(p.numel() for p in fitted.parameters()),
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=SHARED_DATA / "benchmarks" / "ETTh1.csv", help="CSV: date, numeric columns, OT")
    p.add_argument("--setting", default="S24", choices=list(SETTINGS))
    p.add_argument("--networks", default=",".join(NETWORKS), help=f"comma list of {', '.join(NETWORKS)}")
    p.add_argument("--size", default="small", choices=("tiny", "small", "base"))
    p.add_argument("--epochs", type=int, default=2, help="epochs of ours; the peer runs the same number of steps")
    p.add_argument(
        "--window-scaler", choices=WINDOW_SCALERS, default=WINDOW_SCALERS[0],
        help="per-window input standardisation, both sides, as in forecast_ett.py; none: globally scaled values",
    )
    p.add_argument("--seeds", default="0", help="comma list of seeds; each side trains once per seed")
    p.add_argument("--threads", type=int, default=1, help="torch threads, both sides (1: robust on a busy machine)")
    p.add_argument("--quick", action="store_true", help="smoke run: one epoch capped at 15 s, every 24th test window")
    p.add_argument("--no-append", dest="append", action="store_false")
    args = p.parse_args(argv)
    args.networks = [n.strip() for n in args.networks.split(",") if n.strip()]
    try:
        args.seeds = [int(x) for x in args.seeds.split(",") if x.strip()]
    except ValueError:
        p.error(f"--seeds must be a comma list of integers, got {args.seeds!r}")
    if not args.seeds:
        p.error("--seeds needs at least one seed")
    for n in args.networks:
        if n not in NETWORKS:
            p.error(f"unknown network {n!r}; choose from {', '.join(NETWORKS)}")
    if not nf_available():
        p.error("neuralforecast is not installed: pip install neuralforecast -c <constraint file pinning torch>")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    set_threads(args.threads)
    setup_peer_logging()
    data = load_ett(args.data)
    mode, horizon = SETTINGS[args.setting]
    test_stride = 24 if args.quick else 1
    ws = setting_windows(data, mode, horizon, test_stride)
    rows = []
    for name in args.networks:
        settings = dict(TRAIN[name], max_epochs=1 if args.quick else args.epochs)
        ours_runs, peer_runs = [], []
        for seed in args.seeds:
            # The peer's optimiser settings: Adam's update (AdamW without weight decay) and no gradient clipping.
            cfg = TrainConfig(
                device="cpu", seed=seed, grad_clip=0.0, max_train_seconds=15.0 if args.quick else None, **settings
            )
            log.info("%s seed %d: ours", name, seed)
            ours_runs.append(run_ours(name, args.size, ws, cfg, args.window_scaler))
            log.info("%s seed %d: neuralforecast %s, %d steps", name, seed, NF_CLASS[name], ours_runs[-1]["steps"])
            peer_runs.append(run_peer(
                name, args.size, data, mode, horizon, cfg, ours_runs[-1]["steps"], test_stride, args.window_scaler
            ))
        ours, peer = summarise(ours_runs), summarise(peer_runs)
        speedup = ours["samples_per_s"] / peer["samples_per_s"] if peer["samples_per_s"] else float("nan")
        rows.append([
            name, f"{ours['params']:,} / {peer['params']:,}", cfg.batch_size, f"{ours['steps']} / {peer['steps']}",
            f"{ours['samples_per_s']:.0f}", f"{peer['samples_per_s']:.0f}", f"{speedup:.2f}x",
            f"{ours['latency_ms']:.1f} / {peer['latency_ms']:.1f}", f"{ours['all_test_s']:.2f} / {peer['all_test_s']:.2f}",
            f"{ours['mse']:.4f} / {peer['mse']:.4f}", f"{ours['mse_range']} / {peer['mse_range']}",
            "yes" if speedup >= 1.5 and ours["mse"] <= peer["mse"] else "no",
        ])
    table = markdown_table(
        ["network", "params ours / nf", "windows/step", "steps ours / nf", "train windows/s ours", "train windows/s nf",
         "speedup", "1-window latency ms ours / nf", "all test windows s ours / nf", "mean test MSE ours / nf",
         "MSE range ours / nf", ">= 1.5x at <= MSE"],
        rows,
    )
    body = (
        f"{data.name} {args.setting} (L={LOOKBACK}, h={horizon}), size preset `{args.size}`, "
        f"{'one epoch capped at 15 s (quick)' if args.quick else f'{args.epochs} epochs of ours'}, no validation, "
        f"window scaler `{args.window_scaler}`, seeds {', '.join(map(str, args.seeds))} (speeds: median over seeds; "
        f"MSE: mean and range, on the protocol's scale).\n\n{table}"
    )
    report(f"Training speed against neuralforecast{' (quick smoke run)' if args.quick else ''}", body, append=args.append)


if __name__ == "__main__":
    main()
