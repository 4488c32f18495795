"""Routing by language and the routing table."""
from __future__ import annotations

import numpy as np
import pytest

from ml.errors import ModelError
from ml.sentiment.head import EncoderHead, MLPHead
from ml.sentiment.model import SentimentModel, normalise_lang, parse_routing

from .conftest import HashEncoder


def _model() -> tuple[SentimentModel, HashEncoder, HashEncoder]:
    en, multi = HashEncoder("en"), HashEncoder("multi")
    paths = {"en_path": EncoderHead("en-enc", en, MLPHead(en.dim, 8)),
             "multi_path": EncoderHead("multi-enc", multi, MLPHead(multi.dim, 8))}
    return SentimentModel({"en": "en_path", "*": "multi_path"}, paths), en, multi


def test_each_text_goes_to_its_languages_path() -> None:
    model, en, multi = _model()
    texts = ["Acme beats estimates", "甲公司净利润增长", "Acme rachète ses actions", "Globex misses"]
    pred = model.predict(texts, ["en", "zh-CN", "fr", "EN"])
    assert en.seen == ["Acme beats estimates", "Globex misses"]
    assert multi.seen == ["甲公司净利润增长", "Acme rachète ses actions"]
    assert pred.probs.shape == (4, 3) and np.allclose(pred.probs.sum(axis=1), 1.0)
    assert len(pred.labels) == 4 and np.all(np.abs(pred.score) <= 1)


def test_language_is_detected_when_not_given() -> None:
    model, en, multi = _model()
    model.predict(["Acme beats estimates", "宁德时代：上半年净利润同比增长12%"])
    assert en.seen == ["Acme beats estimates"] and multi.seen == ["宁德时代：上半年净利润同比增长12%"]


def test_lang_helpers() -> None:
    assert normalise_lang("zh_Hans") == "zh" and normalise_lang(" EN-us ") == "en"


def test_routing_table_forms() -> None:
    assert parse_routing("per-language") == {"en": "minilm", "*": "e5"}
    assert parse_routing("multilingual") == {"*": "e5"}
    assert parse_routing("minilm") == {"*": "minilm"}
    assert parse_routing("en=minilm, zh-CN=e5") == {"en": "minilm", "zh": "e5", "*": "minilm"}
    with pytest.raises(ModelError, match="did you mean multilingual"):
        parse_routing("multilingal")
    with pytest.raises(ModelError, match="lang=encoder"):
        parse_routing("en=,zh=e5")


def test_routes_must_name_known_paths() -> None:
    with pytest.raises(ModelError, match="unknown paths"):
        SentimentModel({"*": "nope"}, {})
    model, _, _ = _model()
    with pytest.raises(ModelError, match="one lang per text"):
        model.predict(["a", "b"], ["en"])
