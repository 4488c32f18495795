"""The fusion layer: a weighted vote of the GM forecast and the news sentiment into buy/sell/hold plus confidence.

Each source casts a vote in ``[-1, 1]``: the GM votes ``2 * gm_prob - 1`` (its calibrated probability already
carries its confidence: 0.5 is no opinion, 0.8 a strong one), the sentiment votes ``sent_score * sent_conf``. The
fused score is the weighted mean of the votes that exist; a bar with no news items has no sentiment vote (no
opinion is not a neutral opinion), so the GM decides alone with its weight renormalised to 1 and the bar is flagged
``gm_only`` for the report. The action follows from thresholds on the score; the confidence is ``|score|``.

A bar on which no source has an opinion (no forecast, or a GM that found no skill on its validation data and so
votes exactly 0, and no news) is handled as ``no_opinion`` says: ``flat`` sells to zero exposure (a sell with
confidence 0, which every sizing rule maps to a zero target, short or not), ``hold`` keeps whatever position the
last opinion left. The report names the choice.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ground.choices import choice_hint
from ground.errors import InvalidValue
from ground.signals import FUSED_COLUMNS, GM_PROB, SENTIMENT_COLUMNS
from ml.errors import ModelError

MODES = ("hybrid", "gm", "sentiment")
BUY, HOLD, SELL = 1.0, 0.0, -1.0  # numeric actions, as the ``action`` signal line carries them
ACTION_NAMES = {BUY: "buy", HOLD: "hold", SELL: "sell"}
NO_OPINION = ("flat", "hold")


@dataclass(frozen=True)
class FusionConfig:
    """Vote weights and decision thresholds on the fused score (``sell_threshold < 0 < buy_threshold``).

    ``min_confidence`` is a floor on ``|score|`` for any buy or sell, on top of the thresholds. ``no_opinion`` is
    what a bar without any opinion does (``flat`` or ``hold``, see the module notes).
    """

    w_gm: float = 0.6
    w_sentiment: float = 0.4
    buy_threshold: float = 0.05
    sell_threshold: float = -0.05
    min_confidence: float = 0.0
    no_opinion: str = "flat"

    def __post_init__(self) -> None:
        if self.no_opinion not in NO_OPINION:
            raise InvalidValue("no_opinion", f"unknown choice {self.no_opinion!r}",
                               choice_hint(self.no_opinion, NO_OPINION))
        for name in ("w_gm", "w_sentiment", "buy_threshold", "sell_threshold", "min_confidence"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise InvalidValue(name, f"must be a finite number, got {value!r}")
        if self.w_gm < 0 or self.w_sentiment < 0 or self.w_gm + self.w_sentiment <= 0:
            raise InvalidValue("w_gm", f"weights must be >= 0 with a positive sum (w_gm={self.w_gm}, "
                               f"w_sentiment={self.w_sentiment})")
        if not -1.0 <= self.sell_threshold < 0.0 < self.buy_threshold <= 1.0:
            raise InvalidValue("buy_threshold", "need -1 <= sell_threshold < 0 < buy_threshold <= 1 "
                               f"(got sell {self.sell_threshold}, buy {self.buy_threshold})")
        if not 0.0 <= self.min_confidence <= 1.0:
            raise InvalidValue("min_confidence", f"must be in [0, 1], got {self.min_confidence}")


def _column(frame: pd.DataFrame | None, name: str, index: pd.Index) -> np.ndarray:
    if frame is None or name not in frame.columns:
        return np.full(len(index), np.nan)
    return frame[name].reindex(index).to_numpy(dtype=np.float64)


def fuse(
    gm: pd.DataFrame, sentiment: pd.DataFrame | None, cfg: FusionConfig, mode: str = "hybrid"
) -> pd.DataFrame:
    """Fused signal per bar of ``gm``'s index (columns ``FUSED_COLUMNS``).

    ``gm`` needs ``gm_prob`` (NaN: no forecast for that bar); ``sentiment`` (aligned by date) has ``sent_score``,
    ``sent_conf`` and optionally ``sent_count`` (0 or a NaN score: no items). A bar without any usable vote holds
    with confidence 0.
    """
    if mode not in MODES:
        raise ModelError(f"unknown fusion mode '{mode}'", fix=choice_hint(mode, MODES))
    if GM_PROB not in gm.columns:
        raise ModelError("GM signals lack the 'gm_prob' column", fix="pass the frame produced by the GM predictor")
    if mode == "sentiment" and sentiment is None:
        raise ModelError("fusion mode 'sentiment' needs sentiment signals", fix="provide news or use mode 'gm'")
    index = gm.index
    gm_vote = 2.0 * gm[GM_PROB].to_numpy(dtype=np.float64) - 1.0
    score, conf, count = (_column(sentiment, k, index) for k in SENTIMENT_COLUMNS)
    has_items = np.isfinite(score) & np.isfinite(conf) & ~(np.isfinite(count) & (count <= 0))
    sent_vote = np.where(has_items, score * conf, np.nan)

    hybrid = mode == "hybrid"
    w_gm = np.where(np.isfinite(gm_vote) & (mode != "sentiment"), cfg.w_gm if hybrid else 1.0, 0.0)
    w_s = np.where(np.isfinite(sent_vote) & (mode != "gm"), cfg.w_sentiment if hybrid else 1.0, 0.0)
    total = w_gm + w_s
    weighted = w_gm * np.nan_to_num(gm_vote) + w_s * np.nan_to_num(sent_vote)
    fused = np.divide(weighted, total, out=np.zeros(len(index)), where=total > 0)  # renormalised over present votes
    fused = np.clip(fused, -1.0, 1.0)  # inputs outside their documented ranges cannot push the score past 1
    confidence = np.abs(fused)

    action = np.full(len(index), HOLD)
    strong = confidence >= cfg.min_confidence
    action[(fused >= cfg.buy_threshold) & strong & (total > 0)] = BUY
    action[(fused <= cfg.sell_threshold) & strong & (total > 0)] = SELL
    if cfg.no_opinion == "flat":
        silent = (np.nan_to_num(gm_vote) == 0) & (np.nan_to_num(sent_vote) == 0)
        action[silent] = SELL  # confidence is 0 there: the sizer's target is 0, i.e. flat
    gm_only = (w_gm > 0) & (w_s == 0)
    return pd.DataFrame(
        dict(zip(FUSED_COLUMNS, (action, confidence, fused, gm_vote, sent_vote, gm_only), strict=True)),
        index=index,
    )
