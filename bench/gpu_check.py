"""GPU check: one walk-forward fold of the ``adr`` preset (backtests/adr.toml) trained on CUDA, with bf16 autocast
where the GPU supports it, and on the CPU; prints the time and the fold's validation MSE for each.

The data are the bundled NVDA daily bars; the fold is the one whose test window starts at ``--test-start`` (the
preset's expanding scheme, 63-bar test window, 252 validation bars, embargo 5). The GPU part trains exactly as
the preset says (up to 100 epochs, early stopping). The CPU part would take hours on a laptop at that size, so by
default it is capped (``--cpu-epochs``, ``--cpu-seconds`` per member) and the output says so: its MSE then is
that of a model trained less, not a like-for-like accuracy figure. Without CUDA the script says so and runs the
CPU part only.

    python bench/gpu_check.py [--test-start 2020-01-02] [--cpu-epochs 1] [--cpu-seconds 60] [--no-append]
"""
from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
import time
from pathlib import Path

import pandas as pd
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from backtests.presets.config import load_config  # noqa: E402
from bench.common import markdown_table, report, set_threads  # noqa: E402
from feeds.prices import load_prices  # noqa: E402
from ml.gm.config import GMEnsembleConfig  # noqa: E402
from ml.gm.runner import run_gm_walk_forward  # noqa: E402
from ml.gm.walkforward import WalkForwardConfig  # noqa: E402

log = logging.getLogger("bench.gpu_check")


def one_fold(frame: pd.DataFrame, test_start: pd.Timestamp, wf: WalkForwardConfig, ens: GMEnsembleConfig,
             device: str) -> dict[str, object]:
    """Train and evaluate the single fold that starts at ``test_start`` on ``device``."""
    ens = dataclasses.replace(ens, train=dataclasses.replace(ens.train, device=device),
                              warm_train=dataclasses.replace(ens.warm_train, device=device))
    index = frame.index
    start = index[index.searchsorted(test_start)]
    end = index[min(len(index) - 1, index.searchsorted(start) + wf.retrain_every - 1)]
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    started = time.perf_counter()
    result = run_gm_walk_forward(frame, test_start=start, test_end=end, wf=wf, ens=ens)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    row = result.folds.iloc[0]
    epochs = ", ".join(f"{m} {int(row[f'epochs_{m}'])}" for m in ens.members)
    return {"seconds": seconds, "val_mse": float(row["val_mse"]), "test_mse": float(row["test_mse"]),
            "epochs": epochs, "window": f"{start.date()}..{end.date()}", "n_train": int(row["n_train"])}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--test-start", default="2020-01-02", help="first test bar of the fold (default 2020-01-02)")
    p.add_argument("--symbol", default="NVDA")
    p.add_argument("--cpu-epochs", type=int, default=1, help="epoch cap for the CPU part (0: the preset's own)")
    p.add_argument("--cpu-seconds", type=float, default=60.0,
                   help="training-time cap per member for the CPU part (0: none)")
    p.add_argument("--cpu-threads", type=int, default=None, help="torch threads on the CPU (default: all)")
    p.add_argument("--skip-cpu", action="store_true", help="run the CUDA part only")
    p.add_argument("--no-append", action="store_true", help="print only; do not append to docs/benchmarks.md")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)
    if args.cpu_threads:
        set_threads(args.cpu_threads)  # so that the machine line reports the threads the CPU part used
    cfg = load_config("adr")
    wf, ens = cfg.walkforward, dataclasses.replace(cfg.gm, cpu_threads=args.cpu_threads)
    ens = dataclasses.replace(ens, train=dataclasses.replace(ens.train, seed=cfg.run.seed),
                              warm_train=dataclasses.replace(ens.warm_train, seed=cfg.run.seed))
    frame = load_prices(args.symbol, source="bundled").frame
    test_start = pd.Timestamp(args.test_start)

    rows, notes = [], []
    if torch.cuda.is_available():
        name = torch.cuda.get_device_name(0)
        bf16 = torch.cuda.is_bf16_supported()
        log.info("CUDA part on %s (bf16 autocast %s)", name, "on" if bf16 else "off: not supported")
        r = one_fold(frame, test_start, wf, ens, "cuda")
        rows.append([f"cuda ({name})", "on" if bf16 else "off", f"preset ({ens.train.max_epochs})", r["epochs"],
                     r["window"], r["n_train"], r["seconds"], r["val_mse"], r["test_mse"]])
    else:
        notes.append("CUDA is not available on this machine: the GPU part did not run.")
        print("CUDA is not available on this machine: running the CPU part only.", file=sys.stderr)
    if not args.skip_cpu:
        train = ens.train
        cap = []
        if args.cpu_epochs:
            train = dataclasses.replace(train, max_epochs=args.cpu_epochs, warmup_epochs=0)
            cap.append(f"max {args.cpu_epochs} epoch(s)")
        if args.cpu_seconds:
            train = dataclasses.replace(train, max_train_seconds=args.cpu_seconds)
            cap.append(f"{args.cpu_seconds:g} s per member")
        capped = dataclasses.replace(ens, train=train)
        if cap:
            notes.append(f"CPU part capped ({', '.join(cap)}): its MSE is of a model trained less than the preset's.")
        r = one_fold(frame, test_start, wf, capped, "cpu")
        rows.append(["cpu", "off", ", ".join(cap) or f"preset ({ens.train.max_epochs})", r["epochs"], r["window"],
                     r["n_train"], r["seconds"], r["val_mse"], r["test_mse"]])
    body = markdown_table(
        ["device", "bf16 autocast", "epochs", "epochs run", "test window", "train windows", "seconds", "val MSE",
         "test MSE"], rows)
    body += "\n\n" + "\n".join(f"- {n}" for n in notes) if notes else ""
    report(f"GPU check: one adr-preset fold ({args.symbol}, bundled data)", body, append=not args.no_append)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
