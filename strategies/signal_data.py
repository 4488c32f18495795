"""The price feed with precomputed signal lines that the ML strategies read.

Backtests compute out-of-sample signals (GM forecast, sentiment, fused action) per bar and hand them to backtrader
as extra lines of the price feed, so a strategy only reads lines and never trains or predicts.
"""
from __future__ import annotations

import backtrader as bt

# Extra lines, in order. Missing values are NaN (for example no sentiment items for a bar).
SIGNAL_LINES: tuple[str, ...] = (
    "action",  # fused decision: +1 buy, -1 sell, 0 hold
    "confidence",  # fused confidence in [0, 1]
    "gm_mu",  # GM ensemble predicted log return over the horizon
    "gm_prob",  # calibrated probability that that return is positive
    "gm_unc",  # GM uncertainty (quantile width / members' spread), in log-return units
    "sent_score",  # aggregated sentiment score in [-1, 1] (NaN: no opinion)
    "sent_conf",  # sentiment confidence in [0, 1]
    "sent_count",  # time-decayed count of news items behind the sentiment
    "volatility",  # trailing daily volatility of log returns, for volatility targeting
)


class SignalData(bt.feeds.PandasData):
    """PandasData whose frame carries the SIGNAL_LINES columns next to OHLCV (dates in the index)."""

    lines = SIGNAL_LINES
    params = tuple((name, -1) for name in SIGNAL_LINES)  # -1: find the column by name
