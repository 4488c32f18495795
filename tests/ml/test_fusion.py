"""Fusion: a table of GM/sentiment cases in each mode, renormalisation without news, config validation."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from ground.errors import InvalidValue
from ground.signals import FUSED_COLUMNS
from ml.errors import ModelError
from ml.fusion import BUY, HOLD, SELL, FusionConfig, fuse

CFG = FusionConfig(w_gm=0.6, w_sentiment=0.4, buy_threshold=0.1, sell_threshold=-0.1, min_confidence=0.0,
                   no_opinion="hold")
NAN = math.nan

# (mode, gm_prob, sent_score, sent_conf, sent_count) -> (action, confidence, gm_only)
CASES = [
    # hybrid, both sources present: score = 0.6 * (2p - 1) + 0.4 * score * conf
    ("hybrid", 0.70, 0.5, 0.8, 3.0, BUY, 0.6 * 0.4 + 0.4 * 0.4, False),
    ("hybrid", 0.30, -0.5, 1.0, 2.0, SELL, 0.6 * 0.4 + 0.4 * 0.5, False),
    ("hybrid", 0.70, -1.0, 1.0, 5.0, SELL, 0.16, False),  # disagreement: 0.24 - 0.40, confident news wins
    ("hybrid", 0.55, 0.1, 0.5, 1.0, HOLD, 0.6 * 0.1 + 0.4 * 0.05, False),  # 0.08 < buy threshold
    # no news items: the GM alone decides with its weight renormalised to 1
    ("hybrid", 0.56, NAN, NAN, 0.0, BUY, 0.12, True),  # 0.12 renormalised; 0.6 * 0.12 would hold
    ("hybrid", 0.60, 0.9, 0.9, 0.0, BUY, 0.2, True),  # count 0 overrides a stale score
    ("hybrid", 0.35, NAN, 0.0, NAN, SELL, 0.3, True),
    # no GM forecast: sentiment alone; neither: hold with zero confidence
    ("hybrid", NAN, 0.5, 0.6, 4.0, BUY, 0.3, False),
    ("hybrid", NAN, NAN, NAN, 0.0, HOLD, 0.0, False),
    # gm mode ignores sentiment
    ("gm", 0.70, -1.0, 1.0, 5.0, BUY, 0.4, True),
    ("gm", 0.50, 1.0, 1.0, 5.0, HOLD, 0.0, True),
    # sentiment mode ignores the GM; no items -> hold
    ("sentiment", 0.90, -0.5, 0.5, 2.0, SELL, 0.25, False),
    ("sentiment", 0.90, NAN, NAN, 0.0, HOLD, 0.0, False),
]


def test_fusion_table() -> None:
    index = pd.bdate_range("2024-01-01", periods=len(CASES), name="date")
    out = {}
    for mode in ("hybrid", "gm", "sentiment"):
        rows = [c for c in CASES if c[0] == mode]
        idx = index[[i for i, c in enumerate(CASES) if c[0] == mode]]
        gm = pd.DataFrame({"gm_prob": [c[1] for c in rows]}, index=idx)
        sent = pd.DataFrame(
            {"sent_score": [c[2] for c in rows], "sent_conf": [c[3] for c in rows], "sent_count": [c[4] for c in rows]},
            index=idx,
        )
        out[mode] = fuse(gm, sent, CFG, mode)
        assert tuple(out[mode].columns) == FUSED_COLUMNS
        for k, c in enumerate(rows):
            got = out[mode].iloc[k]
            assert got["action"] == c[5], (mode, c)
            assert got["confidence"] == pytest.approx(c[6]), (mode, c)
            assert bool(got["gm_only"]) == c[7], (mode, c)
            assert 0.0 <= got["confidence"] <= 1.0


def test_missing_sentiment_frame_means_gm_only_and_dates_align() -> None:
    idx = pd.bdate_range("2024-03-01", periods=3, name="date")
    gm = pd.DataFrame({"gm_prob": [0.7, 0.5, 0.2]}, index=idx)
    out = fuse(gm, None, CFG, "hybrid")
    assert list(out["action"]) == [BUY, HOLD, SELL] and out["gm_only"].all()
    assert out["gm_vote"].to_numpy() == pytest.approx([0.4, 0.0, -0.6])
    sent = pd.DataFrame({"sent_score": [1.0], "sent_conf": [1.0]}, index=idx[1:2])  # news on one bar only
    mixed = fuse(gm, sent, CFG, "hybrid")
    assert list(mixed["gm_only"]) == [True, False, True]
    assert mixed["score"].iloc[1] == pytest.approx(0.4) and np.isnan(mixed["sent_vote"].iloc[0])


def test_min_confidence_gates_actions() -> None:
    idx = pd.bdate_range("2024-03-01", periods=2)
    gm = pd.DataFrame({"gm_prob": [0.6, 0.9]}, index=idx)
    strict = FusionConfig(buy_threshold=0.1, sell_threshold=-0.1, min_confidence=0.5)
    assert list(fuse(gm, None, strict, "gm")["action"]) == [HOLD, BUY]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"w_gm": -0.1}, "weights"),
        ({"w_gm": 0.0, "w_sentiment": 0.0}, "weights"),
        ({"buy_threshold": -0.2}, "buy_threshold"),
        ({"sell_threshold": 0.1}, "sell_threshold < 0"),
        ({"min_confidence": 1.5}, "min_confidence"),
        ({"w_gm": math.nan}, "finite"),
    ],
)
def test_config_validation(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(InvalidValue, match=message):
        FusionConfig(**kwargs)


def test_bad_mode_and_inputs() -> None:
    gm = pd.DataFrame({"gm_prob": [0.6]}, index=pd.bdate_range("2024-01-01", periods=1))
    with pytest.raises(ModelError, match="did you mean 'hybrid'"):
        fuse(gm, None, CFG, "hybird")
    with pytest.raises(ModelError, match="sentiment signals"):
        fuse(gm, None, CFG, "sentiment")
    with pytest.raises(ModelError, match="gm_prob"):
        fuse(gm.rename(columns={"gm_prob": "p"}), None, CFG)


def test_no_opinion_goes_flat_by_default_and_holds_when_asked() -> None:
    gm = pd.DataFrame({"gm_prob": [0.5, 0.5, 0.8, NAN]}, index=pd.date_range("2024-01-01", periods=4))
    flat = fuse(gm, None, FusionConfig(), "gm")
    assert list(flat["action"]) == [SELL, SELL, BUY, SELL] and list(flat["confidence"][:2]) == [0.0, 0.0]
    held = fuse(gm, None, FusionConfig(no_opinion="hold"), "gm")
    assert list(held["action"]) == [HOLD, HOLD, BUY, HOLD]
    with pytest.raises(InvalidValue, match="did you mean 'flat'"):
        FusionConfig(no_opinion="flatt")
