"""Property test: any mapping handed to the config loader builds the frozen dataclass or raises ConfigError."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date

from hypothesis import example, given, settings
from hypothesis import strategies as st

from ground.config import from_mapping
from ground.errors import ConfigError


@dataclass(frozen=True)
class Window:
    bars: int = 20
    weight: float = 0.5

    def __post_init__(self) -> None:
        if self.bars < 1:
            raise ValueError(f"bars must be >= 1, got {self.bars}")
        if not 0.0 <= self.weight <= 1.0:
            raise ValueError(f"weight must be in [0, 1], got {self.weight}")


@dataclass(frozen=True)
class Small:
    name: str = "run"
    start: date | None = None
    seeds: tuple[int, ...] = (0,)
    verbose: bool = False
    window: Window = field(default_factory=Window)


_SCALAR = st.one_of(st.none(), st.booleans(), st.integers(), st.integers(min_value=-(10**400), max_value=10**400),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
                    st.sampled_from(["2024-01-31", "2024-02-30", "-3", "²", "٣", "1e999", "nan", "inf", ""]),
                    st.dates())
_VALUE = st.recursive(_SCALAR, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(st.text(max_size=8), inner, max_size=3)),
                      max_leaves=8)
_KEYS = st.one_of(st.sampled_from(["name", "start", "seeds", "verbose", "window", "windw", "bars"]),
                  st.text(max_size=8))


_EDGE = st.sampled_from(["2024-01-31", "2024-02-30", "-3", "²", "٣", "1e999", "nan", "inf", "", 10**400, -(10**400),
                         float("nan"), True, [], {}, ["1", "²"]])


@settings(max_examples=300, deadline=None)
@given(mapping=st.one_of(
    st.dictionaries(_KEYS, st.one_of(_VALUE, st.dictionaries(st.sampled_from(["bars", "weight", "bar"]), _SCALAR,
                                                             max_size=3)), max_size=5),
    # Targeted: the real keys with edge values, where type coercion is most likely to slip.
    st.dictionaries(st.sampled_from(["name", "start", "seeds", "verbose"]), _EDGE, max_size=4),
    st.builds(lambda w: {"window": w}, st.dictionaries(st.sampled_from(["bars", "weight"]), _EDGE, max_size=2)),
))
@example({"seeds": "²"})  # str.isdigit() is True, int() refuses it: was a bare ValueError
@example({"window": {"weight": 10**400}})  # float() overflows: was a bare OverflowError
def test_any_mapping_is_a_valid_config_or_a_config_error(mapping: dict) -> None:
    try:
        config = from_mapping(Small, mapping, "prop.toml")
    except ConfigError as exc:
        assert "prop.toml" in str(exc)
        return
    assert isinstance(config, Small) and isinstance(config.name, str) and isinstance(config.verbose, bool)
    assert config.start is None or isinstance(config.start, date)
    assert all(isinstance(s, int) and not isinstance(s, bool) for s in config.seeds)
    assert config.window.bars >= 1 and 0.0 <= config.window.weight <= 1.0 and not math.isnan(config.window.weight)
