"""When the archive first saw each item, and whether an item's time is the vendor's claim."""
from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from feeds.news.archive import NewsArchive
from feeds.news.importer import import_file
from feeds.news.items import NewsItem
from feeds.news.symbols import SymbolMatcher

NOW = datetime(2024, 6, 1, tzinfo=UTC)
MATCHER = SymbolMatcher({"NVDA": ["Nvidia", "英伟达"], "AMD": ["AMD"]})


def _live(item_id: str, published: datetime, fetched: datetime) -> NewsItem:
    return NewsItem(id=item_id, published=published, title=f"Nvidia story {item_id}", summary="", source="rss",
                    link="", lang="en", symbols=("NVDA",), fetched_at=fetched)


def test_imported_items_record_import_time_and_vendor_claim(data_dir: Path, archive: NewsArchive) -> None:
    import_file(data_dir / "history.csv", archive, matcher=MATCHER, imported_at=NOW)
    archive.add([_live("live-1", NOW + timedelta(hours=1), NOW + timedelta(hours=2))])
    items = archive.items_for("NVDA", until=NOW + timedelta(days=1))
    imported = [i for i in items if i.id != "live-1"]
    assert imported and all(archive.first_seen(i.id) == NOW for i in imported)  # not the backdated fetch time
    assert archive.first_seen("live-1") == NOW + timedelta(hours=2)
    assert archive.first_seen("unknown") is None
    assert archive.timestamp_provenance("NVDA") == (len(imported), len(imported) + 1)
    assert archive.timestamp_provenance("NVDA", since=NOW) == (0, 1)
    assert archive.timestamp_provenance("NVDA", until=NOW) == (len(imported), len(imported))


def test_an_archive_made_before_the_columns_gets_them_once(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    with NewsArchive(path) as archive:
        archive.add([_live("a", NOW, NOW)])
    with sqlite3.connect(path) as conn:  # what an archive written before the columns existed looks like
        conn.execute("ALTER TABLE news_versions DROP COLUMN vendor_time")
        conn.execute("ALTER TABLE news_versions DROP COLUMN first_seen_us")
    for _ in range(2):  # opening again adds nothing twice
        with NewsArchive(path) as archive:
            assert archive.first_seen("a") == NOW  # old rows: first seen when fetched
            assert archive.timestamp_provenance("NVDA") == (0, 1)
    with NewsArchive(path) as archive:
        archive.add([_live("b", NOW, NOW + timedelta(minutes=5))])
        assert archive.timestamp_provenance("NVDA") == (0, 2)
