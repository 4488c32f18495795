"""A backtest uses a sentiment version trained before its bars when one exists, and says in-sample otherwise."""
from __future__ import annotations

from datetime import date, datetime, timezone
from pathlib import Path

import pandas as pd

from backtests.presets.config import load_config
from backtests.signals.news import model_version_for, sentiment_signals
from feeds.news.archive import NewsArchive
from feeds.news.items import NewsItem
from ml.sentiment.train import TrainConfig, train_and_save
from ml.store import ModelStore
from tests.ml.sentiment.conftest import tiny_rows

FAST = {"fallback": True, "hidden": 8, "dropout": 0.1, "lr": 1e-2, "max_epochs": 2, "patience": 1, "buckets": 1 << 10}


def _train(tmp_path: Path, day: str, name: str) -> str:
    csv = tmp_path / f"{name}.csv"
    csv.write_text("\n".join(["id,date,lang,text,label", *(f"{i},{day},{lang},{text},{label}" for i, (lang, text, label)
                                                         in enumerate(tiny_rows()))]) + "\n", encoding="utf-8")
    version, _ = train_and_save(csv, TrainConfig(**FAST), tmp_path / "store", name="sentiment", cache_path=None)
    return version.version


def test_the_version_trained_before_the_start_is_chosen_and_the_report_says_in_sample_otherwise(tmp_path: Path) -> None:
    early = _train(tmp_path, "2019-06-28", "early")
    late = _train(tmp_path, "2024-06-28", "late")
    store = ModelStore(tmp_path / "store")
    archive = tmp_path / "news.sqlite"
    with NewsArchive(archive) as news:
        news.add([NewsItem(id="n1", published=datetime(2024, 3, 4, 14, tzinfo=timezone.utc), title="Acme beats estimates",
                           summary="", source="wire", link="", lang="en", symbols=("ACME",),
                           fetched_at=datetime(2024, 3, 4, 14, tzinfo=timezone.utc))])
    bars = pd.bdate_range("2024-03-01", periods=5)
    keys = {"sentiment.archive": str(archive), "sentiment.dedup": False, "run.models_dir": str(tmp_path / "store")}
    cfg = load_config("default", keys)
    assert model_version_for(cfg, store, date(2024, 3, 1)) == early
    assert model_version_for(cfg, store, date(2019, 1, 2)) == "latest"  # nothing earlier: the newest, flagged
    out = sentiment_signals(cfg, "ACME", bars, store)
    assert out.model_version.endswith(early)
    assert out.summary["in_sample"].startswith("sentiment out of sample")
    assert out.summary["vendor_timestamped_share"] == 0.0  # collected, not imported
    pinned = load_config("default", {**keys, "sentiment.point_in_time": False})
    out = sentiment_signals(pinned, "ACME", bars, store)
    assert out.model_version.endswith(late) and out.summary["in_sample"].startswith("sentiment in-sample for 2024-03-01")
