"""End to end through the command line: baseline runs write a complete run folder; user errors are one line, exit 2."""
from __future__ import annotations

import csv
import json
import tomllib
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from backtests.cli.report import main as report_main
from backtests.cli.run import main as run_main


def run_cli(args: list[str], tmp_path: Path):
    return CliRunner().invoke(run_main, [*args, "--reports-dir", str(tmp_path / "reports")], catch_exceptions=False)


def only_run(tmp_path: Path) -> Path:
    runs = [p for p in (tmp_path / "reports").iterdir() if p.is_dir()]
    assert len(runs) == 1
    return runs[0]


@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["buyhold", "sma"])
def test_baseline_run_writes_full_report(strategy: str, tmp_path: Path) -> None:
    result = run_cli(["--strategy", strategy, "--from", "2020", "--to", "2021-12-31", "--data", "bundled"], tmp_path)
    assert result.exit_code == 0, result.output
    assert "total_return" in result.stdout and "report:" in result.stdout
    run = only_run(tmp_path)
    assert {"report.html", "metrics.json", "trades.csv", "equity.csv", "config.toml", "run.json"} <= {
        p.name for p in run.iterdir()
    }
    doc = json.loads((run / "metrics.json").read_text())
    ours, bench = doc["metrics"][strategy], doc["metrics"]["benchmark"]
    for key in ("total_return", "cagr", "volatility_ann", "sharpe", "sortino", "calmar", "max_drawdown",
                "max_drawdown_days", "win_rate", "profit_factor", "exposure_time", "turnover_ann", "trades"):
        assert key in ours
    assert bench["total_return"] > 1.0  # NVDA more than doubled over 2020-2021
    equity = pd.read_csv(run / "equity.csv", index_col="date", parse_dates=["date"])
    assert equity.index[0] >= pd.Timestamp("2020-01-01") and equity.index[-1] <= pd.Timestamp("2021-12-31")
    assert ours["total_return"] == pytest.approx(equity[strategy].iloc[-1] / equity[strategy].iloc[0] - 1)
    html = (run / "report.html").read_text()
    assert "data:image/png;base64," in html and "Monthly returns" in html and "<script" not in html
    assert "http://" not in html and "https://" not in html  # opens offline
    config = tomllib.loads((run / "config.toml").read_text())
    assert config["run"]["strategy"] == strategy and config["costs"]["commission_bps"] == 5.0
    info = json.loads((run / "run.json").read_text())
    assert info["data"]["NVDA"]["source"] == "bundled" and len(info["data"]["NVDA"]["sha256"]) == 64
    with open(run / "trades.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == int(ours["trades"])
    if strategy == "buyhold":
        assert ours["exposure_time"] > 0.95 and rows[0]["status"] == "open"

    shown = CliRunner().invoke(report_main, ["show", run.name, "--reports-dir", str(tmp_path / "reports")])
    assert shown.exit_code == 0 and "sharpe" in shown.stdout


@pytest.mark.slow
def test_compare_two_runs(tmp_path: Path) -> None:
    for strategy in ("buyhold", "sma"):
        assert run_cli(["--strategy", strategy, "--from", "2021", "--data", "bundled", "--to", "2021-12-31"],
                       tmp_path).exit_code == 0
    runs = sorted(p.name for p in (tmp_path / "reports").iterdir())
    out = tmp_path / "cmp.html"
    result = CliRunner().invoke(report_main, ["compare", *runs, "--reports-dir", str(tmp_path / "reports"),
                                              "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "run.strategy" in result.stdout  # the differing config key is listed
    page = out.read_text()
    assert all(r in page for r in runs) and "data:image/png;base64," in page


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--strategy", "hybird"], "unknown strategy 'hybird'"),
        (["--from", "2020-02-31"], "bad date '2020-02-31'"),
        (["--csv", "/nonexistent/prices.csv", "--symbol", "ACME"], "/nonexistent/prices.csv"),
        (["--symbol", "NOSUCHSYMBOL", "--data", "bundled"], "NOSUCHSYMBOL"),
        (["--set", "sma.fast=500"], "fast < slow"),
        (["--from", "2024", "--to", "2023"], "must be after the start"),
    ],
)
def test_user_errors_are_one_line_exit_2(args: list[str], message: str, tmp_path: Path) -> None:
    result = run_cli(args, tmp_path)
    assert result.exit_code == 2, result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith("Error")]
    assert len(lines) == 1 and message in lines[0]
    assert "Traceback" not in result.output


def test_help_documents_every_option() -> None:
    result = CliRunner().invoke(run_main, ["--help"])
    assert result.exit_code == 0
    for option in ("--strategy", "--from", "--to", "--symbol", "--config", "--data", "--csv", "--device", "--set"):
        assert option in result.stdout


def test_same_second_runs_get_distinct_folders(tmp_path: Path) -> None:
    from backtests.report.folder import RunFolder

    first = RunFolder(tmp_path, "20240101-000000-sma-abcdef")
    second = RunFolder(tmp_path, "20240101-000000-sma-abcdef")
    assert first.path != second.path and len(first.run_id) == len(second.run_id)
