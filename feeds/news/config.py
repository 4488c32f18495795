"""Feeds configuration (TOML) validated once into frozen dataclasses.

Layout::

    archive = "news.sqlite"            # optional, relative to this file; --archive and BT_HYBRID_NEWS_DB win
    [defaults]                         # optional; per-feed values override timeout and max_bytes
    timeout = 10.0                     # seconds for connecting and for each read
    max_bytes = 5000000                # a larger answer is refused
    retries = 2                        # extra tries after a connection error, timeout, 429 or 5xx
    [symbols]                          # symbol -> company names matched in the text
    NVDA = ["NVIDIA", "Nvidia", "英伟达"]
    [[feeds]]
    name = "yahoo-nvda"                # unique; stored as the item's source
    url = "https://..."                # http or https
    lang = "en"                        # optional hint; the text's script decides for Chinese
    symbols = ["NVDA"]                 # every item of this feed is about these symbols
    tz = "America/New_York"            # optional; zone of dates without an offset
"""
from __future__ import annotations

import difflib
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import tzinfo
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from feeds.news.dates import CHINA_TZ
from feeds.news.symbols import SymbolMatcher
from ground.errors import UserInputError

DEFAULT_TIMEOUT_S = 10.0
DEFAULT_MAX_BYTES = 5_000_000
DEFAULT_RETRIES = 2

_TOP_KEYS = ("archive", "defaults", "symbols", "feeds")
_DEFAULT_KEYS = ("timeout", "max_bytes", "retries")
_FEED_KEYS = ("name", "url", "lang", "symbols", "timeout", "tz", "max_bytes")


@dataclass(frozen=True)
class FeedConfig:
    """One feed: where to fetch it and what its items are about."""

    name: str
    url: str
    lang: str = ""
    symbols: tuple[str, ...] = ()
    timeout: float = DEFAULT_TIMEOUT_S
    tz: str = ""
    max_bytes: int = DEFAULT_MAX_BYTES

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise UserInputError("feed name is empty", where=self.url, fix="give every feed a name")
        scheme = urlparse(self.url).scheme
        if scheme not in {"http", "https"} or not urlparse(self.url).netloc:
            raise UserInputError(f"feed url {self.url!r} is not an http(s) URL", where=f"feed {self.name!r}",
                                 fix="use a full URL such as https://example.com/rss.xml")
        if self.timeout <= 0 or self.max_bytes <= 0:
            raise UserInputError("timeout and max_bytes must be positive", where=f"feed {self.name!r}")
        object.__setattr__(self, "symbols", tuple(s.strip().upper() for s in self.symbols if s.strip()))
        if self.tz:
            _zone(self.tz, self.name)  # fail at the boundary, not at the first fetch

    @property
    def date_tz(self) -> tzinfo | None:
        """Zone for dates without an offset: the configured one, Beijing time for Chinese feeds, else None."""
        if self.tz:
            return _zone(self.tz, self.name)
        return CHINA_TZ if self.lang.lower().startswith("zh") else None


def _zone(name: str, feed: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UserInputError(f"unknown time zone {name!r}", where=f"feed {feed!r}",
                             fix="use an IANA name such as Asia/Shanghai or America/New_York") from None


@dataclass(frozen=True)
class NewsConfig:
    """All feeds plus the symbol -> names map used for matching."""

    feeds: tuple[FeedConfig, ...]
    symbol_names: tuple[tuple[str, tuple[str, ...]], ...] = ()
    retries: int = DEFAULT_RETRIES
    archive: Path | None = None

    def matcher(self) -> SymbolMatcher:
        """Matcher over every configured symbol (named ones and per-feed ones)."""
        extra = [s for feed in self.feeds for s in feed.symbols]
        return SymbolMatcher(dict(self.symbol_names), extra)


def _check_keys(table: Mapping[str, Any], known: tuple[str, ...], where: str) -> None:
    for key in table:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise UserInputError(f"unknown key {key!r}", where=where, fix=f"{hint}known keys: {', '.join(known)}")


def _typed(value: Any, kind: type | tuple[type, ...], key: str, where: str) -> Any:
    if isinstance(value, bool) or not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise UserInputError(f"{key} must be {names}, got {value!r}", where=where)
    return value


def _str_list(value: Any, key: str, where: str) -> tuple[str, ...]:
    items = _typed(value, list, key, where)
    return tuple(_typed(v, str, key, where) for v in items)


def parse_config(data: Mapping[str, Any], source: str = "<config>") -> NewsConfig:
    """Validate a decoded TOML document into a NewsConfig (unknown keys fail with close matches)."""
    _check_keys(data, _TOP_KEYS, source)
    defaults = _typed(data.get("defaults", {}), dict, "defaults", source)
    _check_keys(defaults, _DEFAULT_KEYS, f"{source} [defaults]")
    timeout = float(_typed(defaults.get("timeout", DEFAULT_TIMEOUT_S), (int, float), "timeout", source))
    max_bytes = _typed(defaults.get("max_bytes", DEFAULT_MAX_BYTES), int, "max_bytes", source)
    retries = _typed(defaults.get("retries", DEFAULT_RETRIES), int, "retries", source)
    if retries < 0:
        raise UserInputError("retries must be >= 0", where=f"{source} [defaults]")
    symbols = _typed(data.get("symbols", {}), dict, "symbols", source)
    names = tuple(
        (sym.strip().upper(), _str_list(aliases, f"symbols.{sym}", source)) for sym, aliases in symbols.items()
    )
    feeds = []
    for i, raw in enumerate(_typed(data.get("feeds", []), list, "feeds", source), start=1):
        where = f"{source} [[feeds]] #{i}"
        _typed(raw, dict, "feeds entry", where)
        _check_keys(raw, _FEED_KEYS, where)
        for required in ("name", "url"):
            if required not in raw:
                raise UserInputError(f"feed has no {required!r}", where=where, fix=f"add {required} = \"...\"")
        feeds.append(FeedConfig(
            name=_typed(raw["name"], str, "name", where),
            url=_typed(raw["url"], str, "url", where).strip(),
            lang=_typed(raw.get("lang", ""), str, "lang", where),
            symbols=_str_list(raw.get("symbols", []), "symbols", where),
            timeout=float(_typed(raw.get("timeout", timeout), (int, float), "timeout", where)),
            tz=_typed(raw.get("tz", ""), str, "tz", where),
            max_bytes=_typed(raw.get("max_bytes", max_bytes), int, "max_bytes", where),
        ))
    seen: set[str] = set()
    for feed in feeds:
        if feed.name in seen:
            raise UserInputError(f"feed name {feed.name!r} is used twice", where=source, fix="make names unique")
        seen.add(feed.name)
    archive = data.get("archive")
    archive_path = Path(_typed(archive, str, "archive", source)).expanduser() if archive is not None else None
    return NewsConfig(tuple(feeds), names, retries, archive_path)


def load_config(path: str | Path) -> NewsConfig:
    """Read and validate a feeds TOML file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserInputError("feeds config not found", where=str(path),
                             fix="pass --config with an existing TOML file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserInputError(f"cannot read feeds config: {exc}", where=str(path)) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UserInputError(f"invalid TOML: {exc}", where=str(path), fix="fix the syntax") from None
    config = parse_config(data, str(path))
    if config.archive is not None and not config.archive.is_absolute():
        # A relative archive path means relative to the config file, not to wherever the command runs.
        config = replace(config, archive=path.parent / config.archive)
    return config
