"""The vector table beside the archive: pending versions, point-in-time entries, filters, atomic writes."""
from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from feeds.news.archive import NewsArchive
from feeds.news.items import NewsItem
from feeds.news.vectors import VectorStore
from ground.errors import UserInputError

T0 = datetime(2024, 1, 4, 15, 0, tzinfo=timezone.utc)
ENC = "test:enc"


def news(item_id: str, title: str, hours: float = 0, symbols: tuple[str, ...] = ("NVDA",),
         fetched: float | None = None) -> NewsItem:
    return NewsItem(id=item_id, published=T0 + timedelta(hours=hours), title=title, summary="", source="s",
                    link="", lang="en", symbols=symbols, fetched_at=T0 + timedelta(hours=hours if fetched is None
                                                                                       else fetched))


@pytest.fixture
def path(tmp_path: Path) -> Path:
    db = tmp_path / "news.sqlite"
    with NewsArchive(db) as archive:
        archive.add([news("a", "one"), news("b", "two", 1, ("TSLA",))])
        archive.add([news("a", "one, updated", 0, fetched=5)])  # version 2, seen 5 hours later
    return db


def blob(x: float, dim: int = 2) -> bytes:
    import numpy as np

    return np.full(dim, x, dtype="<f4").tobytes()


def test_pending_then_put_then_nothing_pending(path: Path) -> None:
    with VectorStore(path) as store:
        pending = store.pending(ENC)
        assert [(p.id, p.version) for p in pending] == [("a", 1), ("b", 1), ("a", 2)]
        store.put(ENC, 2, [(p.id, p.version, blob(i)) for i, p in enumerate(pending)])
        assert store.pending(ENC) == [] and store.counts(ENC) == (3, 3)
        assert len(store.pending("test:other")) == 3  # another encoder version starts from nothing
        assert len(store.pending(ENC, include_embedded=True)) == 3
        assert store.by_key(ENC, [("a", 2), ("b", 1), ("zz", 1)]) == {("a", 2): blob(2), ("b", 1): blob(1)}


def test_entries_follow_the_archive_point_in_time_rule(path: Path) -> None:
    with VectorStore(path) as store:
        store.put(ENC, 2, [("a", 1, blob(1)), ("b", 1, blob(2))])
        now = {e.id: e for e in store.entries(ENC)}
        assert now["a"].version == 2 and now["a"].vector is None  # the latest version, not embedded yet
        early = {e.id: e for e in store.entries(ENC, until=T0 + timedelta(hours=2))}
        assert early["a"].version == 1 and early["a"].vector == blob(1)
        assert [e.id for e in store.entries(ENC, symbol="tsla")] == ["b"]
        assert [e.id for e in store.entries(ENC, since=T0 + timedelta(minutes=30))] == ["b"]
        assert store.ids_with_prefix("a") == ["a"] and store.ids_with_prefix("zz") == []


def test_a_bad_vector_writes_nothing(path: Path) -> None:
    with VectorStore(path) as store:
        with pytest.raises(ValueError, match="expected 8"):
            store.put(ENC, 2, [("a", 1, blob(1)), ("b", 1, blob(1, dim=3))])
        assert store.counts(ENC) == (0, 3)


def test_an_archive_without_the_table_gains_it_and_a_foreign_file_is_refused(tmp_path: Path, path: Path) -> None:
    with VectorStore(path), VectorStore(path):  # opening twice (IF NOT EXISTS) is fine
        pass
    with NewsArchive(path) as archive:  # the archive still opens with the extra table in its file
        assert len(archive.items_for("NVDA", until=T0 + timedelta(days=1))) == 1
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE t (x)")
    conn.close()
    with pytest.raises(UserInputError, match="not a news archive"):
        VectorStore(other)
