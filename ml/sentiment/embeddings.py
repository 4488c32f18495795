"""Sentence embeddings of news items for similarity: which text is embedded, the vector format, and search.

The encoders are those of :mod:`ml.sentiment.encoders` (``e5``, the multilingual default, puts English and
Chinese headlines about one event close together; ``minilm`` is English only). A vector is stored as
little-endian float32 bytes beside its encoder's id, which includes a hash of the weights, so vectors of two
encoder versions are never compared. Search is exact: one matrix product over L2-normalised vectors (about
20 ms for 100,000 x 384 on two cores, see docs/adr/0010-news-vectors.md), so no approximate index is needed.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ml.errors import ModelError
from ml.sentiment.encoders import TextEncoder, build_encoder

DEFAULT_ENCODER = "e5"
VECTOR_DTYPE = np.dtype("<f4")


def item_text(title: str, summary: str = "") -> str:
    """The text embedded for an item: its title alone.

    Duplicates are decided on headlines (a feed's summary is often missing, truncated or boilerplate, and two
    feeds' summaries of one story differ more than their titles); the summary argument is accepted and ignored on
    purpose so that callers need not know this rule.
    """
    del summary
    return title.strip()


def embedding_encoder(spec: str = DEFAULT_ENCODER) -> TextEncoder:
    """The encoder used for similarity, by registry name or model folder (see ``build_encoder``)."""
    return build_encoder(spec)


def to_bytes(vector: np.ndarray) -> bytes:
    """One vector as the bytes the archive stores."""
    return np.ascontiguousarray(vector, dtype=VECTOR_DTYPE).ravel().tobytes()


def from_bytes(blob: bytes, dim: int) -> np.ndarray:
    """The vector stored as ``blob``; a wrong length is a damaged row."""
    vec = np.frombuffer(blob, dtype=VECTOR_DTYPE)
    if vec.shape[0] != dim:
        raise ModelError(f"stored vector has {vec.shape[0]} values, expected {dim}", "news vector store",
                         "re-embed the archive with `bt-news embed --force`")
    return vec


@dataclass(frozen=True)
class Hit:
    """One search result: the row of the index and its cosine similarity to the query."""

    row: int
    score: float


class VectorIndex:
    """Exact cosine search over a fixed set of L2-normalised vectors (``[N, D]`` float32)."""

    def __init__(self, vectors: np.ndarray) -> None:
        matrix = np.array(vectors, dtype=np.float32, order="C")  # an own, writable copy
        if matrix.ndim != 2:
            raise ValueError(f"vectors must be [N, D], got shape {matrix.shape}")
        self.matrix = self._normalised(matrix)

    @staticmethod
    def _normalised(matrix: np.ndarray) -> np.ndarray:
        norms = np.sqrt(np.einsum("nd,nd->n", matrix, matrix))[:, None]  # [N, D] -> [N, 1]
        matrix /= np.maximum(norms, 1e-12)
        return matrix

    @classmethod
    def from_blobs(cls, blobs: Sequence[bytes], dim: int) -> VectorIndex:
        """An index over stored vectors, in the order given."""
        if not blobs:
            return cls(np.zeros((0, dim), dtype=np.float32))
        joined = np.frombuffer(bytearray().join(blobs), dtype=VECTOR_DTYPE)  # writable, one copy of the bytes
        if joined.shape[0] != len(blobs) * dim:
            raise ModelError("stored vectors have mixed widths", "news vector store",
                             "re-embed the archive with `bt-news embed --force`")
        index = cls.__new__(cls)
        index.matrix = cls._normalised(joined.reshape(len(blobs), dim))  # [N * D] -> [N, D]
        return index

    def __len__(self) -> int:
        return int(self.matrix.shape[0])

    def search(self, query: np.ndarray, k: int, exclude: Sequence[int] = ()) -> list[Hit]:
        """The ``k`` rows most similar to ``query``, best first (ties by row), skipping rows in ``exclude``."""
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        q = np.asarray(query, dtype=np.float32).ravel()
        if q.shape[0] != self.matrix.shape[1]:
            raise ModelError(f"query has {q.shape[0]} values, the index {self.matrix.shape[1]}", "vector search",
                             "embed the query with the encoder the archive was embedded with")
        scores = self.matrix @ (q / max(float(np.linalg.norm(q)), 1e-12))  # [N, D] @ [D] -> [N]
        if exclude:
            scores[list(exclude)] = -np.inf
        take = min(k, len(scores) - len(set(exclude)))
        if take <= 0:
            return []
        top = np.argpartition(-scores, take - 1)[:take] if take < len(scores) else np.arange(len(scores))
        top = top[np.lexsort((top, -scores[top]))]
        return [Hit(int(i), float(scores[i])) for i in top]
