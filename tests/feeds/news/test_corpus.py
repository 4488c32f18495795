"""Robustness: every document of feedparser's own test corpus goes through parse -> archive without a crash."""
from __future__ import annotations

import re
import sqlite3
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import pytest

from feeds.news.archive import NewsArchive
from feeds.news.config import FeedConfig
from feeds.news.parse import parse_feed

CORPUS = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "feeds" / "feedparser-corpus"
FETCHED = datetime(2024, 1, 6, 12, 0, tzinfo=timezone.utc)
UNSAFE = re.compile(r"<script|javascript:", re.IGNORECASE)


@pytest.mark.slow
def test_every_corpus_document_is_ingested_safely(tmp_path: Path) -> None:
    if not CORPUS.is_dir():
        pytest.skip(f"feedparser corpus not found: {CORPUS} (../shared/data is absent)")
    documents = sorted(p for p in CORPUS.rglob("*") if p.is_file())
    assert len(documents) > 2000
    ill_formed: Counter[str] = Counter()
    rejected: Counter[str] = Counter()
    parsed_items = versions_added = 0
    with NewsArchive(tmp_path / "corpus.sqlite") as archive:
        for path in documents:
            name = path.relative_to(CORPUS).as_posix()
            parsed = parse_feed(path.read_bytes(), FeedConfig(name=name, url=f"https://corpus.test/{name}"),
                                fetched_at=FETCHED)
            if parsed.ill_formed:
                ill_formed[parsed.ill_formed.split(":")[0]] += 1
            rejected.update(r.reason.split(":")[0] for r in parsed.rejected)
            parsed_items += len(parsed.items)
            added = archive.add(parsed.items)
            versions_added += added.new + added.updated
    conn = sqlite3.connect(tmp_path / "corpus.sqlite")
    try:
        stored = conn.execute("SELECT source, title, summary FROM news_versions").fetchall()
    finally:
        conn.close()
    # Ill-formed documents are counted with a reason (the corpus has a whole "illformed" folder).
    assert sum(ill_formed.values()) > 200 and all(ill_formed)
    assert set(rejected) <= {"no title or summary", "duplicate id within the feed", "unreliable date"}
    assert len(stored) == versions_added > 400 and parsed_items >= versions_added
    sanitize_cases = [row for row in stored if row[0].startswith("wellformed/sanitize/")]
    assert len(sanitize_cases) > 150  # the hostile-HTML cases really reach storage
    leaks = [(source, title, summary) for source, title, summary in stored if UNSAFE.search(title + summary)]
    assert leaks == []
    assert not any("<" in title and ">" in title for _, title, _ in stored)
