"""Helpers shared by the benchmark scripts: where the data lives, what machine ran, tables, and the results log.

Every benchmark prints a Markdown table with the machine and the exact command, and appends the same section to
docs/benchmarks.md so that results stay comparable over time.
"""
from __future__ import annotations

import logging
import os
import platform
import shlex
import sys
import warnings
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
BENCHMARKS_MD = REPO / "docs" / "benchmarks.md"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gib() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                return f"{int(line.split()[1]) / 1024**2:.0f} GiB"
    except OSError:
        pass
    return "? GiB"


def set_threads(n: int) -> None:
    """Fix torch's intra-op threads. On a shared 2-core machine two OpenMP threads per process thrash when the
    cores are busy (small-network training ran 7-70x slower than with one thread), so benchmarks pin this."""
    import torch

    torch.set_num_threads(n)


def machine_description() -> str:
    """One line: CPU, cores, memory, GPU if any, Python and torch versions."""
    import torch

    gpu = f", GPU {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ""
    return (
        f"{_cpu_model()}, {os.cpu_count()} logical cores (torch threads {torch.get_num_threads()}), "
        f"{_memory_gib()} RAM{gpu}; Python {platform.python_version()}, torch {torch.__version__}"
    )


def command_line() -> str:
    """The command that ran this script, as a user would retype it from the repository root."""
    script = Path(sys.argv[0]).resolve()
    try:
        script_s = str(script.relative_to(REPO))
    except ValueError:
        script_s = str(script)
    return " ".join(["python", shlex.quote(script_s), *(shlex.quote(a) for a in sys.argv[1:])])


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub Markdown table; floats print with 4 decimals, None as a dash."""

    def cell(v: object) -> str:
        if v is None:
            return "-"
        if isinstance(v, float):
            return f"{v:.4f}"
        return str(v)

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def report(title: str, body: str, *, append: bool = True, path: Path = BENCHMARKS_MD) -> str:
    """Print a result section (title, date, machine, command, body) and append it to docs/benchmarks.md."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    section = (
        f"## {title}\n\n"
        f"- date: {stamp}\n- machine: {machine_description()}\n- command: `{command_line()}`\n\n{body.rstrip()}\n"
    )
    print(section)
    if append:
        path.parent.mkdir(parents=True, exist_ok=True)
        head = "" if path.exists() else "# Benchmarks\n\nResults appended by the scripts in bench/ (newest last).\n"
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(f"{head}\n{section}")
    return section


def setup_peer_logging() -> None:
    """Progress on stderr with times; neuralforecast's lightning chatter (logs and its own warnings) kept quiet."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)
    for noisy in ("pytorch_lightning", "lightning", "lightning.pytorch", "lightning_fabric"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="pytorch_lightning")
