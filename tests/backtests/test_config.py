"""Run configuration: presets, overrides, and one clear error per bad key or value."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from backtests.cli.options import parse_date, parse_override
from backtests.config import RunConfig, load_config
from ground.config import to_mapping
from ground.errors import ConfigError, UserInputError


def test_default_preset_loads_and_is_frozen() -> None:
    cfg = load_config("default")
    assert isinstance(cfg, RunConfig)
    assert cfg.run.symbols == ("NVDA",)
    assert cfg.costs.commission_bps == 5.0
    with pytest.raises(AttributeError):
        cfg.run.cash = 1.0  # type: ignore[misc]


def test_overrides_are_typed_and_applied() -> None:
    cfg = load_config("default", {"run.start": "2020-01-01", "sma.fast": 10, "run.symbols": ["AAPL", "MSFT"]})
    assert cfg.run.start == date(2020, 1, 1)
    assert cfg.sma.fast == 10
    assert cfg.run.symbols == ("AAPL", "MSFT")


def test_unknown_key_suggests_close_match() -> None:
    with pytest.raises(ConfigError, match=r"unknown config key 'costs.comission_bps'.*commission_bps"):
        load_config("default", {"costs.comission_bps": 3})


def test_unknown_section_is_an_error() -> None:
    with pytest.raises(ConfigError, match="unknown config key 'smaa'.*'sma'"):
        load_config("default", {"smaa.fast": 3})


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("sma.fast", 200, "fast < slow"),
        ("run.cash", -5, "cash must be positive"),
        ("run.data", "yahoo", "data must be one of"),
        ("sma.fast", "ten", "must be an integer"),
        ("run.start", "2020-13-01", "must be a date"),
        ("costs.invest_fraction", 1.5, "invest_fraction"),
    ],
)
def test_bad_values_name_the_rule(key: str, value: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config("default", {key: value})


def test_bad_toml_file_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[run\nstrategy = 1\n")
    with pytest.raises(ConfigError, match="invalid TOML") as info:
        load_config(bad)
    assert str(bad) in str(info.value)


def test_missing_preset_lists_presets() -> None:
    with pytest.raises(ConfigError, match="presets: .*default"):
        load_config("nosuchpreset")


def test_round_trip_through_mapping() -> None:
    cfg = load_config("default", {"run.start": "2021-02-03"})
    again = load_config("default", {f"{s}.{k}": v for s, sec in to_mapping(cfg).items() for k, v in sec.items()})
    assert again == cfg


@pytest.mark.parametrize(("text", "want"), [("2020", date(2020, 1, 1)), ("2020-03", date(2020, 3, 1)),
                                            ("2020-03-15", date(2020, 3, 15))])
def test_parse_date_forms(text: str, want: date) -> None:
    assert parse_date(text, "--from") == want


@pytest.mark.parametrize("text", ["20x0", "2020-02-30", "yesterday"])
def test_parse_date_rejects(text: str) -> None:
    with pytest.raises(UserInputError, match="bad date"):
        parse_date(text, "--from")


@pytest.mark.parametrize(("text", "want"), [("2023", date(2023, 12, 31)), ("2024-02", date(2024, 2, 29)),
                                            ("2024-02-10", date(2024, 2, 10))])
def test_parse_end_date_covers_the_period(text: str, want: date) -> None:
    assert parse_date(text, "--to", end=True) == want


def test_baselines_must_be_price_only_strategies() -> None:
    with pytest.raises(ConfigError, match="baseline 'gm' is not a price-only strategy"):
        load_config("default", {"report.baselines": ["gm"]})
    with pytest.raises(ConfigError, match="'smaa'.*'sma'"):
        load_config("default", {"report.baselines": ["smaa"]})


def test_bad_sentiment_timezone_fails_at_load() -> None:
    with pytest.raises(UserInputError, match="time zone"):
        load_config("default", {"sentiment.timezone": "America/NewYork"})


def test_none_round_trips_as_empty_string() -> None:
    cfg = load_config("adr")
    assert cfg.walkforward.max_train_bars is None
    assert to_mapping(cfg)["walkforward"]["max_train_bars"] == ""
    again = load_config("adr", {"walkforward.max_train_bars": to_mapping(cfg)["walkforward"]["max_train_bars"]})
    assert again.walkforward.max_train_bars is None


def test_parse_override() -> None:
    assert parse_override("sma.fast=10") == ("sma.fast", 10)
    assert parse_override("run.symbols=['A','B']") == ("run.symbols", ["A", "B"])
    assert parse_override("run.data=bundled") == ("run.data", "bundled")
    with pytest.raises(UserInputError, match="bad override"):
        parse_override("fast10")
