"""Feeds configuration (TOML), loaded by the project's one config loader into frozen dataclasses.

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

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import tzinfo
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from feeds.news.dates import CHINA_TZ
from feeds.news.symbols import SymbolMatcher
from ground.config import from_mapping, load_toml
from ground.errors import ConfigError, InvalidValue

DEFAULT_CONFIG = Path(__file__).with_name("feeds.toml")  # the shipped list of public finance feeds
DEFAULT_TIMEOUT_S = 10.0
DEFAULT_MAX_BYTES = 5_000_000
DEFAULT_RETRIES = 2


def _zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidValue("tz", f"unknown time zone {name!r}",
                           "use an IANA name such as Asia/Shanghai or America/New_York") from None


@dataclass(frozen=True)
class FeedDefaults:
    """The ``[defaults]`` table: per-feed values override timeout and max_bytes."""

    timeout: float = DEFAULT_TIMEOUT_S
    max_bytes: int = DEFAULT_MAX_BYTES
    retries: int = DEFAULT_RETRIES

    def __post_init__(self) -> None:
        if self.timeout <= 0:
            raise InvalidValue("timeout", f"must be positive, got {self.timeout}")
        if self.max_bytes <= 0:
            raise InvalidValue("max_bytes", f"must be positive, got {self.max_bytes}")
        if self.retries < 0:
            raise InvalidValue("retries", f"must be >= 0, got {self.retries}")


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
            raise InvalidValue("name", "feed name is empty", "give every feed a name")
        object.__setattr__(self, "url", self.url.strip())
        parsed = urlparse(self.url)
        if parsed.scheme not in {"http", "https"} or not parsed.netloc:
            raise InvalidValue("url", f"{self.url!r} is not an http(s) URL",
                               "use a full URL such as https://example.com/rss.xml")
        if self.timeout <= 0:
            raise InvalidValue("timeout", f"must be positive, got {self.timeout}")
        if self.max_bytes <= 0:
            raise InvalidValue("max_bytes", f"must be positive, got {self.max_bytes}")
        object.__setattr__(self, "symbols", tuple(s.strip().upper() for s in self.symbols if s.strip()))
        if self.tz:
            _zone(self.tz)  # fail at the boundary, not at the first fetch

    @property
    def date_tz(self) -> tzinfo | None:
        """Zone for dates without an offset: the configured one, Beijing time for Chinese feeds, else None."""
        if self.tz:
            return _zone(self.tz)
        return CHINA_TZ if self.lang.lower().startswith("zh") else None


@dataclass(frozen=True)
class NewsConfig:
    """All feeds, the symbol -> company names map used for matching, and an optional archive path."""

    feeds: tuple[FeedConfig, ...] = ()
    symbols: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    defaults: FeedDefaults = field(default_factory=FeedDefaults)
    archive: Path | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "symbols", {k.strip().upper(): tuple(v) for k, v in self.symbols.items()})
        seen: set[str] = set()
        for feed in self.feeds:
            if feed.name in seen:
                raise InvalidValue("feeds", f"feed name {feed.name!r} is used twice", "make names unique")
            seen.add(feed.name)

    @property
    def retries(self) -> int:
        """Extra tries after a connection error, timeout, 429 or 5xx."""
        return self.defaults.retries

    def matcher(self) -> SymbolMatcher:
        """Matcher over every configured symbol (named ones and per-feed ones)."""
        extra = [s for feed in self.feeds for s in feed.symbols]
        return SymbolMatcher(dict(self.symbols), extra)


def parse_config(data: Mapping[str, Any], source: str = "<config>") -> NewsConfig:
    """Validate a decoded TOML document into a NewsConfig (unknown keys fail with close matches).

    Feeds take ``timeout`` and ``max_bytes`` from ``[defaults]`` unless they set their own.
    """
    document = dict(data)
    defaults = data.get("defaults", {})
    if isinstance(defaults, dict) and isinstance(data.get("feeds"), list):
        inherited = {k: defaults[k] for k in ("timeout", "max_bytes") if k in defaults}
        document["feeds"] = [{**inherited, **f} if isinstance(f, dict) else f for f in data["feeds"]]
    archive = document.pop("archive", None)
    config = from_mapping(NewsConfig, document, source)
    if archive is not None:
        if not isinstance(archive, str) or not archive.strip():
            raise ConfigError(f"archive must be a file path, got {archive!r}", source)
        config = replace(config, archive=Path(archive).expanduser())
    return config


def load_config(path: str | Path = DEFAULT_CONFIG) -> NewsConfig:
    """Read and validate a feeds TOML file."""
    path = Path(path)
    config = parse_config(load_toml(path, "feeds config", "pass --config with an existing TOML file"), str(path))
    if config.archive is not None and not config.archive.is_absolute():
        # A relative archive path means relative to the config file, not to wherever the command runs.
        config = replace(config, archive=path.parent / config.archive)
    return config
