"""End-to-end cost of the main command, and the per-bar cost of the hybrid strategy inside backtrader.

1. Runs ``bt-run --strategy hybrid --from 2020`` (the default preset, bundled NVDA, fresh model store) as a child
   process and records its wall time and peak RSS (target: 5 minutes and 3 GiB on a 2-core CPU).
2. Times backtrader alone on that run's bars: the hybrid strategy reading the run's own precomputed signal lines
   (signals.csv, with the confidence sizer) against the SMA baseline, median of several runs (target: hybrid
   within 1.3x of SMA).

    python bench/e2e.py [--repeats 5] [--run-dir reports/<run-id>] [--no-append]
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from backtests.presets.config import load_config  # noqa: E402
from backtests.run.runner import run_strategy  # noqa: E402
from bench.common import markdown_table, report  # noqa: E402
from feeds.bundled import load_bundled  # noqa: E402
from ground.signals import SIGNAL_LINES  # noqa: E402
from strategies.registry import strategy_spec  # noqa: E402

MAIN_COMMAND = ["bt-run", "--strategy", "hybrid", "--from", "2020"]


def run_main_command(workdir: Path) -> tuple[float, float, int]:
    """Wall seconds, peak RSS in GiB of the child, and its exit code."""
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    exe = Path(sys.executable).parent / "bt-run"
    args = [str(exe), *MAIN_COMMAND[1:], "--reports-dir", str(workdir / "reports"), "--models-dir",
            str(workdir / "models"), "--data", "bundled"]
    t0 = time.perf_counter()
    proc = subprocess.run(args, cwd=workdir, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if proc.returncode != 0:
        print(proc.stderr[-3000:], file=sys.stderr)
    return wall, peak_kib / 2**20, proc.returncode


def per_bar_cost(run_dir: Path, repeats: int) -> list[list[object]]:
    """Seconds per bar of SMA vs hybrid in backtrader, on the main run's bars and its own precomputed signals."""
    signals = pd.read_csv(run_dir / "signals.csv", index_col="date", parse_dates=["date"])
    frame = load_bundled("NVDA").loc[signals.index[0] : signals.index[-1]]
    cfg = load_config("default")
    lines = {"NVDA": signals[list(SIGNAL_LINES)]}
    holds = {"NVDA": lines["NVDA"].assign(action=0.0)}  # same lines and logic, no orders: the per-bar overhead
    timings: dict[str, list[float]] = {"sma": [], "hybrid": [], "hold": []}
    fills = {}
    for _ in range(repeats):
        for name, kwargs in (("sma", {}), ("hybrid", {"signals": lines}), ("hold", {"signals": holds})):
            spec = strategy_spec("sma" if name == "sma" else "hybrid")
            t0 = time.perf_counter()
            outcome = run_strategy(spec, {"NVDA": frame}, cfg, **kwargs)
            timings[name].append(time.perf_counter() - t0)
            fills[name] = len(outcome.fills)
    sma = statistics.median(timings["sma"])
    labels = {"sma": "SMA baseline", "hybrid": "hybrid (the run's signals)", "hold": "hybrid lines, all hold"}
    return [
        [labels[n], len(frame), fills[n], f"{statistics.median(t):.3f}", f"{statistics.median(t) / len(frame) * 1e6:.0f}",
         f"{statistics.median(t) / sma:.2f}x"]
        for n, t in timings.items()
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--run-dir", type=Path, help="reuse this finished run folder instead of running the command")
    parser.add_argument("--no-append", action="store_true")
    args = parser.parse_args()
    body = ""
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = args.run_dir
        if run_dir is None:
            wall, rss, code = run_main_command(Path(tmp))
            body += markdown_table(
                ["command", "exit", "wall s", "peak RSS GiB"],
                [[" ".join(MAIN_COMMAND) + " (fresh model store)", code, f"{wall:.1f}", f"{rss:.2f}"]],
            ) + "\n\nTargets: within 300 s wall and 3 GiB peak RSS.\n\n"
            run_dir = next((Path(tmp) / "reports").iterdir())
        rows = per_bar_cost(run_dir, args.repeats)
    body += markdown_table(["strategy in backtrader", "bars", "fills", "s (median)", "us/bar", "vs SMA"], rows)
    body += f"\n\nMedian of {args.repeats} runs. Target: hybrid within 1.3x of the SMA baseline per bar."
    report("End to end: the main command, and the hybrid strategy's per-bar cost", body, append=not args.no_append)


if __name__ == "__main__":
    main()
