"""`bt-report compare`: metrics side by side with differences, warnings when runs are not like for like, the model
versions and config keys that differ, and "-" (never "None") for what a run lacks."""
from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from backtests.cli.report import main as report_main
from backtests.report.folder import RunFolder


def make_run(root: Path, strategy: str, *, start: str = "2024-01-02", symbol: str = "NVDA", commission: float = 5.0,
             source: str = "bundled", models: tuple[str, ...] = (), metrics: dict | None = None) -> str:
    folder = RunFolder(root, f"20240101-000000-{strategy}-abcdef")
    folder.write_json("metrics.json", {"run_id": folder.run_id, "strategy": strategy,
                                       "metrics": {strategy: metrics or {"total_return": 0.1, "sharpe": 1.0}}})
    folder.write_json("run.json", {"data": {symbol: {"source": source}}, "model_versions": list(models)})
    folder.write_text("config.toml", f'[run]\nstrategy = "{strategy}"\nsymbols = ["{symbol}"]\n\n'
                                     f"[costs]\ncommission_bps = {commission}\n")
    folder.write_text("equity.csv", f"date,{strategy}\n{start},100\n2024-06-28,110\n")
    folder.commit()
    return folder.run_id


def test_like_for_like_runs_show_differences_and_no_warnings(tmp_path: Path) -> None:
    a = make_run(tmp_path, "sma", metrics={"total_return": 0.10, "sharpe": 1.0, "trades": 4.0})
    b = make_run(tmp_path, "hybrid", models=("GM/gm-nvda/abc",),
                 metrics={"total_return": 0.25, "sharpe": 1.5, "deflated_sharpe": 0.4})
    result = CliRunner().invoke(report_main, ["compare", a, b, "--reports-dir", str(tmp_path),
                                              "--out", str(tmp_path / "c.html")])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "warning" not in out and "None" not in out
    row = next(ln for ln in out.splitlines() if ln.startswith("total_return"))
    assert "10.00%" in row and "25.00%" in row and "+15.00%" in row
    trades = next(ln for ln in out.splitlines() if ln.startswith("trades"))
    assert trades.split()[1] == "4" and trades.split()[2] == "-"  # a count, and "-" where a run lacks it
    assert "run.strategy" in out and "GM/gm-nvda/abc" in out and f"{a}: (none)" in out
    page = (tmp_path / "c.html").read_text()
    assert "None" not in page.replace("None: same", "") and "Δ" in page


def test_warns_when_periods_symbols_costs_or_sources_differ(tmp_path: Path) -> None:
    a = make_run(tmp_path, "sma")
    b = make_run(tmp_path, "sma", start="2023-01-03", symbol="AMD", commission=1.0, source="yfinance")
    result = CliRunner().invoke(report_main, ["compare", a, b, "--reports-dir", str(tmp_path),
                                              "--out", str(tmp_path / "c.html")])
    assert result.exit_code == 0, result.output
    warnings = [ln for ln in result.output.splitlines() if ln.startswith("warning:")]
    assert [w.split(":")[1].strip() for w in warnings] == ["periods differ", "symbols differ", "costs differ",
                                                            "data sources differ"]
    assert "warning: periods differ" in (tmp_path / "c.html").read_text()


def test_exact_id_resolves_in_compare_and_show(tmp_path: Path) -> None:
    a = make_run(tmp_path, "sma")
    b = make_run(tmp_path, "sma")
    for run_id in (a, b):
        shown = CliRunner().invoke(report_main, ["show", run_id, "--reports-dir", str(tmp_path)])
        assert shown.exit_code == 0, shown.output
    ambiguous = CliRunner().invoke(report_main, ["show", "20240101-000000-sma", "--reports-dir", str(tmp_path)])
    assert ambiguous.exit_code == 2 and "several runs" in ambiguous.output
