from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from feeds.news.archive import AddResult, CachedScore, FeedState, NewsArchive
from feeds.news.items import NewsItem
from ground.errors import UserInputError

T0 = datetime(2024, 1, 4, 14, 30, tzinfo=timezone.utc)
SECOND = timedelta(seconds=1)


def item(item_id: str = "a", *, published: datetime = T0, fetched_at: datetime | None = None,
         title: str = "Nvidia rises", summary: str = "", symbols: tuple[str, ...] = ("NVDA",),
         dated: bool = True) -> NewsItem:
    return NewsItem(id=item_id, published=published, title=title, summary=summary, source="test",
                    link=f"https://news.example/{item_id}", lang="en", symbols=symbols,
                    fetched_at=fetched_at or published, dated=dated)


def test_add_dedups_by_id(archive: NewsArchive) -> None:
    batch = [item("a"), item("b", title="AMD falls", symbols=("AMD",))]
    assert archive.add(batch) == AddResult(new=2)
    assert archive.add(batch) == AddResult(unchanged=2)
    assert len(archive.frame("NVDA")) == 1 and len(archive.frame("AMD")) == 1


def test_update_keeps_every_version_with_its_own_times(archive: NewsArchive) -> None:
    archive.add([item("a", title="Nvidia to present at CES", fetched_at=T0 + 60 * SECOND)])
    update_seen = T0 + timedelta(hours=3)
    assert archive.add([item("a", title="Nvidia cancels CES keynote", fetched_at=update_seen)]) == AddResult(updated=1)
    frame = archive.frame("NVDA")
    assert list(frame["version"]) == [1, 2]
    assert list(frame["title"]) == ["Nvidia to present at CES", "Nvidia cancels CES keynote"]
    assert list(frame["fetched_at"]) == [T0 + 60 * SECOND, update_seen]
    # Before the update was seen, a decision sees the first text; afterwards the second, never both.
    assert [i.title for i in archive.items_for("NVDA", until=update_seen - SECOND)] == ["Nvidia to present at CES"]
    assert [i.title for i in archive.items_for("NVDA", until=update_seen)] == ["Nvidia cancels CES keynote"]


def test_a_new_published_time_is_a_new_version(archive: NewsArchive) -> None:
    archive.add([item("a")])
    assert archive.add([item("a", published=T0 + timedelta(hours=1))]) == AddResult(updated=1)


def test_point_in_time_cutoff_to_the_second(archive: NewsArchive) -> None:
    cutoff = datetime(2024, 1, 4, 21, 0, tzinfo=timezone.utc)  # 16:00 New York
    archive.add([item("at", published=cutoff), item("after", published=cutoff + SECOND)])
    assert [i.id for i in archive.items_for("NVDA", until=cutoff)] == ["at"]
    assert [i.id for i in archive.items_for("NVDA", until=cutoff + SECOND)] == ["at", "after"]
    assert list(archive.frame("NVDA", until=cutoff)["id"]) == ["at"]


def test_an_item_fetched_after_the_cutoff_is_not_seen_before_it(archive: NewsArchive) -> None:
    archive.add([item("late", published=T0, fetched_at=T0 + timedelta(days=2))])
    assert archive.items_for("NVDA", until=T0 + timedelta(days=1)) == []
    assert len(archive.items_for("NVDA", until=T0 + timedelta(days=2))) == 1


def test_future_dated_item_is_never_used_before_its_date(archive: NewsArchive) -> None:
    dated = datetime(2030, 2, 21, 21, 0, tzinfo=timezone.utc)
    archive.add([item("embargo", published=dated, fetched_at=T0)])
    assert archive.items_for("NVDA", until=T0 + timedelta(days=365)) == []
    assert archive.items_for("NVDA", until=dated - SECOND) == []
    assert [i.id for i in archive.items_for("NVDA", until=dated)] == ["embargo"]
    frame = archive.frame("NVDA")
    assert frame.loc[0, "visible_at"] == dated and frame.loc[0, "fetched_at"] == T0


