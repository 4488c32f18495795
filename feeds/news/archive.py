"""The point-in-time news archive: SQLite, one row per item version, plus a sentiment score cache.

Point in time (DESIGN.md): a version is visible at a cutoff only if it was both published AND first seen
(fetched) by then, so an update is seen only from its own fetch time and a future-dated item waits for its date.
Each `add` is one transaction: a failure part-way leaves the archive as it was before the call.

Several processes may share one archive (a collector on a schedule, an import, a backtest reading). The file
is in WAL mode, so readers never wait for a writer. A writer that finds another one mid-transaction logs that
it waits and retries for up to `lock_wait_s` (default LOCK_WAIT_S), then raises ArchiveLockedError. Schema
creation runs inside one BEGIN IMMEDIATE transaction that re-checks the schema version first, so two
processes creating the same new archive at once both end up with the one schema.
"""
from __future__ import annotations

import logging
import math
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from feeds.news.items import NewsItem
from ground.errors import UserInputError

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1
#: How long a writer waits for another process's transaction to end before giving up (seconds).
LOCK_WAIT_S = 30.0
_FIRST_TRY_MS = 200  # a lock held shorter than this is not worth a log line
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICROSECOND = timedelta(microseconds=1)
_QUERY_CHUNK = 500  # SQLite allows at most 999 bound parameters in older builds

_SCHEMA = """
CREATE TABLE IF NOT EXISTS news_versions (
    id TEXT NOT NULL,
    version INTEGER NOT NULL,
    published_us INTEGER NOT NULL,
    fetched_us INTEGER NOT NULL,
    title TEXT NOT NULL,
    summary TEXT NOT NULL,
    source TEXT NOT NULL,
    link TEXT NOT NULL,
    lang TEXT NOT NULL,
    symbols TEXT NOT NULL,
    dated INTEGER NOT NULL,
    text_hash TEXT NOT NULL,
    PRIMARY KEY (id, version)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS news_versions_published ON news_versions (published_us);
CREATE TABLE IF NOT EXISTS news_symbols (
    symbol TEXT NOT NULL,
    id TEXT NOT NULL,
    version INTEGER NOT NULL,
    PRIMARY KEY (symbol, id, version),
    FOREIGN KEY (id, version) REFERENCES news_versions (id, version)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sentiment_cache (
    item_id TEXT NOT NULL,
    text_hash TEXT NOT NULL,
    model_version TEXT NOT NULL,
    score REAL NOT NULL,
    p_negative REAL NOT NULL,
    p_neutral REAL NOT NULL,
    p_positive REAL NOT NULL,
    created_us INTEGER NOT NULL,
    PRIMARY KEY (item_id, text_hash, model_version)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS feed_state (
    url TEXT PRIMARY KEY,
    etag TEXT NOT NULL,
    last_modified TEXT NOT NULL,
    checked_us INTEGER NOT NULL
);
"""
_COLUMNS = ("id", "version", "published_us", "fetched_us", "title", "summary", "source", "link", "lang",
            "symbols", "dated", "text_hash")
# added after schema v1, idempotently (ALTER TABLE ... ADD COLUMN when missing): first_seen_us is when the
# archive first saw a version (NULL in rows stored before: their fetched_us), vendor_time 1 when the published
# time is the source's claim that no fetch of ours bounds (imported history)
_PROVENANCE_COLUMNS = {"first_seen_us": "INTEGER", "vendor_time": "INTEGER NOT NULL DEFAULT 0"}
FRAME_COLUMNS = ("id", "version", "published", "fetched_at", "visible_at", "superseded_at", "title", "summary",
                 "source", "link", "lang", "symbols", "dated", "text_hash")


ARCHIVE_ENV = "BT_HYBRID_NEWS_DB"


def default_archive_path() -> Path:
    """Where the archive lives when nothing else says: $BT_HYBRID_NEWS_DB, else the XDG data directory."""
    if os.environ.get(ARCHIVE_ENV):
        return Path(os.environ[ARCHIVE_ENV]).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "bt-hybrid" / "news.sqlite"


