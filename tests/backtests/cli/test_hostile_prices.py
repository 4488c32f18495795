"""Bad prices through bt-run: refused with one line and exit 2 and no run folder, or, for a split the user accepts,
served and recorded in run.json and the report."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from backtests.cli.run import main as run_main


def prices(path: Path, *, close_at: dict[int, float] | None = None, start: str = "2023-01-02") -> Path:
    index = pd.bdate_range(start, periods=40, name="date")
    close = 100.0 + np.arange(40, dtype=float)
    for i, value in (close_at or {}).items():
        close[i:] = value if np.isfinite(value) else close[i:]
        close[i] = value
    frame = pd.DataFrame({"open": close, "high": close, "low": close, "close": close, "volume": 1e6}, index=index)
    frame.to_csv(path)
    return path


def run(tmp_path: Path, csv: Path, *extra: str):
    args = ["--strategy", "buyhold", "--csv", str(csv), "--symbol", "ACME", "--reports-dir",
            str(tmp_path / "reports"), "--set", "report.baselines=[]", *extra]
    return CliRunner().invoke(run_main, args, catch_exceptions=False)


@pytest.mark.parametrize("bad", [float("inf"), 1e308])
def test_a_non_finite_or_absurd_close_is_refused_with_the_row_and_no_run_folder(tmp_path: Path, bad: float) -> None:
    result = run(tmp_path, prices(tmp_path / "p.csv", close_at={10: bad}))
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "row" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "reports").exists() or not any((tmp_path / "reports").iterdir())


def test_dates_in_the_future_are_refused(tmp_path: Path) -> None:
    result = run(tmp_path, prices(tmp_path / "p.csv", start="2099-01-02"))
    assert result.exit_code == 2 and "future" in result.stderr.lower()


def test_an_unadjusted_split_is_refused_unless_accepted_and_then_recorded(tmp_path: Path) -> None:
    csv = prices(tmp_path / "p.csv", close_at={20: 12.0})
    refused = run(tmp_path, csv)
    assert refused.exit_code == 2 and "--accept-jumps" in refused.stderr
    accepted = run(tmp_path, csv, "--accept-jumps")
    assert accepted.exit_code == 0, accepted.output
    folder = next((tmp_path / "reports").iterdir())
    notes = json.loads((folder / "run.json").read_text())["data"]["ACME"]["notes"]
    assert any("accepted 1 one-day close move" in n and "2023-01-30" in n for n in notes)
    assert "accepted 1 one-day close move" in (folder / "report.html").read_text()
