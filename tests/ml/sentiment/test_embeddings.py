"""Vector bytes and exact cosine search."""
from __future__ import annotations

import numpy as np
import pytest

from ground.errors import UserInputError
from ml.sentiment.embeddings import VectorIndex, from_bytes, item_text, to_bytes


def test_bytes_round_trip_and_a_damaged_row_is_refused() -> None:
    v = np.array([0.5, -0.25, 1.0], dtype=np.float64)
    assert np.array_equal(from_bytes(to_bytes(v), 3), v.astype(np.float32))
    with pytest.raises(UserInputError, match="3 values, expected 4"):
        from_bytes(to_bytes(v), 4)


def test_search_ranks_by_cosine_and_matches_brute_force() -> None:
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((500, 8)).astype(np.float32)
    index = VectorIndex.from_blobs([to_bytes(v) for v in vectors], 8)
    query = rng.standard_normal(8)
    hits = index.search(query, 5, exclude=[3])
    normed = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    expected = [i for i in np.argsort(-(normed @ (query / np.linalg.norm(query)))) if i != 3][:5]
    assert [h.row for h in hits] == expected
    assert all(a.score >= b.score for a, b in zip(hits, hits[1:]))
    assert len(index.search(query, 1000)) == 500


def test_edge_cases() -> None:
    assert VectorIndex.from_blobs([], 4).search(np.ones(4), 3) == []
    with pytest.raises(UserInputError, match="query has 3 values"):
        VectorIndex(np.ones((2, 4))).search(np.ones(3), 1)
    with pytest.raises(UserInputError, match="mixed widths"):
        VectorIndex.from_blobs([to_bytes(np.ones(4)), to_bytes(np.ones(3))], 4)
    assert item_text("  Nvidia beats  ", "long summary") == "Nvidia beats"
