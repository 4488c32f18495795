"""Property tests for the news path: any date string, feed document or import file either becomes valid
items or is refused with the project's own errors (DataError and its UnreliableDateError); nothing else."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from xml.sax.saxutils import escape

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feeds.news.config import FeedConfig
from feeds.news.dates import UnreliableDateError, parse_date
from feeds.news.importer import validate
from feeds.news.items import NewsItem
from feeds.news.parse import MAX_SUMMARY_CHARS, MAX_TITLE_CHARS, parse_feed
from feeds.news.sanitize import to_plain_text
from ground.errors import DataError

FETCHED = datetime(2024, 1, 6, 12, 0, tzinfo=timezone.utc)
FEED = FeedConfig(name="prop", url="https://feed.example/rss", symbols=("NVDA",))
SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

_DATE_TEXT = st.one_of(
    st.text(max_size=40),
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)).map(
        lambda d: d.strftime("%a, %d %b %Y %H:%M:%S +0000") if d.year >= 1000 else d.isoformat()),
    st.sampled_from(["2024年1月4日 10:00", "昨天 10:00", "2024-01-04T10:00:00+25:00", "Thu, 31 Feb 2024 10:00:00 GMT",
                     "2024/01/04 10:00", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59-12:00", "１０：００",
                     "Thu, 04 Jan 2024 10:00:00 XYZ", "2024-01-04T10:00:00.123456789Z"]),
)
_MARKUP = st.one_of(st.text(max_size=200), st.sampled_from([
    "<script>alert(1)</script>x", "&lt;script&gt;alert(1)&lt;/script&gt;", "<a href='javascript:evil()'>t</a>",
    "&amp;lt;b&amp;gt;bold", "\u202eevil\u200b", "<![CDATA[<b>x</b>]]>", "<" * 50]))


def assert_item_contract(item: NewsItem) -> None:
    assert item.id and item.title.strip() and len(item.title) <= MAX_TITLE_CHARS + 1
    assert len(item.summary) <= MAX_SUMMARY_CHARS + 1
    assert item.published.tzinfo is not None and item.fetched_at.tzinfo is not None
    for text in (item.title, item.summary):
        assert "<script" not in text.lower() and "javascript:" not in text.lower()
    assert all(s == s.upper() and s.strip() for s in item.symbols)
    assert item.link == "" or item.link.startswith(("http://", "https://"))


@settings(max_examples=200, deadline=None)
@given(raw=_DATE_TEXT)
def test_any_date_text_is_an_aware_instant_or_an_unreliable_date(raw: str) -> None:
    try:
        value = parse_date(raw)
    except UnreliableDateError as exc:
        assert isinstance(exc, DataError) and str(exc)
        return
    assert value.tzinfo is not None and value.utcoffset() == timedelta(0)


@settings(max_examples=100, deadline=None)
@given(markup=_MARKUP, limit=st.integers(min_value=1, max_value=300))
def test_any_markup_normalises_to_bounded_plain_text(markup: str, limit: int) -> None:
    text = to_plain_text(markup, limit)
    assert len(text) <= limit + 1 and "<script" not in text.lower() and "javascript:" not in text.lower()
    assert text == text.strip() and "  " not in text


@SETTINGS
@given(entries=st.lists(st.tuples(_MARKUP, _MARKUP, _DATE_TEXT, st.text(max_size=30)), max_size=5),
       cut=st.integers(min_value=0, max_value=2000), encoding=st.sampled_from(["utf-8", "gb18030", "latin-1"]))
def test_any_feed_document_gives_valid_items_and_never_raises(entries: list[tuple[str, str, str, str]], cut: int,
                                                              encoding: str) -> None:
    items = "".join(f"<item><title>{escape(t)}</title><description>{escape(s)}</description>"
                    f"<pubDate>{escape(d)}</pubDate><link>{escape(link)}</link></item>"
                    for t, s, d, link in entries)
    doc = f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>p</title>{items}</channel></rss>'
    body = doc.encode(encoding, errors="replace")[: cut or None]  # mislabelled and/or truncated on purpose
    parsed = parse_feed(body, FEED, fetched_at=FETCHED, content_type="application/rss+xml; charset=utf-8")
    assert len(parsed.items) + len(parsed.rejected) == parsed.entries
    for item in parsed.items:
        assert_item_contract(item)


@settings(max_examples=60, deadline=None)
@given(body=st.binary(max_size=600))
def test_any_bytes_as_a_feed_never_raise(body: bytes) -> None:
    parsed = parse_feed(body, FEED, fetched_at=FETCHED)
    for item in parsed.items:
        assert_item_contract(item)


_CELL = st.one_of(st.text(max_size=30), st.integers(), st.none(), st.lists(st.text(max_size=5), max_size=3),
                  st.floats(allow_nan=True))


@SETTINGS
@given(records=st.lists(st.dictionaries(st.sampled_from(["published", "title", "summary", "source", "link", "lang",
                                                         "symbols", "id", "extra"]), _CELL, max_size=7),
                        max_size=6))
def test_any_jsonl_import_gives_valid_items_or_bad_rows(tmp_path: Path, records: list[dict]) -> None:
    path = tmp_path / "news.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    try:
        items, bad, rows = validate(path, imported_at=FETCHED)
    except DataError:
        return
    assert len(items) + len(bad) == rows
    for item in items:
        assert_item_contract(item)


@SETTINGS
@given(text=st.text(max_size=400))
def test_any_csv_import_gives_valid_items_bad_rows_or_a_data_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "news.csv"
    path.write_text("published,title,symbols\n" + text, encoding="utf-8", errors="surrogatepass")
    try:
        items, bad, rows = validate(path, imported_at=FETCHED)
    except DataError:
        return
    assert len(items) + len(bad) == rows
    for item in items:
        assert_item_contract(item)
