"""Wall time of ``--help`` for every command and sub-command, each in a fresh process (median of 3).

Usage: python bench/cli_help_speed.py. Prints a table (machine, command, figures); the target is under 1 s.
"""
from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = {
    "bt-run": ("run", [[]]),
    "bt-report": ("report", [[], ["list"], ["show"], ["compare"]]),
    "bt-models": ("models", [[], ["list"], ["show"], ["export"], ["prune"]]),
    "bt-train": ("train", [[], ["gm"], ["sentiment"]]),
    "bt-news": ("news", [[], ["collect"], ["import"], ["list"], ["embed"], ["search"], ["similar"]]),
}


def timed(module: str, args: list[str]) -> float:
    code = f"from backtests.cli.{module} import main; main()"
    times = []
    for _ in range(3):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code, *args, "--help"], cwd=ROOT, check=True, capture_output=True,
                       env={**os.environ, "HF_HUB_OFFLINE": "1"})
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print("| command | --help wall time (median of 3) |\n|---|---|")
    for name, (module, subs) in COMMANDS.items():
        for sub in subs:
            print(f"| {' '.join([name, *sub])} --help | {timed(module, sub):.2f} s |")


if __name__ == "__main__":
    main()
