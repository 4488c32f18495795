"""Training cutoffs of stored sentiment versions and the choice of a version for a backtest period."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from ml.errors import IntegrityError
from ml.sentiment.cutoff import (
    in_sample_note,
    in_sample_period,
    model_cutoff,
    training_cutoff,
    version_before,
)
from ml.sentiment.train import TrainConfig, train_and_save
from ml.store import ModelStore

from .conftest import tiny_rows

FAST = {"fallback": True, "hidden": 8, "dropout": 0.1, "lr": 1e-2, "max_epochs": 2, "patience": 1, "buckets": 1 << 10}


def _dated_csv(path: Path, day: str) -> Path:
    lines = ["id,date,lang,text,label", *(f"{i},{day},{lang},{text},{label}"
                                         for i, (lang, text, label) in enumerate(tiny_rows()))]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_versions_record_their_cutoff_and_the_newest_before_a_date_is_chosen(tmp_path: Path) -> None:
    store_root = tmp_path / "store"
    csv = _dated_csv(tmp_path / "train.csv", "2021-06-30")
    old, _ = train_and_save(csv, TrainConfig(**FAST), store_root, name="s", cache_path=None,
                            until=date(2021, 12, 31))
    csv2 = _dated_csv(tmp_path / "train2.csv", "2023-03-31")
    new, _ = train_and_save(csv2, TrainConfig(**FAST), store_root, name="s", cache_path=None)
    store = ModelStore(store_root)
    assert model_cutoff(store, "s", old.version) == date(2021, 6, 30)
    assert model_cutoff(store, "s", new.version) == date(2023, 3, 31)
    picked = version_before(store, date(2022, 1, 1), "s")
    assert picked is not None and picked.version.version == old.version and picked.cutoff == date(2021, 6, 30)
    assert version_before(store, date(2024, 1, 1), "s").version.version == new.version  # type: ignore[union-attr]
    assert version_before(store, date(2021, 6, 30), "s") is None  # strictly before: same-day rows may leak


def test_in_sample_period_and_note() -> None:
    cutoff = date(2023, 3, 31)
    assert in_sample_period(cutoff, date(2022, 1, 1), date(2024, 1, 1)) == (date(2022, 1, 1), cutoff)
    assert in_sample_period(cutoff, date(2023, 4, 1), date(2024, 1, 1)) is None
    assert in_sample_period(None, date(2023, 4, 1), date(2024, 1, 1)) == (date(2023, 4, 1), date(2024, 1, 1))
    assert in_sample_note(cutoff, date(2022, 1, 1), date(2024, 1, 1)) == (
        "sentiment in-sample for 2022-01-01..2023-03-31 (trained on headlines up to 2023-03-31)")
    assert "out of sample" in in_sample_note(cutoff, date(2024, 1, 1), date(2024, 6, 1))
    assert "cutoff unknown" in in_sample_note(None, date(2024, 1, 1), date(2024, 6, 1))
    with pytest.raises(ValueError, match="ends"):
        in_sample_period(cutoff, date(2024, 1, 1), date(2023, 1, 1))


def test_bad_cutoff_in_metadata_is_an_integrity_error() -> None:
    assert training_cutoff({}) is None
    with pytest.raises(IntegrityError, match="training_cutoff"):
        training_cutoff({"training_cutoff": "June"})