def test_since_and_symbol_filters(archive: NewsArchive) -> None:
    archive.add([item("old", published=T0 - timedelta(days=10)), item("new"),
                 item("other", symbols=("AMD",))])
    now = T0 + timedelta(days=1)
    assert [i.id for i in archive.items_for("nvda", until=now, since=T0 - timedelta(days=1))] == ["new"]
    assert [i.id for i in archive.items_for("AMD", until=now)] == ["other"]
    assert archive.items_for("TSLA", until=now) == []
    assert len(archive.frame("NVDA", since=T0)) == 1


def test_items_round_trip(archive: NewsArchive) -> None:
    original = item("a", summary="Revenue 英伟达", symbols=("NVDA", "AMD"), fetched_at=T0 + SECOND)
    archive.add([original])
    [loaded] = archive.items_for("AMD", until=T0 + timedelta(days=1))
    assert loaded == original


def test_reseeing_an_item_adds_new_symbols_only(archive: NewsArchive) -> None:
    archive.add([item("a", symbols=("NVDA",))])
    assert archive.add([item("a", symbols=("AMD",), fetched_at=T0 + timedelta(hours=1))]) == AddResult(unchanged=1)
    [loaded] = archive.items_for("AMD", until=T0 + timedelta(days=1))
    assert loaded.symbols == ("AMD", "NVDA") and loaded.fetched_at == T0


def test_undated_item_fetched_again_is_unchanged(archive: NewsArchive) -> None:
    archive.add([item("u", published=T0, fetched_at=T0, dated=False)])
    later = T0 + timedelta(hours=6)
    assert archive.add([item("u", published=later, fetched_at=later, dated=False)]) == AddResult(unchanged=1)
    assert archive.add([item("u", title="Edited", published=later, fetched_at=later, dated=False)]) == \
        AddResult(updated=1)


def test_a_failing_add_writes_nothing(archive: NewsArchive) -> None:
    archive.add([item("kept")])

    def batch() -> Iterator[NewsItem]:
        yield item("x1")
        yield item("kept", title="changed")
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        archive.add(batch())
    frame = archive.frame("NVDA")
    assert list(frame["id"]) == ["kept"] and list(frame["title"]) == ["Nvidia rises"]


def test_archive_persists_and_is_versioned_and_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "news.sqlite"
    with NewsArchive(path) as store:
        store.add([item("a")])
    with NewsArchive(path) as store:
        assert len(store.frame("NVDA")) == 1
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_foreign_or_newer_files_are_refused(tmp_path: Path) -> None:
    newer = tmp_path / "newer.sqlite"
    with NewsArchive(newer):
        pass
    conn = sqlite3.connect(newer)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(UserInputError, match="newer than this code"):
        NewsArchive(newer)
    foreign = tmp_path / "foreign.sqlite"
    conn = sqlite3.connect(foreign)
    conn.execute("CREATE TABLE prices (x)")
    conn.close()
    with pytest.raises(UserInputError, match="not a news archive"):
        NewsArchive(foreign)
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"this is not a database" * 100)
    with pytest.raises(UserInputError, match="cannot open news archive"):
        NewsArchive(garbage)


def test_sentiment_cache_is_keyed_by_id_text_hash_and_model(archive: NewsArchive) -> None:
    a = item("a")
    score = CachedScore(score=0.6, p_negative=0.1, p_neutral=0.2, p_positive=0.7)
    assert archive.store_scores("minilm-v1", {(a.id, a.text_hash): score}) == 1
    assert archive.cached_scores([(a.id, a.text_hash)], "minilm-v1") == {(a.id, a.text_hash): score}
    assert archive.cached_scores([(a.id, "stale-hash")], "minilm-v1") == {}
    assert archive.cached_scores([(a.id, a.text_hash)], "minilm-v2") == {}
    many = {(f"id{i}", "h"): score for i in range(1200)}  # more than one query chunk
    archive.store_scores("minilm-v1", many)
    assert len(archive.cached_scores(many.keys(), "minilm-v1")) == 1200


@pytest.mark.parametrize("values", [(1.5, 0.0, 0.0, 1.0), (0.0, 0.5, 0.5, 0.5), (0.0, -0.1, 0.6, 0.5)])
def test_cached_score_validation(values: tuple[float, float, float, float]) -> None:
    with pytest.raises(ValueError):
        CachedScore(*values)


