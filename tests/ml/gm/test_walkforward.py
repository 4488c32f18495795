"""Walk-forward schedule: tiling, purging plus embargo, expanding vs rolling, edge cases and clear errors."""
from __future__ import annotations

import pandas as pd
import pytest

from ml.errors import ModelError
from ml.gm.walkforward import Fold, WalkForwardConfig, format_folds, history_needed, make_folds

INDEX = pd.bdate_range("2010-01-04", periods=1500, name="date")
CFG = WalkForwardConfig(retrain_every=50, embargo=7, val_bars=60, min_train_bars=200, sequence_length=30, horizon=5)


def test_test_windows_tile_the_period_without_gap_or_overlap() -> None:
    folds = make_folds(INDEX, "2014-01-01", "2015-06-30", CFG)
    rows = [r for f in folds for r in f.test]
    first = INDEX.searchsorted(pd.Timestamp("2014-01-01"))
    last = INDEX.searchsorted(pd.Timestamp("2015-06-30"), "right")
    assert rows == list(range(first, last))
    assert all(len(f.test) == 50 for f in folds[:-1]) and 1 <= len(folds[-1].test) <= 50
    assert folds[0].test_dates[0] == pd.Timestamp("2014-01-01")
    assert folds[-1].test_dates[1] == pd.Timestamp("2015-06-30")
    assert [f.fold_id for f in folds] == list(range(len(folds)))


def test_labels_end_an_embargo_before_the_next_block() -> None:
    H, E = CFG.horizon, CFG.embargo
    for f in make_folds(INDEX, "2013-03-01", None, CFG):
        assert f.train.stop - 1 + H < f.val.start - E  # last training label vs first validation bar
        assert f.val.stop - 1 + H < f.test.start - E  # last validation label vs first test bar
        assert f.last_seen_row(H) < f.test.start - E
        assert f.fit_rows(CFG.sequence_length, H).stop - 1 < f.val.start - E  # scaler rows end before validation
        assert f.train.start >= CFG.sequence_length - 1 and len(f.val) == CFG.val_bars


def test_expanding_keeps_the_start_and_rolling_keeps_the_length() -> None:
    expanding = make_folds(INDEX, "2014-01-01", "2014-12-31", CFG)
    assert {f.train.start for f in expanding} == {CFG.sequence_length - 1}
    assert [len(f.train) for f in expanding] == sorted(len(f.train) for f in expanding)
    rolling_cfg = WalkForwardConfig(**{**CFG.__dict__, "scheme": "rolling", "train_bars": 300})
    rolling = make_folds(INDEX, "2014-01-01", "2014-12-31", rolling_cfg)
    assert {len(f.train) for f in rolling} == {300}
    assert [f.test for f in rolling] == [f.test for f in expanding]


def test_max_train_bars_caps_an_expanding_window() -> None:
    def folds_with(cap: int | None) -> list[Fold]:
        cfg = WalkForwardConfig(**{**CFG.__dict__, "max_train_bars": cap})
        return make_folds(INDEX, "2011-06-01", "2014-12-31", cfg)

    capped, uncapped = folds_with(500), folds_with(None)
    assert [len(f.train) for f in capped] == [min(len(u.train), 500) for u in uncapped]
    assert len(capped[0].train) < 500 < len(uncapped[-1].train)  # grows first, then slides
    assert [f.train.stop for f in capped] == [u.train.stop for u in uncapped]


def test_exact_minimum_history_works_and_one_bar_less_fails_with_counts() -> None:
    need = history_needed(CFG)
    assert need == 29 + 200 + 12 + 60 + 12
    folds = make_folds(INDEX, INDEX[need], INDEX[need + 10], CFG)
    assert len(folds[0].train) == CFG.min_train_bars and folds[0].train.start == CFG.sequence_length - 1
    with pytest.raises(ModelError) as err:
        make_folds(INDEX, INDEX[need - 1], INDEX[need + 10], CFG, warmup=21)
    msg = str(err.value)
    assert f"{need - 1 + 21} bars exist" in msg and f"needs {need + 21}" in msg and "min_train_bars" in msg


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ("2016-01-01", "2015-01-01", "before test start"),
        ("2030-01-01", "2030-06-01", "no bars between"),
        ("2010-01-05", "2011-01-01", "too little history"),
    ],
)
def test_bad_periods(start: str, end: str, message: str) -> None:
    with pytest.raises(ModelError, match=message):
        make_folds(INDEX, start, end, CFG)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"embargo": 3, "horizon": 5}, "embargo"),
        ({"scheme": "expandng"}, "did you mean 'expanding'"),
        ({"val_bars": 5}, "val_bars"),
        ({"retrain_every": 0}, "retrain_every"),
        ({"scheme": "rolling", "train_bars": 100, "min_train_bars": 200}, "train_bars"),
        ({"sequence_length": 2.5}, "sequence_length"),
        ({"max_train_bars": 100, "min_train_bars": 200}, "max_train_bars"),
    ],
)
def test_config_validation(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ModelError, match=message):
        WalkForwardConfig(**kwargs)  # type: ignore[arg-type]


def test_format_folds_lists_every_fold() -> None:
    folds = make_folds(INDEX, "2014-01-01", "2014-06-30", CFG)
    text = format_folds(folds)
    lines = text.splitlines()
    assert len(lines) == 2 + len(folds) and "train" in lines[0] and "test" in lines[0]
    assert str(folds[-1].test_dates[1].date()) in lines[-1] and str(folds[0].train_dates[0].date()) in lines[2]
