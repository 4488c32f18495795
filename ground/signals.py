"""The signal frame's column names, defined once: the predictor and the walk-forward run write them, fusion reads
and writes them, strategies read them as backtrader lines, and the run folder's signals.csv carries them all."""
from __future__ import annotations

# GM forecast for a bar: predicted H-bar log return, P(return > 0), its uncertainty, trailing daily volatility.
GM_MU, GM_PROB, GM_UNC, VOLATILITY = "gm_mu", "gm_prob", "gm_unc", "volatility"
GM_FORECAST: tuple[str, ...] = (GM_MU, GM_PROB, GM_UNC)  # what the predictor forecasts
GM_COLUMNS: tuple[str, ...] = (*GM_FORECAST, VOLATILITY)

# Sentiment for a bar: time-decayed score in [-1, 1], its confidence, and how many items stand behind it.
SENT_SCORE, SENT_CONF, SENT_COUNT = "sent_score", "sent_conf", "sent_count"
SENTIMENT_COLUMNS: tuple[str, ...] = (SENT_SCORE, SENT_CONF, SENT_COUNT)
# How new the bar's newest story was (1 - its largest cosine to earlier news in a window); NaN: nothing new.
SENT_NOVELTY = "sent_novelty"

# Fused decision: action (+1 buy, -1 sell, 0 hold), confidence in [0, 1], and the votes that produced it.
ACTION, CONFIDENCE, SCORE, GM_VOTE, SENT_VOTE, GM_ONLY = "action", "confidence", "score", "gm_vote", "sent_vote", "gm_only"
FUSED_COLUMNS: tuple[str, ...] = (ACTION, CONFIDENCE, SCORE, GM_VOTE, SENT_VOTE, GM_ONLY)

# The lines strategies and the sizer read, in order; the rest goes to signals.csv and the report only, since every
# extra backtrader line costs time on every bar.
SIGNAL_LINES: tuple[str, ...] = (ACTION, CONFIDENCE, VOLATILITY)
