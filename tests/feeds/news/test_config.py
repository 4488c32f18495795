from __future__ import annotations

from pathlib import Path

import pytest

from feeds.news.config import CHINA_TZ, FeedConfig, load_config, parse_config
from ground.errors import UserInputError

REPO_CONFIG = Path(__file__).resolve().parents[3] / "backtests" / "feeds.toml"


def test_shipped_config_lists_english_and_chinese_finance_feeds() -> None:
    config = load_config(REPO_CONFIG)
    langs = {feed.lang for feed in config.feeds}
    assert {"en", "zh"} <= langs
    assert any("feeds.finance.yahoo.com" in feed.url and feed.symbols == ("NVDA",) for feed in config.feeds)
    assert all(feed.url.startswith("https://") for feed in config.feeds)
    assert config.matcher().match("英伟达发布新芯片") == ("NVDA",)


def test_defaults_apply_and_feeds_override() -> None:
    config = parse_config({
        "defaults": {"timeout": 3, "max_bytes": 1000, "retries": 0},
        "symbols": {"nvda": ["Nvidia"]},
        "feeds": [
            {"name": "a", "url": "https://a.example/rss", "symbols": ["nvda"]},
            {"name": "b", "url": "http://b.example/rss", "timeout": 1.5, "lang": "zh"},
        ],
    })
    a, b = config.feeds
    assert (a.timeout, a.max_bytes, a.symbols) == (3.0, 1000, ("NVDA",))
    assert b.timeout == 1.5 and config.retries == 0
    assert a.date_tz is None and b.date_tz is CHINA_TZ
    assert dict(config.symbol_names) == {"NVDA": ("Nvidia",)}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"feed": []}, "did you mean 'feeds'"),
        ({"defaults": {"timout": 3}}, "did you mean 'timeout'"),
        ({"feeds": [{"name": "a", "url": "https://a.example", "symbol": ["X"]}]}, "did you mean 'symbols'"),
        ({"feeds": [{"name": "a"}]}, "feed has no 'url'"),
        ({"feeds": [{"name": "a", "url": "ftp://a.example/x"}]}, "not an http"),
        ({"feeds": [{"name": "a", "url": "https://a.example", "tz": "Mars/Base"}]}, "unknown time zone"),
        ({"feeds": [{"name": "a", "url": "https://a.example", "timeout": "10"}]}, "timeout must be"),
        ({"feeds": [{"name": "a", "url": "https://a.example"}, {"name": "a", "url": "https://b.example"}]},
         "used twice"),
        ({"symbols": {"NVDA": "Nvidia"}}, "must be list"),
    ],
)
def test_invalid_config_fails_with_what_and_how(data: dict, message: str) -> None:
    with pytest.raises(UserInputError, match=message):
        parse_config(data, "test.toml")


def test_load_config_errors(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match="not found"):
        load_config(tmp_path / "missing.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[[feeds]\nname = 1\n", encoding="utf-8")
    with pytest.raises(UserInputError, match="invalid TOML"):
        load_config(broken)


def test_feed_config_is_frozen() -> None:
    feed = FeedConfig(name="a", url="https://a.example/rss")
    with pytest.raises(AttributeError):
        feed.name = "b"  # type: ignore[misc]


def test_relative_archive_path_is_relative_to_the_config_file(tmp_path: Path) -> None:
    path = tmp_path / "conf" / "feeds.toml"
    path.parent.mkdir()
    path.write_text('archive = "data/news.sqlite"\n', encoding="utf-8")
    assert load_config(path).archive == tmp_path / "conf" / "data" / "news.sqlite"
    path.write_text('archive = "/srv/news.sqlite"\n', encoding="utf-8")
    assert load_config(path).archive == Path("/srv/news.sqlite")
