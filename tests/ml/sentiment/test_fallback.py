"""The n-gram fallback: features for both languages, negation, and learning from a small set."""
from __future__ import annotations

import numpy as np

from ml.sentiment.fallback import HasherConfig, NgramHasher
from ml.sentiment.labels import LABELS
from ml.sentiment.train import TrainConfig, load_labeled, train_sentiment

from .conftest import EN_COS, ZH_COS, tiny_rows, write_csv


def test_negation_marks_the_following_words() -> None:
    feats = NgramHasher().features("Acme fails to beat estimates. Shares fall")
    assert "not_beat" in feats and "beat" not in feats
    assert "shares" in feats and "not_shares" not in feats  # the sentence break ends the scope
    assert "not_cut" in NgramHasher().features("Fed isn't expected to cut rates")


def test_chinese_becomes_character_ngrams() -> None:
    feats = NgramHasher().features("宁德时代亏损收窄，营收不及预期")
    assert {"亏损", "收窄", "亏损收", "不及", "预期"} <= set(feats)
    assert "not_及" in feats  # 不 negates what follows
    assert "窄营" not in feats  # n-grams stop at punctuation


def test_ids_are_stable_and_bounded() -> None:
    cfg = HasherConfig(buckets=1024)
    a = NgramHasher(cfg).ids("Acme beats estimates 12%")
    b = NgramHasher(cfg).ids("Acme beats estimates 12%")
    assert np.array_equal(a, b) and a.min() >= 0 and a.max() < 1024
    assert np.array_equal(a, NgramHasher(cfg).ids("Acme beats estimates 37%"))  # numbers are normalised


def test_fallback_learns_a_small_set_and_beats_chance(tmp_path) -> None:
    data = load_labeled(write_csv(tmp_path / "train.csv", tiny_rows(EN_COS[:4], ZH_COS[:4])))
    config = TrainConfig(fallback=True, hidden=32, dropout=0.1, lr=1e-2, max_epochs=40, patience=8, seed=1,
                         buckets=1 << 12)
    model, report = train_sentiment(data, config)
    held_out = tiny_rows(EN_COS[4:], ZH_COS[4:])  # same phrases, companies never seen
    pred = model.predict([t for _, t, _ in held_out], [lang for lang, _, _ in held_out])
    truth = np.array([LABELS.index(lab) for _, _, lab in held_out])
    accuracy = float((pred.probs.argmax(axis=1) == truth).mean())
    assert accuracy > 0.8  # chance is 1/3
    assert report.metrics["all"].accuracy > 0.6
    assert set(report.metrics) == {"all", "en", "zh"}
