"""Config types are torch-free: --help of every command and a buy-and-hold run never import torch."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

COMMANDS = ["backtests.cli.run", "backtests.cli.report", "backtests.cli.news"]


def heavy_modules_after(code: str) -> str:
    probe = f"{code}\nimport sys\nprint(sorted(m for m in ('torch', 'transformers') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize("module", COMMANDS)
def test_help_imports_no_torch(module: str) -> None:
    code = (f"import {module} as cli\ntry:\n    cli.main(['--help'])\nexcept SystemExit as exc:\n"
            "    assert exc.code == 0, exc.code")
    assert heavy_modules_after(code) == "[]"


@pytest.mark.slow
def test_a_buy_and_hold_run_imports_no_torch(tmp_path: Path) -> None:
    code = (
        "from backtests.cli.run import main\n"
        "try:\n"
        f"    main(['--strategy', 'buyhold', '--from', '2020', '--to', '2020-12-31', '--data', 'bundled', "
        f"'--reports-dir', {str(tmp_path)!r}])\n"
        "except SystemExit as exc:\n"
        "    assert exc.code in (0, None), exc.code\n"
    )
    assert heavy_modules_after(code) == "[]"
