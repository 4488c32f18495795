"""Feed bytes -> news items: feedparser for the structure, our own code for dates, text, language and symbols.

Every entry either becomes a NewsItem or a Rejection with a reason; a document feedparser finds ill-formed is
still read (feedparser recovers what it can) and reported with the reason. The text encoding is settled first
(feeds.news.encoding): a mislabelled document is decoded by what its bytes are, and one whose encoding cannot
be told is rejected whole, so mojibake is never stored. A document that declares XML entities is rejected
before parsing, as defusedxml does: feeds have no use for them, and they are how entity expansion ("billion
laughs", seconds of CPU even with expat's amplification limit) and external entities (XXE) get in.
"""
from __future__ import annotations

import io
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlparse

import feedparser

from feeds.news.config import FeedConfig
from feeds.news.dates import UnreliableDateError, parse_date
from feeds.news.encoding import UndecodableError, decode_document
from feeds.news.items import NewsItem, make_item_id
from feeds.news.sanitize import to_plain_text, truncate
from feeds.news.symbols import SymbolMatcher
from ground.lang import detect_language

logger = logging.getLogger(__name__)

MAX_TITLE_CHARS = 500
MAX_SUMMARY_CHARS = 4000
_TITLE_FROM_SUMMARY_CHARS = 200
# A published time this far past the fetch time marks an item as future-dated (clock skew allowance).
FUTURE_TOLERANCE = timedelta(minutes=5)
# Date fields in order of preference. Read with dict.get: FeedParserDict maps "updated" to "published" with
# a DeprecationWarning on RSS entries.
_DATE_KEYS = ("published", "updated", "created")
_ENTITY_DECL = re.compile(rb"<!ENTITY", re.IGNORECASE)


@dataclass(frozen=True)
class Rejection:
    """An entry that was not stored, and why."""

    entry: int
    title: str
    reason: str


@dataclass(frozen=True)
class ParsedFeed:
    """What one feed document gave: items, rejected entries, and whether the document was ill-formed."""

    items: tuple[NewsItem, ...]
    rejected: tuple[Rejection, ...]
    entries: int
    ill_formed: str = ""
    undated: int = 0
    future_dated: int = 0
    encoding_note: str = ""  # set when the bytes were not in the encoding the document or server declared


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _raw_summary(entry: dict[str, Any]) -> str:
    summary = _str(dict.get(entry, "summary"))
    if summary.strip():
        return summary
    for content in dict.get(entry, "content") or []:
        if isinstance(content, Mapping) and _str(content.get("value")).strip():
            return _str(content.get("value"))
    return ""


def _safe_link(value: Any) -> str:
    link = _str(value).strip()
    parsed = urlparse(link)
    return link if parsed.scheme in {"http", "https"} and parsed.netloc else ""


def _raw_date(entry: dict[str, Any]) -> str:
    for key in _DATE_KEYS:
        value = _str(dict.get(entry, key)).strip()
        if value:
            return value
    return ""


def _entry(
    entry: dict[str, Any], index: int, feed: FeedConfig, lang_hint: str, fetched_at: datetime,
    matcher: SymbolMatcher | None,
) -> NewsItem | Rejection:
    title = to_plain_text(_str(dict.get(entry, "title")), MAX_TITLE_CHARS)
    summary = to_plain_text(_raw_summary(entry), MAX_SUMMARY_CHARS)
    if not title and not summary:
        return Rejection(index, "", "no title or summary")
    if not title:
        title = truncate(summary, _TITLE_FROM_SUMMARY_CHARS)
    if summary == title:
        summary = ""
    raw_date = _raw_date(entry)
    dated = bool(raw_date)
    if dated:
        try:
            published = parse_date(raw_date, feed.date_tz)
        except UnreliableDateError as exc:
            return Rejection(index, title[:80], f"unreliable date: {exc}")
    else:
        published = fetched_at
    link = _safe_link(dict.get(entry, "link"))
    item_id = make_item_id(guid=_str(dict.get(entry, "id")), link=link, source=feed.name, title=title,
                           published=published if dated else None)
    text = f"{title} {summary}"
    symbols = feed.symbols + (matcher.match(text) if matcher is not None else ())
    return NewsItem(
        id=item_id, published=published, title=title, summary=summary, source=feed.name, link=link,
        lang=detect_language(text, lang_hint), symbols=symbols, fetched_at=fetched_at, dated=dated,
    )


def parse_feed(
    body: bytes, feed: FeedConfig, *, fetched_at: datetime, matcher: SymbolMatcher | None = None,
    content_type: str = "",
) -> ParsedFeed:
    """Parse one feed document fetched at `fetched_at` into items and rejections (never raises on bad input)."""
    try:
        decoded = decode_document(body, content_type)
    except UndecodableError as exc:
        logger.warning("%s: document rejected: %s", feed.name, exc)
        return ParsedFeed((), (), 0, f"rejected, text encoding unknown: {exc}")
    encoding_note = ""
    if decoded.mislabelled:
        encoding_note = f"declared {decoded.declared}, decoded as {decoded.encoding}"
        logger.warning("%s: %s", feed.name, encoding_note)
    body = decoded.body
    if _ENTITY_DECL.search(body):
        logger.warning("%s: document rejected: it declares XML entities", feed.name)
        return ParsedFeed((), (), 0, "rejected: the document declares XML entities (expansion and external "
                                     "entities are refused)")
    # The content type now says UTF-8, matching the rewritten bytes; feedparser treats a header set without
    # a content type as a non-XML answer, so one is always given.
    headers = {"content-type": decoded.content_type, "content-location": feed.url}
    try:
        # A BytesIO, never raw bytes: feedparser tries to open a bytes argument as a file name first. Its HTML
        # sanitizer is off because to_plain_text keeps no markup at all and also drops script *content*.
        result = feedparser.parse(io.BytesIO(body), response_headers=headers, sanitize_html=False)
    except Exception as exc:  # a third-party parser on untrusted bytes: reported, never raised
        return ParsedFeed((), (), 0, f"parser failed: {type(exc).__name__}: {exc}")
    ill_formed = ""
    if result.get("bozo"):
        error = result.get("bozo_exception")
        ill_formed = f"{type(error).__name__}: {error}" if error is not None else "ill-formed document"
    elif not body.strip():
        ill_formed = "empty document"
    elif not result.get("version"):
        ill_formed = "not an RSS, Atom or RDF feed (an HTML page or an error message?)"
    feed_meta = result.get("feed") or {}
    lang_hint = feed.lang or _str(dict.get(feed_meta, "language"))
    items: list[NewsItem] = []
    rejected: list[Rejection] = []
    seen: set[str] = set()
    entries = result.get("entries") or []
    for index, entry in enumerate(entries, start=1):
        outcome = _entry(entry, index, feed, lang_hint, fetched_at, matcher)
        if isinstance(outcome, NewsItem) and outcome.id in seen:
            outcome = Rejection(index, outcome.title[:80], "duplicate id within the feed")
        if isinstance(outcome, Rejection):
            rejected.append(outcome)
            continue
        seen.add(outcome.id)
        items.append(outcome)
    future = sum(item.published > item.fetched_at + FUTURE_TOLERANCE for item in items)
    if future:
        logger.warning("%s: %d item(s) dated in the future of their fetch time; they wait for their date",
                       feed.name, future)
    return ParsedFeed(tuple(items), tuple(rejected), len(entries), ill_formed,
                      undated=sum(not item.dated for item in items), future_dated=future, encoding_note=encoding_note)
