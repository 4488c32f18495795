"""The report writer from a fixed outcome: every file of the run folder, and what each holds."""
from __future__ import annotations

import json
import tomllib
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest


def test_every_file_is_written_from_the_record(write_run: Callable[..., Path]) -> None:
    path = write_run("20240101-000000-buyhold-abc123", daily=0.002)
    assert {"report.html", "metrics.json", "trades.csv", "fills.csv", "orders_not_filled.csv", "equity.csv",
            "config.toml", "run.json"} <= {p.name for p in path.iterdir()}
    assert pd.read_csv(path / "fills.csv")["side"].tolist() == ["buy", "sell"]
    doc = json.loads((path / "metrics.json").read_text())
    assert doc["run_id"] == path.name and doc["strategy"] == "buyhold"
    assert doc["metrics"]["buyhold"]["total_return"] == pytest.approx(1.002**29 - 1)
    assert set(doc["metrics"]) == {"buyhold", "benchmark"}
    assert "psr_vs_benchmark" in doc["metrics"]["buyhold"]
    info = json.loads((path / "run.json").read_text())
    assert info["data"]["ACME"]["source"] == "csv" and info["timings_s"] == {"load_s": 0.1}
    assert info["model_versions"] == [] and info["baselines"] == []
    equity = pd.read_csv(path / "equity.csv", index_col="date", parse_dates=["date"])
    assert list(equity.columns) == ["buyhold", "benchmark", "drawdown", "exposure"] and len(equity) == 30
    trades = pd.read_csv(path / "trades.csv")
    assert trades["pnl_net"].tolist() == [98.95]
    assert tomllib.loads((path / "config.toml").read_text())["run"]["symbols"] == ["ACME"]
    page = (path / "report.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "data:image/png;base64," in page and "http://" not in page


def test_no_html_when_the_config_says_so(write_run: Callable[..., Path]) -> None:
    path = write_run("20240101-000000-buyhold-def456", **{"report.html": False})
    assert not (path / "report.html").exists() and (path / "metrics.json").is_file()