def to_micros(value: datetime) -> int:
    """A tz-aware time as integer microseconds since the epoch: how the archive's tables store times."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"archive times must be timezone-aware, got naive {value.isoformat()}")
    return (value - _EPOCH) // _MICROSECOND


def from_micros(us: int) -> datetime:
    """The UTC time stored as ``us`` microseconds since the epoch."""
    return _EPOCH + us * _MICROSECOND


class ArchiveLockedError(UserInputError):
    """Another process kept the archive locked for longer than this writer was willing to wait."""

    def __init__(self, path: Path, waited_s: float) -> None:
        super().__init__(
            f"news archive stayed locked by another process for {waited_s:.1f} s; nothing was written",
            where=str(path),
            fix="wait for the other bt-news command (a large import or collect) to finish, then run this again",
        )


def _is_locked(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


@dataclass(frozen=True)
class AddResult:
    """How many items were new ids, new versions of known ids, or already stored as they are."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass(frozen=True)
class CachedScore:
    """A sentiment score for one (item id, text hash, model version): score in [-1, 1] and class probabilities."""

    score: float
    p_negative: float
    p_neutral: float
    p_positive: float

    def __post_init__(self) -> None:
        probs = (self.p_negative, self.p_neutral, self.p_positive)
        if not -1.0 <= self.score <= 1.0 or not all(0.0 <= p <= 1.0 for p in probs):
            raise ValueError(f"score must be in [-1, 1] and probabilities in [0, 1], got {self}")
        if not math.isclose(sum(probs), 1.0, abs_tol=1e-3):
            raise ValueError(f"class probabilities must sum to 1, got {sum(probs):.4f}")


@dataclass(frozen=True)
class FeedState:
    """HTTP validators of a feed's last successful fetch, sent back for a conditional GET."""

    url: str
    etag: str
    last_modified: str
    checked_at: datetime


