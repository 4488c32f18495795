"""The report page of a real baseline run: every tearsheet chart and figure in report.html and metrics.json, the
summary first, self-contained, and (where Chromium is installed) rendered at a 1,400 px window."""
from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from backtests.cli.run import main as run_main

ROOT = Path(__file__).resolve().parents[3]
TEARSHEET_METRICS = ("omega", "tail_ratio", "recovery_factor", "mtd", "ytd", "one_year", "three_year_ann",
                     "best_year", "worst_year", "avg_drawdown", "avg_drawdown_days")
CHARTS = ("Rolling Sharpe", "Rolling Sortino", "Rolling volatility", "Rolling beta", "End-of-year returns",
          "Monthly return distribution", "Daily returns", "Return quantiles", "5 worst drawdowns",
          "Returns at equal volatility")


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    reports = tmp_path_factory.mktemp("reports")
    result = CliRunner().invoke(run_main, ["--strategy", "sma", "--from", "2019", "--to", "2023-12-31", "--data",
                                           "bundled", "--reports-dir", str(reports)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    (folder,) = list(reports.iterdir())
    return folder


@pytest.mark.slow
def test_tearsheet_in_page_and_metrics(run_folder: Path) -> None:
    doc = json.loads((run_folder / "metrics.json").read_text())
    assert doc["period"]["start"] >= "2019-01-01" and doc["period"]["end"] <= "2023-12-31"
    for name in ("sma", "buyhold", "benchmark"):
        assert set(TEARSHEET_METRICS) <= set(doc["metrics"][name])
    page = (run_folder / "report.html").read_text()
    for title in CHARTS:
        assert title in page, title
    assert page.count("data:image/png;base64,") >= 11  # equity, drawdown and nine tearsheet charts
    summary = page.split("<div class='summary'>")[1].split("</div>")[0]
    assert "test period 2019" in summary and "total_return" in summary and "top-5" not in summary  # chart is an img
    assert "<script" not in page and "http://" not in page and "https://" not in page  # self-contained, offline
    assert "None" not in page


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian chromium not installed (apt-get install chromium)")
def test_page_renders_in_headless_chromium(run_folder: Path, tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("report_screenshot", ROOT / "bench" / "report_screenshot.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "shot.png"
    module.screenshot(run_folder / "report.html", out, height=1200)
    header = out.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    assert int.from_bytes(header[16:20], "big") == module.WIDTH
