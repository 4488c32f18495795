"""bt-paper's bad input: one line naming what, where and how to fix it, exit code 2, nothing written."""
from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from backtests.cli.paper import main


@pytest.mark.parametrize(("args", "says"), [
    (["--strategy", "sma"], "does not trade signals"),
    (["--strategy", "hybird"], "did you mean"),
    (["--interval", "7m"], "unknown bar interval"),
    (["--exchange", "XNOPE"], "unknown exchange calendar"),
    (["--until", "next tuesday"], "bad time"),
    (["--set", "costs.commission_bps=-1"], "commission_bps"),
])
def test_bad_input_is_one_line_and_exit_2(args: list[str], says: str, tmp_path: Path) -> None:
    journal = tmp_path / "j.sqlite"
    result = CliRunner().invoke(main, [*args, "--data", "bundled", "--journal", str(journal), "--offline"])
    assert result.exit_code == 2, result.output
    assert says in result.output and "Traceback" not in result.output
    assert len([line for line in result.output.splitlines() if line.startswith("Error")]) == 1
    assert not journal.exists()


def test_status_and_export_refuse_a_file_that_is_not_a_journal(tmp_path: Path) -> None:
    other = tmp_path / "other.sqlite"
    other.write_bytes(b"not a database at all, just text" * 10)
    for command in (["status"], ["export", "--reports-dir", str(tmp_path / "reports")]):
        result = CliRunner().invoke(main, [*command, "--journal", str(other)])
        assert result.exit_code == 2 and "cannot open the paper journal" in result.output, result.output
    assert not (tmp_path / "reports").exists()
