from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from feeds.news.items import NewsItem, make_item_id, text_hash

T0 = datetime(2024, 1, 4, 14, 30, tzinfo=timezone.utc)


def _item(**overrides: object) -> NewsItem:
    values: dict[str, object] = dict(id="abc", published=T0, title="Nvidia rises", summary="", source="s",
                                     link="", lang="en", symbols=("nvda",), fetched_at=T0)
    values.update(overrides)
    return NewsItem(**values)  # type: ignore[arg-type]


def test_id_prefers_guid_then_link_then_text() -> None:
    guid = make_item_id(guid="tag:example.com,2024:1", link="https://a/1", source="s", title="t", published=T0)
    assert guid == make_item_id(guid="tag:example.com,2024:1", link="https://other", source="x", title="u")
    link = make_item_id(link="https://a/1", source="s", title="t", published=T0)
    assert link == make_item_id(link=" https://a/1 ", source="other", title="different")
    text = make_item_id(source="s", title="t", published=T0)
    assert len({guid, link, text}) == 3
    assert text != make_item_id(source="s", title="t", published=T0 + timedelta(seconds=1))
    assert make_item_id(source="s", title="t") == make_item_id(source="s", title=" t ")


def test_short_guids_are_namespaced_by_source() -> None:
    assert make_item_id(guid="1", source="feed-a") != make_item_id(guid="1", source="feed-b")
    long_guid = "https://example.com/news/2024/01/04/item"
    assert make_item_id(guid=long_guid, source="feed-a") == make_item_id(guid=long_guid, source="feed-b")


def test_item_normalises_times_and_symbols() -> None:
    eastern = timezone(timedelta(hours=-5))
    item = _item(published=datetime(2024, 1, 4, 9, 30, tzinfo=eastern), symbols=("nvda", "AMD", " NVDA "))
    assert item.published == datetime(2024, 1, 4, 14, 30, tzinfo=timezone.utc)
    assert item.published.utcoffset() == timedelta(0)
    assert item.symbols == ("AMD", "NVDA")


@pytest.mark.parametrize("field", ["published", "fetched_at"])
def test_item_rejects_naive_times(field: str) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        _item(**{field: datetime(2024, 1, 4, 14, 30)})


def test_item_requires_id_and_title() -> None:
    with pytest.raises(ValueError, match="id"):
        _item(id="")
    with pytest.raises(ValueError, match="title"):
        _item(title="  ")


def test_text_hash_follows_text_and_visible_at_waits_for_both_times() -> None:
    item = _item()
    assert item.text_hash == text_hash("Nvidia rises", "")
    assert item.text_hash != _item(summary="more").text_hash
    future = _item(published=T0 + timedelta(days=3))
    assert future.visible_at == T0 + timedelta(days=3)
    late_fetch = _item(fetched_at=T0 + timedelta(hours=2))
    assert late_fetch.visible_at == T0 + timedelta(hours=2)
