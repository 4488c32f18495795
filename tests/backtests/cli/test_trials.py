"""``bt-report trials``: lists the ledger, adds trials made elsewhere, counts configurations, one-line errors."""
from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from backtests.cli.report import main as report_main
from backtests.report.trials import Trial, TrialLedger, ledger_path


def test_trials_lists_adds_and_counts(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    TrialLedger(ledger_path(reports)).record([Trial("run-a", "hybrid", "NVDA", "2020-01-02", "2025-02-14", "h1",
                                                    0.05, 0.0, 3.0, 1283)])
    extra = tmp_path / "elsewhere.csv"
    extra.write_text("run_id,strategy,symbols,start,end,config_hash,sharpe,skew,kurtosis,n\n"
                     "nb-1,gm,NVDA,2021-01-04,2024-12-31,h2,0.02,0.1,4.0,1000\n")
    result = CliRunner().invoke(report_main, ["trials", "--reports-dir", str(reports), "--add", str(extra),
                                              "--symbol", "NVDA", "--from", "2022-01-01", "--to", "2023-01-01"])
    assert result.exit_code == 0, result.output
    assert "added 1 new trials" in result.stdout and "run-a" in result.stdout and "elsewhere.csv" in result.stdout
    assert "N = 2 distinct configurations" in result.stdout


def test_trials_bad_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(report_main, ["trials", "--reports-dir", str(tmp_path / "reports"), "--add",
                                              str(tmp_path / "nope.csv")])
    assert result.exit_code == 2 and result.stderr.startswith("Error: cannot read trials file")
    assert "Traceback" not in result.output


def test_empty_ledger_says_so(tmp_path: Path) -> None:
    result = CliRunner().invoke(report_main, ["trials", "--reports-dir", str(tmp_path / "reports")])
    assert result.exit_code == 0 and "no trials recorded" in result.stdout
