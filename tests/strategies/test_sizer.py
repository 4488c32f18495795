"""Confidence sizing rule: a table of cases (threshold, linear, Kelly, cap, volatility target, shorting)."""
from __future__ import annotations

import math

import pytest

from ground.config import from_mapping
from ground.errors import ConfigError
from strategies.sizer import SizerConfig, SizerConfigError, target_exposure

LINEAR = SizerConfig()  # min 0.05, full at 0.5, cap 0.95
KELLY = SizerConfig(mapping="kelly", kelly_fraction=0.5, payoff=1.0)
VOL = SizerConfig(vol_target=0.2)
SHORT = SizerConfig(allow_short=True)
NAN = math.nan

CASES = [
    # (config, confidence, direction, daily volatility, expected exposure)
    (LINEAR, 0.04, 1, NAN, 0.0),  # below the threshold
    (LINEAR, 0.05, 1, NAN, 0.0),  # at the threshold the ramp starts from zero
    (LINEAR, 0.275, 1, NAN, 0.95 * 0.5),  # half way up the ramp
    (LINEAR, 0.5, 1, NAN, 0.95),  # full confidence reaches the cap
    (LINEAR, 0.9, 1, NAN, 0.95),  # never past the cap
    (LINEAR, NAN, 1, NAN, 0.0),  # no confidence, no position
    (LINEAR, 0.5, -1, NAN, 0.0),  # long/flat by default: a sell is flat
    (SHORT, 0.275, -1, NAN, -0.95 * 0.5),  # shorting allowed: same rule, negative
    (KELLY, 0.2, 1, NAN, 0.5 * (0.6 - 0.4)),  # p = 0.6, even payoff: Kelly 0.2, half of it
    (SizerConfig(mapping="kelly", payoff=2.0), 0.2, 1, NAN, 0.5 * (0.6 - 0.4 / 2)),
    (KELLY, 1.0, 1, NAN, 0.5),  # certainty: the fraction of Kelly, still under the cap
    (KELLY, 0.04, 1, NAN, 0.0),
    (SizerConfig(mapping="kelly", kelly_fraction=1.0, cap=0.3), 0.8, 1, NAN, 0.3),
    (VOL, 0.5, 1, 0.02, 0.95 * 0.2 / (0.02 * math.sqrt(252))),  # high volatility scales down
    (VOL, 0.5, 1, 0.005, 0.95),  # low volatility would lever up: capped
    (VOL, 0.5, 1, NAN, 0.95),  # unknown volatility: unscaled
]


@pytest.mark.parametrize(("cfg", "confidence", "direction", "vol", "expected"), CASES)
def test_target_exposure_table(
    cfg: SizerConfig, confidence: float, direction: int, vol: float, expected: float
) -> None:
    assert target_exposure(confidence, direction, vol, cfg) == pytest.approx(expected)


def test_direction_must_be_a_side() -> None:
    with pytest.raises(ValueError, match="direction"):
        target_exposure(0.5, 0, NAN, LINEAR)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mapping": "kely"}, "did you mean 'kelly'"),
        ({"min_confidence": 0.6, "full_confidence": 0.5}, "min_confidence"),
        ({"cap": 1.5}, "cap"),
        ({"kelly_fraction": 0.0}, "kelly_fraction"),
        ({"payoff": -1.0}, "payoff"),
        ({"vol_target": 0.0}, "vol_target"),
    ],
)
def test_config_validation(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(SizerConfigError, match=message):
        SizerConfig(**kwargs)  # type: ignore[arg-type]


def test_from_mapping_rejects_unknown_keys_with_suggestions() -> None:
    assert from_mapping(SizerConfig, {"cap": 0.5, "mapping": "kelly"}, "t.toml") == SizerConfig(cap=0.5, mapping="kelly")
    with pytest.raises(ConfigError, match="did you mean 'min_confidence'"):
        from_mapping(SizerConfig, {"min_confidenc": 0.1}, "t.toml")