class NewsArchive:
    """SQLite news archive (WAL mode, schema-versioned). Use as a context manager or call close()."""

    def __init__(self, path: str | Path, *, lock_wait_s: float = LOCK_WAIT_S) -> None:
        self.path = Path(path).expanduser()
        self.lock_wait_s = lock_wait_s
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._conn = sqlite3.connect(self.path, timeout=lock_wait_s, isolation_level=None)
        except sqlite3.DatabaseError as exc:
            raise self._open_error(exc) from None
        try:
            self._conn.execute("PRAGMA journal_mode=WAL")  # waits up to lock_wait_s if a creator holds a lock
            self._conn.execute("PRAGMA foreign_keys=ON")
            self._init_schema()
            self._add_provenance_columns()
        except sqlite3.OperationalError as exc:
            self._conn.close()
            if _is_locked(exc):
                raise ArchiveLockedError(self.path, lock_wait_s) from None
            raise self._open_error(exc) from None
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise self._open_error(exc) from None
        except BaseException:
            self._conn.close()
            raise

    def _open_error(self, exc: sqlite3.Error) -> UserInputError:
        return UserInputError(f"cannot open news archive: {exc}", where=str(self.path),
                              fix="point --archive / BT_HYBRID_NEWS_DB at a news archive or a new file")

    def _init_schema(self) -> None:
        if self._schema_version() == SCHEMA_VERSION:
            return
        # Another process may be creating the same archive right now: decide inside the write lock.
        with self.transaction():
            version = self._schema_version()
            if version == SCHEMA_VERSION:
                return
            tables = self._conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
            if tables:
                raise UserInputError("file is an SQLite database but not a news archive", where=str(self.path),
                                     fix="choose another archive path")
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    self._conn.execute(statement)
            self._conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _schema_version(self) -> int:
        version = self._conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise UserInputError(f"news archive schema v{version} is newer than this code's v{SCHEMA_VERSION}",
                                 where=str(self.path), fix="upgrade bt-hybrid")
        return int(version)

    def _add_provenance_columns(self) -> None:
        """Add the first-seen and vendor-time columns to an archive made before them (a no-op when present)."""
        have = {row[1] for row in self._conn.execute("PRAGMA table_info(news_versions)")}
        missing = [(name, decl) for name, decl in _PROVENANCE_COLUMNS.items() if name not in have]
        if missing:
            with self.transaction() as conn:
                have = {row[1] for row in conn.execute("PRAGMA table_info(news_versions)")}  # another process?
                for name, decl in missing:
                    if name not in have:
                        conn.execute(f"ALTER TABLE news_versions ADD COLUMN {name} {decl}")

    def close(self) -> None:
        """Close the connection (pending transactions were already committed or rolled back)."""
        self._conn.close()

    def __enter__(self) -> NewsArchive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _begin(self) -> None:
        """BEGIN IMMEDIATE (take the write lock now), waiting up to lock_wait_s for another writer."""
        first_ms = min(_FIRST_TRY_MS, int(self.lock_wait_s * 1000))
        started = time.monotonic()
        self._conn.execute(f"PRAGMA busy_timeout = {first_ms}")
        try:
            self._conn.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if not _is_locked(exc):
                raise
        left_ms = int(self.lock_wait_s * 1000) - first_ms
        if left_ms <= 0:
            raise ArchiveLockedError(self.path, time.monotonic() - started)
        logger.warning("news archive %s is locked by another process; waiting up to %g s", self.path,
                       self.lock_wait_s)
        self._conn.execute(f"PRAGMA busy_timeout = {left_ms}")
        try:
            self._conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if _is_locked(exc):
                raise ArchiveLockedError(self.path, time.monotonic() - started) from None
            raise
        finally:
            self._conn.execute(f"PRAGMA busy_timeout = {int(self.lock_wait_s * 1000)}")
        logger.warning("news archive %s: got the write lock after %.1f s", self.path, time.monotonic() - started)

    @property
    def connection(self) -> sqlite3.Connection:
        """The archive's connection, for tables that live in the same file (the news vectors)."""
        return self._conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction under the archive's lock rules: waits (and says so) up to ``lock_wait_s``, then
        ``ArchiveLockedError``; rolled back on any error."""
        self._begin()
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    # ----------------------------------------------------------------------------------------- items

    def add(self, items: Iterable[NewsItem]) -> AddResult:
        """Store items in one transaction: a new id, a new version (new text or time), or nothing new.

        Re-seeing a stored version only adds symbols it was not yet tagged with. An undated item (its time is
        the first-seen time) is compared by text alone, so fetching it again does not make a new version.
        """
        new = updated = unchanged = 0
        with self.transaction() as conn:
            for item in items:
                latest = conn.execute(
                    "SELECT version, published_us, title, summary, dated, symbols FROM news_versions WHERE id = ? "
                    "ORDER BY fetched_us DESC, version DESC LIMIT 1", (item.id,),
                ).fetchone()
                if latest is None:
                    self._insert(conn, item, 1)
                    new += 1
                    continue
                version, published_us, title, summary, dated, symbols = latest
                same_time = not item.dated or (bool(dated) and published_us == to_micros(item.published))
                if title == item.title and summary == item.summary and same_time:
                    self._tag(conn, item.id, version, set(symbols.split()) | set(item.symbols))
                    unchanged += 1
                    continue
                top = conn.execute("SELECT max(version) FROM news_versions WHERE id = ?", (item.id,)).fetchone()[0]
                self._insert(conn, item, top + 1)
                updated += 1
        return AddResult(new, updated, unchanged)

    @staticmethod
    def _insert(conn: sqlite3.Connection, item: NewsItem, version: int) -> None:
        columns = (*_COLUMNS, *_PROVENANCE_COLUMNS)
        conn.execute(
            f"INSERT INTO news_versions ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
            (item.id, version, to_micros(item.published), to_micros(item.fetched_at), item.title, item.summary,
             item.source, item.link, item.lang, " ".join(item.symbols), int(item.dated), item.text_hash,
             to_micros(item.first_seen or item.fetched_at), int(item.vendor_time)),
        )
        conn.executemany("INSERT INTO news_symbols (symbol, id, version) VALUES (?, ?, ?)",
                         [(s, item.id, version) for s in item.symbols])

    @staticmethod
    def _tag(conn: sqlite3.Connection, item_id: str, version: int, symbols: set[str]) -> None:
        conn.execute("UPDATE news_versions SET symbols = ? WHERE id = ? AND version = ?",
                     (" ".join(sorted(symbols)), item_id, version))
        conn.executemany("INSERT OR IGNORE INTO news_symbols (symbol, id, version) VALUES (?, ?, ?)",
                         [(s, item_id, version) for s in symbols])

    def items_for(self, symbol: str, *, until: datetime, since: datetime | None = None) -> list[NewsItem]:
        """Items about `symbol` as known at `until`, sorted by published time.

        Per id, the latest version seen (fetched) by `until` is the one that counts, and only if it is also
        published by then: a version re-dated into the future hides the item until that date, and an older
        text that had been superseded is never used. `since` (inclusive) bounds the published time below.
        """
        rows = self._conn.execute(
            f"""
            WITH known AS (
                SELECT {', '.join(_COLUMNS)},
                       row_number() OVER (PARTITION BY id ORDER BY fetched_us DESC, version DESC) AS rank
                FROM news_versions
                WHERE id IN (SELECT id FROM news_symbols WHERE symbol = :symbol) AND fetched_us <= :until
            )
            SELECT {', '.join(_COLUMNS)} FROM known v
            WHERE rank = 1 AND published_us <= :until AND published_us >= :since
              AND EXISTS (SELECT 1 FROM news_symbols s WHERE s.symbol = :symbol AND s.id = v.id
                          AND s.version = v.version)
            ORDER BY published_us, id
            """,
            {"symbol": symbol.upper(), "until": to_micros(until), "since": to_micros(since) if since else -(2**62)},
        ).fetchall()
        return [self._item(row) for row in rows]

    @staticmethod
    def _item(row: tuple[Any, ...]) -> NewsItem:
        values = dict(zip(_COLUMNS, row, strict=True))
        return NewsItem(
            id=values["id"], published=from_micros(values["published_us"]), title=values["title"],
            summary=values["summary"], source=values["source"], link=values["link"], lang=values["lang"],
            symbols=tuple(values["symbols"].split()), fetched_at=from_micros(values["fetched_us"]),
            dated=bool(values["dated"]),
        )

    def frame(self, symbol: str, since: datetime | None = None, until: datetime | None = None, *,
              visible_after: datetime | None = None) -> pd.DataFrame:
        """Every version about `symbol`, one row each, in visibility order, for point-in-time aggregation.

        `published`, `fetched_at`, `visible_at` (the later of the two) and `superseded_at` (when the item's
        next version was fetched; NaT if none) are UTC timestamps. A row counts at cutoff c exactly when
        `visible_at <= c` and not `superseded_at <= c`: the same rule as `items_for`. `until` keeps the rows
        visible by then and hides later versions; `since` bounds `published` below; `visible_after` keeps only
        the rows that became visible after it (a live session reads what is new since its last bar, at a cost
        that does not grow with the archive).
        """
        after = to_micros(visible_after) if visible_after else -(2**62)
        params: dict[str, object] = {"symbol": symbol.upper(), "since": to_micros(since) if since else -(2**62),
                                     "until": to_micros(until) if until else 2**62, "after": after}
        recent = "AND id IN (SELECT id FROM news_versions WHERE published_us > :after OR fetched_us > :after)"
        rows = self._conn.execute(
            f"""
            WITH versions AS (
                SELECT {', '.join(_COLUMNS)},
                       lead(fetched_us) OVER (PARTITION BY id ORDER BY fetched_us, version) AS superseded_us
                FROM news_versions
                WHERE id IN (SELECT id FROM news_symbols WHERE symbol = :symbol) {recent if visible_after else ""}
            )
            SELECT {', '.join('v.' + c for c in _COLUMNS)},
                   CASE WHEN v.superseded_us <= :until THEN v.superseded_us END
            FROM versions v JOIN news_symbols s ON s.id = v.id AND s.version = v.version AND s.symbol = :symbol
            WHERE v.published_us >= :since AND v.published_us <= :until AND v.fetched_us <= :until
              AND (v.published_us > :after OR v.fetched_us > :after)
            """,
            params,
        ).fetchall()
        raw = pd.DataFrame(rows, columns=[*_COLUMNS, "superseded_us"])
        frame = raw.drop(columns=["published_us", "fetched_us", "superseded_us"])
        for column, source in (("published", "published_us"), ("fetched_at", "fetched_us")):
            frame[column] = pd.to_datetime(raw[source].astype("int64"), unit="us", utc=True)
        frame["superseded_at"] = pd.to_datetime(raw["superseded_us"].astype("Int64"), unit="us", utc=True)
        later_fetch = frame["fetched_at"] > frame["published"]
        frame["visible_at"] = frame["published"].where(~later_fetch, frame["fetched_at"])
        frame["version"] = raw["version"].astype("int64")
        frame["dated"] = raw["dated"].astype(bool)
        frame = frame.sort_values(["visible_at", "id", "version"], kind="stable").reset_index(drop=True)
        return frame[list(FRAME_COLUMNS)]

    def count_visible(self, symbol: str, until: datetime) -> int:
        """How many versions about `symbol` are visible by `until`: a live reader compares it with what it has
        read, to notice versions stored later with an earlier visibility (an import of dated history)."""
        row = self._conn.execute(
            """SELECT count(*) FROM news_versions v JOIN news_symbols s
                 ON s.id = v.id AND s.version = v.version AND s.symbol = :symbol
               WHERE v.published_us <= :until AND v.fetched_us <= :until""",
            {"symbol": symbol.upper(), "until": to_micros(until)},
        ).fetchone()
        return int(row[0])

    def timestamp_provenance(self, symbol: str, since: datetime | None = None,
                             until: datetime | None = None) -> tuple[int, int]:
        """(items whose time is the vendor's claim, all items) about `symbol` published in [since, until],
        counting each id once by its latest version seen by `until`: the report's share of vendor timestamps."""
        row = self._conn.execute(
            """
            WITH known AS (
                SELECT id, published_us, vendor_time,
                       row_number() OVER (PARTITION BY id ORDER BY fetched_us DESC, version DESC) AS rank
                FROM news_versions
                WHERE id IN (SELECT id FROM news_symbols WHERE symbol = :symbol) AND fetched_us <= :until
            )
            SELECT coalesce(sum(vendor_time), 0), count(*) FROM known
            WHERE rank = 1 AND published_us >= :since AND published_us <= :until
            """,
            {"symbol": symbol.upper(), "since": to_micros(since) if since else -(2**62),
             "until": to_micros(until) if until else 2**62},
        ).fetchone()
        return int(row[0]), int(row[1])

    def first_seen(self, item_id: str) -> datetime | None:
        """When the archive first saw any version of an item (None: unknown id)."""
        row = self._conn.execute(
            "SELECT min(coalesce(first_seen_us, fetched_us)) FROM news_versions WHERE id = ?", (item_id,)
        ).fetchone()
        return None if row[0] is None else from_micros(row[0])

    # ------------------------------------------------------------------------------- sentiment cache

    def cached_scores(
        self, ids_with_text_hash: Iterable[tuple[str, str]], model_version: str
    ) -> dict[tuple[str, str], CachedScore]:
        """Cached scores for (item id, text hash) pairs under `model_version`; missing pairs are absent."""
        wanted = set(ids_with_text_hash)
        found: dict[tuple[str, str], CachedScore] = {}
        ids = sorted({item_id for item_id, _ in wanted})
        for start in range(0, len(ids), _QUERY_CHUNK):
            chunk = ids[start:start + _QUERY_CHUNK]
            rows = self._conn.execute(
                "SELECT item_id, text_hash, score, p_negative, p_neutral, p_positive FROM sentiment_cache "
                f"WHERE model_version = ? AND item_id IN ({', '.join('?' * len(chunk))})",
                [model_version, *chunk],
            ).fetchall()
            for item_id, digest, *values in rows:
                if (item_id, digest) in wanted:
                    found[(item_id, digest)] = CachedScore(*values)
        return found

    def store_scores(self, model_version: str, scores: Mapping[tuple[str, str], CachedScore]) -> int:
        """Store (or replace) scores keyed by (item id, text hash) for `model_version`; returns the count."""
        if not model_version:
            raise ValueError("model_version must not be empty")
        now = to_micros(datetime.now(timezone.utc))
        rows = [(item_id, digest, model_version, s.score, s.p_negative, s.p_neutral, s.p_positive, now)
                for (item_id, digest), s in scores.items()]
        with self.transaction() as conn:
            conn.executemany("INSERT OR REPLACE INTO sentiment_cache VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
        return len(rows)

    # ---------------------------------------------------------------------------------- feed state

    def feed_state(self, url: str) -> FeedState | None:
        """Validators (ETag, Last-Modified) of the last successful fetch of `url`, if any."""
        row = self._conn.execute("SELECT etag, last_modified, checked_us FROM feed_state WHERE url = ?",
                                 (url,)).fetchone()
        return FeedState(url, row[0], row[1], from_micros(row[2])) if row else None

    def save_feed_state(self, state: FeedState) -> None:
        """Remember a feed's validators; saved only after its items are stored, so nothing is skipped."""
        with self.transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO feed_state VALUES (?, ?, ?, ?)",
                         (state.url, state.etag, state.last_modified, to_micros(state.checked_at)))