def test_feed_state_round_trip(archive: NewsArchive) -> None:
    assert archive.feed_state("https://a.example/rss") is None
    state = FeedState("https://a.example/rss", '"abc"', "Thu, 04 Jan 2024 08:00:00 GMT", T0)
    archive.save_feed_state(state)
    assert archive.feed_state("https://a.example/rss") == state


def test_a_version_redated_into_the_future_hides_the_item_until_then(archive: NewsArchive) -> None:
    archive.add([item("a", published=T0)])
    redated = T0 + timedelta(days=2)
    archive.add([item("a", published=redated, fetched_at=T0 + timedelta(hours=1))])
    assert [i.published for i in archive.items_for("NVDA", until=T0 + 30 * 60 * SECOND)] == [T0]
    assert archive.items_for("NVDA", until=T0 + timedelta(hours=2)) == []  # v1 superseded, v2 not yet out
    assert [i.published for i in archive.items_for("NVDA", until=redated)] == [redated]


def test_frame_rule_matches_items_for_at_every_cutoff(archive: NewsArchive) -> None:
    hour = timedelta(hours=1)
    archive.add([item("a", published=T0), item("b", published=T0 + hour, fetched_at=T0 + 3 * hour),
                 item("c", published=T0 + 10 * hour, fetched_at=T0 + hour)])
    archive.add([item("a", title="a v2", published=T0, fetched_at=T0 + 2 * hour),
                 item("b", title="b v2", published=T0 + 5 * hour, fetched_at=T0 + 4 * hour)])
    archive.add([item("a", title="a v3 not about NVDA", symbols=("AMD",), fetched_at=T0 + 6 * hour)])
    frame = archive.frame("NVDA")
    assert frame["superseded_at"].isna().sum() == 2  # b v2 and c v1 are current; a's last version is AMD's
    for step in range(-1, 13):
        cutoff = T0 + step * hour
        usable = frame[(frame["visible_at"] <= cutoff)
                       & ~(frame["superseded_at"].notna() & (frame["superseded_at"] <= cutoff))]
        expected = sorted(zip(usable["id"], usable["title"], strict=True))
        got = sorted((i.id, i.title) for i in archive.items_for("NVDA", until=cutoff))
        assert got == expected, cutoff
    past = archive.frame("NVDA", until=T0 + 2 * hour + SECOND)
    assert past["superseded_at"].isna().tolist() == [False, True]  # a v1 (superseded at 2h), a v2
    assert archive.frame("TSLA").columns.tolist() == list(frame.columns) and archive.frame("TSLA").empty


def test_reading_what_became_visible_since_a_cutoff_adds_up_to_the_whole(archive: NewsArchive) -> None:
    """A live reader takes (c1, c2], (c2, c3], ...: the pieces are the whole frame's rows, each once and in order;
    ``count_visible`` counts what a reader up to a cutoff has seen."""
    hour = timedelta(hours=1)
    archive.add([item("a", published=T0), item("b", published=T0 + hour, fetched_at=T0 + 3 * hour),
                 item("c", published=T0 + 10 * hour, fetched_at=T0 + hour)])
    archive.add([item("a", title="a v2", published=T0, fetched_at=T0 + 2 * hour),
                 item("b", title="b v2", published=T0 + 5 * hour, fetched_at=T0 + 4 * hour)])
    until = T0 + 12 * hour
    whole = archive.frame("NVDA", until=until)
    cuts = [T0 + k * hour for k in (-1, 0, 1, 3, 4, 7, 12)]
    pieces = [archive.frame("NVDA", until=b, visible_after=a) for a, b in zip(cuts, cuts[1:])]
    for k, piece in enumerate(pieces):
        assert ((piece["visible_at"] > cuts[k]) & (piece["visible_at"] <= cuts[k + 1])).all()
        assert archive.count_visible("NVDA", cuts[k + 1]) == sum(len(p) for p in pieces[: k + 1])
    joined = [(r.id, r.version) for p in pieces for r in p.itertuples()]
    assert joined == [(r.id, r.version) for r in whole.itertuples()]  # in visibility order, each version once
    assert archive.frame("NVDA", visible_after=until).empty and archive.count_visible("TSLA", until) == 0
