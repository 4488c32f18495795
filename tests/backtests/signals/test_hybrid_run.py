"""End to end: the hybrid strategy on a small window, with news from a local archive and a trained sentiment model."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from backtests.cli.run import main as run_main

FAST = [
    "--set", "gm.train.max_epochs=1", "--set", "gm.warm_train.max_epochs=1", "--set", "walkforward.max_train_bars=400",
    "--set", "walkforward.min_train_bars=300", "--set", "walkforward.retrain_every=42",
]


def run(tmp_path: Path, *args: str):
    return CliRunner().invoke(
        run_main,
        [*args, "--data", "bundled", "--reports-dir", str(tmp_path / "reports"), "--models-dir",
         str(tmp_path / "models"), "--set", f"sentiment.archive='{tmp_path / 'news.sqlite'}'", *FAST],
        catch_exceptions=False,
    )


@pytest.mark.slow
def test_hybrid_run_writes_ml_report(tmp_path: Path) -> None:
    result = run(tmp_path, "--strategy", "hybrid", "--from", "2024-06", "--to", "2024-10-31")
    assert result.exit_code == 0, result.output
    folder = next((tmp_path / "reports").iterdir())
    doc = json.loads((folder / "metrics.json").read_text())
    assert set(doc["metrics"]) == {"hybrid", "buyhold", "sma", "exposure_matched", "benchmark"}
    main = doc["metrics"]["hybrid"]
    assert doc["metrics"]["exposure_matched"]["matched_weight"] == pytest.approx(main["exposure_mean"])
    assert {"vs_exposure_information_ratio", "vs_exposure_active_p", "deflated_sharpe", "dsr_trials", "fills"} <= set(main)
    assert main["dsr_trials"] == 1.0 and doc["trials"]["n_configs"] == 1
    nvda = doc["symbols"]["NVDA"]
    gm_skill = nvda["skill"]["GM"]["all"]
    assert {"rank_ic", "rank_ic_lo", "rank_ic_hi", "dir_edge", "bss", "cal_slope", "ece"} <= set(gm_skill)
    assert gm_skill["rank_ic_lo"] <= gm_skill["rank_ic"] <= gm_skill["rank_ic_hi"]
    assert len(nvda["skill"]["GM"]) == len(nvda["folds"]) + 1  # per fold and pooled
    assert nvda["gm_only_no_news"] is True and "sentiment" not in nvda["skill"]
    assert all("gm_opinion" in f and "no_opinion_reason" in f for f in nvda["folds"])
    assert len(nvda["folds"]) >= 3
    assert nvda["leakage_audit"]["passed"] is True
    assert nvda["fusion"]["gm_only_share"] == 1.0  # no archive: the GM decided every bar alone
    signals = pd.read_csv(folder / "signals.csv", index_col="date", parse_dates=["date"])
    assert signals.index[0] >= pd.Timestamp("2024-06-01") and signals["gm_prob"].between(0, 1).all()
    assert signals["sent_score"].isna().all()
    info = json.loads((folder / "run.json").read_text())
    assert len(info["model_versions"]) == len(nvda["folds"])  # one stored ensemble version per fold
    for ref in info["model_versions"]:
        kind, name, version = ref.split("/")
        assert (tmp_path / "models" / kind / name / version / "weights.safetensors").is_file()
    html = (folder / "report.html").read_text()
    for section in ("Walk-forward folds", "hit 0.10-0.20", "Calibration", "Leakage audit", "PASS", "Fusion of GM and sentiment",
                    "News coverage", "Forecast skill", "GM: ", "95% CI", "GM only: no news in the archive for 2024-06-03..",
                    "test period 2024-06-03..2024-10-31", "Deflated Sharpe", "settings that differ from the defaults",
                    "fusion.no_opinion"):
        assert section in html, section

    again = run(tmp_path, "--strategy", "hybrid", "--from", "2024-06", "--to", "2024-10-31")
    assert again.exit_code == 0
    second = max((tmp_path / "reports").iterdir())
    assert json.loads((second / "run.json").read_text())["model_versions"] == info["model_versions"]  # same ids
    # the same configuration again is the same trial: N stays 1
    assert json.loads((second / "metrics.json").read_text())["trials"]["n_configs"] == 1


def test_too_little_history_is_one_line(tmp_path: Path) -> None:
    result = run(tmp_path, "--strategy", "gm", "--from", "1999-06", "--to", "1999-12-31")
    assert result.exit_code == 2
    errors = [ln for ln in result.stderr.splitlines() if ln.startswith("Error")]
    assert len(errors) == 1 and "bars" in errors[0]


def write_archive(path: Path) -> None:
    """A few dated NVDA headlines inside the test window, one of them published after a bar's cutoff."""
    from datetime import datetime, timezone

    from feeds.news.archive import NewsArchive
    from feeds.news.items import NewsItem

    rows = [
        ("a1", "2024-07-01T12:00:00", "Nvidia beats estimates and raises its outlook", "en"),
        ("a2", "2024-07-15T13:00:00", "Nvidia shares plunge after export ban widens", "en"),
        ("a3", "2024-08-01T14:00:00", "英伟达季度净利润同比大增，超出市场预期", "zh"),
        ("a4", "2024-08-20T21:30:00", "Nvidia misses revenue forecast, stock falls", "en"),
    ]
    items = [
        NewsItem(id=i, published=datetime.fromisoformat(t).replace(tzinfo=timezone.utc), title=title, summary="",
                 source="test", link=f"https://example.com/{i}", lang=lang, symbols=("NVDA",),
                 fetched_at=datetime.fromisoformat(t).replace(tzinfo=timezone.utc))
        for i, t, title, lang in rows
    ]
    with NewsArchive(path) as archive:
        archive.add(items)


@pytest.mark.slow
def test_sentiment_strategy_reads_the_archive(tmp_path: Path) -> None:
    from ml.sentiment.train import TrainConfig, train_and_save

    data = Path(__file__).resolve().parents[3] / "ml" / "sentiment" / "data" / "headlines_train.csv"
    small = tmp_path / "train.csv"
    frame = pd.read_csv(data)
    frame.groupby(["lang", "label"]).head(40).to_csv(small, index=False)
    train_and_save(small, TrainConfig(fallback=True, max_epochs=30, patience=5), tmp_path / "models", name="sentiment")
    write_archive(tmp_path / "news.sqlite")

    result = run(tmp_path, "--strategy", "sentiment", "--from", "2024-06", "--to", "2024-09-30")
    assert result.exit_code == 0, result.output
    folder = next((tmp_path / "reports").iterdir())
    signals = pd.read_csv(folder / "signals.csv", index_col="date", parse_dates=["date"])
    # Nothing before the first item; 2024-08-20 21:30 UTC is after that day's 16:00 New York cutoff.
    assert signals.loc[:"2024-06-28", "sent_score"].isna().all()
    assert signals.loc["2024-07-01", "sent_count"] > 0
    assert signals.loc["2024-08-20", "sent_count"] < signals.loc["2024-08-21", "sent_count"] + 1
    assert signals["gm_prob"].isna().all()  # sentiment alone: no GM was trained
    doc = json.loads((folder / "metrics.json").read_text())
    assert doc["symbols"]["NVDA"]["news"]["items"] == 4
    info = json.loads((folder / "run.json").read_text())
    assert any(v.startswith("LLM/sentiment/") for v in info["model_versions"])
    assert "News items per month" in (folder / "report.html").read_text()
