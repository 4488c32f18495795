"""Sentence vectors of archived news, stored in the archive's SQLite file in a table of their own.

Each row is one item version's vector under one encoder version: raw bytes, their width and the encoder's id
string. This module stores and selects; it neither computes nor interprets vectors (that is ml's job), so feeds
stays free of models. The table is created with CREATE TABLE IF NOT EXISTS beside the archive's own tables, so
an archive written before vectors existed gains them on first use, and dropping the table loses nothing else.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from feeds.news.archive import NewsArchive, from_micros, to_micros
from ground.errors import UserInputError

_FAR = 2**62
_QUERY_CHUNK = 400  # two bound parameters per key; older SQLite builds allow at most 999

_SCHEMA = """
CREATE TABLE IF NOT EXISTS news_vectors (
    encoder TEXT NOT NULL,
    id TEXT NOT NULL,
    version INTEGER NOT NULL,
    dim INTEGER NOT NULL,
    vector BLOB NOT NULL,
    created_us INTEGER NOT NULL,
    PRIMARY KEY (encoder, id, version)
)
"""
# A rowid table on purpose: a 1.5 KB vector is far above the ~200 bytes up to which WITHOUT ROWID pays off, and
# WITHOUT ROWID made reading 5,000 vectors take 0.33 s.


@dataclass(frozen=True)
class PendingText:
    """An item version that has no vector yet under the encoder asked about."""

    id: str
    version: int
    title: str
    summary: str
    lang: str


@dataclass(frozen=True)
class VectorEntry:
    """The latest version of an item (as known at the query's cutoff) and its vector bytes (None if not embedded)."""

    id: str
    version: int
    published: datetime
    visible_at: datetime
    title: str
    source: str
    lang: str
    symbols: tuple[str, ...]
    dim: int
    vector: bytes | None


@dataclass(frozen=True)
class StoredVectors:
    """Vectors of the latest version of each matching item: ``keys[i]`` = (id, version) of ``blobs[i]``.

    ``missing`` counts the item versions in the whole archive that have no vector under the encoder yet (a
    cheap hint that `bt-news embed` is due; an exact count per filter would cost as much as the search).
    An item whose latest version is not embedded yet is left out of a search, not replaced by an older version.
    """

    keys: list[tuple[str, int]]
    blobs: list[bytes]
    dim: int
    missing: int


class VectorStore:
    """Vectors of one news archive. Use as a context manager or call close()."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()
        # The archive validates the file (creating a new one if absent) and owns the connection and its lock rules.
        self._archive = NewsArchive(self.path)
        self._conn = self._archive.connection
        try:
            with self._archive.transaction() as conn:
                conn.execute(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            self._archive.close()
            raise UserInputError(f"cannot open the news vectors: {exc}", where=str(self.path),
                                 fix="check that the archive file is readable and writable") from None
        except BaseException:
            self._archive.close()
            raise

    def close(self) -> None:
        self._archive.close()

    def __enter__(self) -> VectorStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def pending(self, encoder: str, *, include_embedded: bool = False) -> list[PendingText]:
        """Item versions without a vector under ``encoder`` (all versions with ``include_embedded``)."""
        rows = self._conn.execute(
            """
            SELECT v.id, v.version, v.title, v.summary, v.lang FROM news_versions v
            WHERE :all OR NOT EXISTS (SELECT 1 FROM news_vectors e
                                      WHERE e.encoder = :encoder AND e.id = v.id AND e.version = v.version)
            ORDER BY v.fetched_us, v.id, v.version
            """,
            {"encoder": encoder, "all": int(include_embedded)},
        ).fetchall()
        return [PendingText(*row) for row in rows]

    def put(self, encoder: str, dim: int, rows: Iterable[tuple[str, int, bytes]]) -> int:
        """Store (or replace) vectors ``(id, version, bytes)`` of width ``dim`` in one transaction."""
        if not encoder or dim < 1:
            raise ValueError("encoder must be named and dim positive")
        now = to_micros(datetime.now(timezone.utc))
        values = []
        for item_id, version, blob in rows:
            if len(blob) != 4 * dim:
                raise ValueError(f"vector of {item_id} v{version} has {len(blob)} bytes, expected {4 * dim}")
            values.append((encoder, item_id, version, dim, blob, now))
        with self._archive.transaction() as conn:
            conn.executemany("INSERT OR REPLACE INTO news_vectors VALUES (?, ?, ?, ?, ?, ?)", values)
        return len(values)

    def by_key(self, encoder: str, keys: Iterable[tuple[str, int]]) -> dict[tuple[str, int], bytes]:
        """Vector bytes of the given (id, version) pairs under ``encoder``; pairs without a vector are absent.

        For callers that hold archive rows already (``NewsArchive.frame`` gives every version with its times).
        """
        wanted = list(dict.fromkeys(keys))
        found: dict[tuple[str, int], bytes] = {}
        for start in range(0, len(wanted), _QUERY_CHUNK):
            chunk = wanted[start:start + _QUERY_CHUNK]
            marks = " OR ".join("(id = ? AND version = ?)" for _ in chunk)
            rows = self._conn.execute(f"SELECT id, version, vector FROM news_vectors WHERE encoder = ? AND ({marks})",
                                      [encoder, *(v for key in chunk for v in key)]).fetchall()
            found.update({(r[0], r[1]): bytes(r[2]) for r in rows})
        return found

    def counts(self, encoder: str) -> tuple[int, int]:
        """(item versions with a vector under ``encoder``, item versions in the archive)."""
        embedded = self._conn.execute("SELECT count(*) FROM news_vectors WHERE encoder = ?", (encoder,)).fetchone()
        total = self._conn.execute("SELECT count(*) FROM news_versions").fetchone()
        return int(embedded[0]), int(total[0])

    def ids_with_prefix(self, prefix: str, limit: int = 2) -> list[str]:
        """Item ids that start with ``prefix`` (at most ``limit``; two are enough to say it is ambiguous)."""
        if not prefix:
            return []
        upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        rows = self._conn.execute("SELECT DISTINCT id FROM news_versions WHERE id >= ? AND id < ? ORDER BY id LIMIT ?",
                                  (prefix, upper, limit)).fetchall()
        return [r[0] for r in rows]

    def vectors(self, encoder: str, *, symbol: str | None = None, since: datetime | None = None,
                until: datetime | None = None) -> StoredVectors:
        """The vectors that a search at ``until`` looks through: same rule and filters as :meth:`entries`.

        Reads only ids and vector bytes (no titles, no Python object per row), since this is what a search over
        a large archive pays for on every call.
        """
        params = {"encoder": encoder, "symbol": symbol.upper() if symbol else None,
                  "since": to_micros(since) if since else -_FAR, "until": to_micros(until) if until else _FAR}
        rows = self._conn.execute(
            """
            SELECT e.id, e.version, e.dim, e.vector FROM news_vectors e
            JOIN news_versions v ON v.id = e.id AND v.version = e.version
            WHERE e.encoder = :encoder
              AND v.fetched_us <= :until AND v.published_us <= :until AND v.published_us >= :since
              AND (:symbol IS NULL OR v.id IN (SELECT id FROM news_symbols WHERE symbol = :symbol))
              AND NOT EXISTS (SELECT 1 FROM news_versions w WHERE w.id = v.id AND w.fetched_us <= :until
                              AND (w.fetched_us > v.fetched_us OR (w.fetched_us = v.fetched_us
                                                                   AND w.version > v.version)))
            """,
            params,
        ).fetchall()
        dims = {r[2] for r in rows}
        if len(dims) > 1:
            raise ValueError(f"vectors of encoder {encoder!r} have several widths: {sorted(dims)}")
        embedded, total = self.counts(encoder)
        return StoredVectors([(r[0], r[1]) for r in rows], [r[3] for r in rows], dims.pop() if dims else 0,
                             total - embedded)

    def entries(self, encoder: str, *, symbol: str | None = None, since: datetime | None = None,
                until: datetime | None = None, item_id: str | None = None) -> list[VectorEntry]:
        """The latest version of each item known at ``until`` (default: now), with its vector if it has one.

        Point in time as in the archive: a version counts once fetched by ``until``, and the item only if that
        version is published by then. ``since`` bounds the published time below; ``symbol`` and ``item_id``
        narrow the items. Sorted by visibility time.
        """
        params = {"encoder": encoder, "symbol": symbol.upper() if symbol else None, "id": item_id,
                  "since": to_micros(since) if since else -_FAR, "until": to_micros(until) if until else _FAR}
        rows = self._conn.execute(
            """
            WITH known AS (
                SELECT id, version, published_us, fetched_us, title, source, lang, symbols,
                       row_number() OVER (PARTITION BY id ORDER BY fetched_us DESC, version DESC) AS rank
                FROM news_versions
                WHERE fetched_us <= :until AND (:id IS NULL OR id = :id)
                  AND (:symbol IS NULL OR id IN (SELECT id FROM news_symbols WHERE symbol = :symbol))
            )
            SELECT k.id, k.version, k.published_us, max(k.published_us, k.fetched_us), k.title, k.source, k.lang,
                   k.symbols, e.dim, e.vector
            FROM known k LEFT JOIN news_vectors e ON e.encoder = :encoder AND e.id = k.id AND e.version = k.version
            WHERE k.rank = 1 AND k.published_us <= :until AND k.published_us >= :since
            ORDER BY max(k.published_us, k.fetched_us), k.id
            """,
            params,
        ).fetchall()
        return [VectorEntry(r[0], r[1], from_micros(r[2]), from_micros(r[3]), r[4], r[5], r[6], tuple(r[7].split()), r[8] or 0,
                            bytes(r[9]) if r[9] is not None else None) for r in rows]
