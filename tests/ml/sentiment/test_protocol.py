"""Point-in-time training data and the evaluation protocol: dated rows, the cutoff, the fixed hold-out split and
the hard-phrasing rule."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pytest

from ground.errors import DataError
from ml.sentiment.metrics import is_hard_phrasing
from ml.sentiment.train import holdout_split, load_labeled, load_training


def _dated(path: Path, rows: list[tuple[str, str, str, str]]) -> Path:
    lines = ["id,date,lang,text,label", *(f"{i},{d},{lang},{text},{label}" for i, (d, lang, text, label)
                                         in enumerate(rows))]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_dates_give_the_cutoff_and_until_keeps_earlier_rows(tmp_path: Path) -> None:
    path = _dated(tmp_path / "d.csv", [("2021-03-01", "en", "Acme beats", "positive"),
                                       ("2022-06-30", "en", "Acme misses", "negative"),
                                       ("2020-01-02T09:30:00Z", "zh", "甲公司召开股东大会", "neutral")])
    data = load_labeled(path)
    assert data.cutoff == date(2022, 6, 30)
    early = data.until(date(2021, 12, 31))
    assert early.texts == ("Acme beats", "甲公司召开股东大会") and early.cutoff == date(2021, 3, 1)
    assert early.fingerprint != data.fingerprint
    with pytest.raises(DataError, match="no labeled rows dated on or before 2019-01-01"):
        data.until(date(2019, 1, 1))


def test_undated_rows_have_no_cutoff_and_cannot_be_cut(tmp_path: Path) -> None:
    path = tmp_path / "u.csv"
    path.write_text("lang,text,label\nen,Acme beats,positive\n", encoding="utf-8")
    data = load_labeled(path)
    assert data.cutoff is None
    with pytest.raises(DataError, match="add a date column"):
        data.until(date(2024, 1, 1))
    dated = _dated(tmp_path / "d.csv", [("2021-03-01", "en", "Acme misses", "negative")])
    assert load_training([path, dated]).cutoff is None  # one undated file makes the cutoff unknown


def test_bad_date_and_conflicting_labels_across_files_are_named(tmp_path: Path) -> None:
    bad = _dated(tmp_path / "bad.csv", [("03/01/2021", "en", "Acme beats", "positive")])
    with pytest.raises(DataError, match=r"bad date '03/01/2021'.*bad.csv:2.*YYYY-MM-DD"):
        load_labeled(bad)
    a = _dated(tmp_path / "a.csv", [("2021-03-01", "en", "Acme beats", "positive")])
    b = _dated(tmp_path / "b.csv", [("2021-03-02", "en", "Acme beats", "negative")])
    with pytest.raises(DataError, match="two labels across files"):
        load_training([a, b])
    with pytest.raises(DataError, match="no training files"):
        load_training([])


def test_holdout_split_depends_on_ids_only_and_halves_each_stratum() -> None:
    labels = np.array([0, 1, 2] * 20)
    langs = ["en"] * 30 + ["zh"] * 30
    ids = [f"row-{i}" for i in range(60)]
    sel, ev = holdout_split(ids, labels, langs)
    assert len(np.intersect1d(sel, ev)) == 0 and len(sel) + len(ev) == 60
    for lang in ("en", "zh"):
        rows = sel[np.asarray(langs)[sel] == lang]
        assert np.bincount(labels[rows], minlength=3).tolist() == [5, 5, 5]
    # the same ids in another order land on the same side
    perm = np.random.default_rng(0).permutation(60)
    sel2, _ = holdout_split([ids[i] for i in perm], labels[perm], [langs[i] for i in perm])
    assert sorted(ids[i] for i in sel) == sorted(ids[perm[i]] for i in sel2)
    other, _ = holdout_split(ids, labels, langs, salt="another")
    assert not np.array_equal(sel, other)


@pytest.mark.parametrize(("text", "lang", "hard"), [
    ("Acme's quarterly loss narrower than expected", "en", True),
    ("Acme beats lowered guidance", "en", True),
    ("Acme shares rise despite weak sales", "en", True),
    ("Acme won't pay a dividend", "en", True),
    ("Acme beats estimates; shares jump", "en", False),
    ("甲公司一季度亏损收窄", "zh", True),
    ("甲公司营收增长但净利润下滑", "zh", True),
    ("甲公司净利润大幅增长", "zh", False),
])
def test_hard_phrasing_rule(text: str, lang: str, hard: bool) -> None:
    assert is_hard_phrasing(text, lang) is hard
