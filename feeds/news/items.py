"""The news item contract (DESIGN.md "News item") and its stable id."""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone

_URI_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
# A guid shorter than this that is not a URI ("1", "42") is only unique inside its own feed.
_GLOBAL_GUID_MIN_LEN = 16


def _digest(*parts: str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8"))
        h.update(b"\x1f")
    return h.hexdigest()[:32]


def make_item_id(
    *, guid: str = "", link: str = "", source: str = "", title: str = "", published: datetime | None = None
) -> str:
    """Stable id: a hash of the guid, else of the link, else of source + title (+ published when known).

    Short non-URI guids are namespaced by source because feeds reuse "1", "2"... and two unrelated items must
    not become versions of each other. The published time is left out when the source gave none, so that an
    undated item keeps its id across fetches.
    """
    guid, link = guid.strip(), link.strip()
    if guid:
        if _URI_SCHEME.match(guid) or len(guid) >= _GLOBAL_GUID_MIN_LEN:
            return _digest("guid", guid)
        return _digest("guid", source, guid)
    if link:
        return _digest("link", link)
    stamp = published.astimezone(timezone.utc).isoformat() if published is not None else ""
    return _digest("text", source, title.strip(), stamp)


def text_hash(title: str, summary: str) -> str:
    """Hash of the text a sentiment model reads, so cached scores go stale when the text changes."""
    return _digest("text-v1", title, summary)


def _as_utc(value: datetime, name: str) -> datetime:
    if not isinstance(value, datetime):
        raise TypeError(f"NewsItem.{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"NewsItem.{name} must be timezone-aware (got naive {value.isoformat()})")
    return value.astimezone(timezone.utc)


@dataclass(frozen=True)
class NewsItem:
    """One version of one news item, as seen at `fetched_at`.

    `published` and `fetched_at` are UTC and tz-aware. `dated` is False when the source gave no date and
    `published` is therefore the first-seen time (never earlier than the truth, so point-in-time safe).
    """

    id: str
    published: datetime
    title: str
    summary: str
    source: str
    link: str
    lang: str
    symbols: tuple[str, ...]
    fetched_at: datetime
    dated: bool = field(default=True)
    # when the archive first saw this version (None: at `fetched_at`); an import backdates `fetched_at` to the
    # claimed publication time but records here when it really arrived
    first_seen: datetime | None = field(default=None)
    # True when `published` is the vendor's claim that no fetch of ours bounds (imported history)
    vendor_time: bool = field(default=False)

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("NewsItem.id must not be empty")
        if not self.title.strip():
            raise ValueError(f"NewsItem {self.id}: title must not be empty")
        object.__setattr__(self, "published", _as_utc(self.published, "published"))
        object.__setattr__(self, "fetched_at", _as_utc(self.fetched_at, "fetched_at"))
        if self.first_seen is not None:
            object.__setattr__(self, "first_seen", _as_utc(self.first_seen, "first_seen"))
        symbols = tuple(sorted({s.strip().upper() for s in self.symbols if s.strip()}))
        object.__setattr__(self, "symbols", symbols)

    @property
    def text_hash(self) -> str:
        """Hash of title and summary (the key of the sentiment cache together with id and model version)."""
        return text_hash(self.title, self.summary)

    @property
    def visible_at(self) -> datetime:
        """Earliest moment a decision may use this version: published AND seen (future-dated items wait)."""
        return max(self.published, self.fetched_at)
