"""One bar's signal in a paper session, made by the backtest's own pieces: ``GMPredictor`` (through the model slot),
``LiveSentiment`` over the news archive (the batch ``sentiment_signals``, one bar at a time), ``ml.fusion.fuse``
and the same signal lines the backtest's ``SignalData`` carries, so that ``SignalStrategy`` and ``ConfidenceSizer``
read the same values either way.

``LiveSignals`` keeps the session's price frame (warm-up history, then every live bar) and turns a new bar into a
row of the signal table. ``LiveSignalData`` is the live feed with the signal lines attached: it computes a bar's
signal as the bar is loaded, before the strategy's ``next`` sees it.
"""
from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from backtests.paper.models import ModelSlot, Retrainer
from backtests.paper.sentiment import LiveSentiment, sentiment_bars
from backtests.presets.config import RunConfig
from backtests.signals.producer import trailing_volatility
from feeds.live.backtrader_feed import LiveData
from feeds.live.poller import LiveBar
from feeds.validate import PRICE_COLUMNS
from ground.signals import (
    ACTION,
    CONFIDENCE,
    FUSED_COLUMNS,
    GM_COLUMNS,
    GM_FORECAST,
    GM_ONLY,
    GM_VOTE,
    SCORE,
    SENT_VOTE,
    SENTIMENT_COLUMNS,
    SIGNAL_LINES,
    VOLATILITY,
)
from ml.fusion import fuse
from ml.store import ModelStore

logger = logging.getLogger(__name__)

#: A paper session's signals.csv columns per bar, after the symbol (the backtest's signal table, without the columns
#: that only the batch producer makes).
SIGNAL_TABLE: tuple[str, ...] = (ACTION, CONFIDENCE, *GM_COLUMNS, *SENTIMENT_COLUMNS, SCORE, GM_VOTE, SENT_VOTE, GM_ONLY)

#: ``(cfg, symbol, bars, store) -> NewsSignals`` for the last of ``bars``: ``LiveSentiment`` by default (the backtest's
#: numbers, read incrementally); ``backtests.signals.news.sentiment_signals`` gives the same from scratch.
Sentiment = Callable[[RunConfig, str, pd.DatetimeIndex, ModelStore], Any]


class LiveSignals:
    """The signal of each new bar for one symbol (``mode``: hybrid, gm or sentiment, from the strategy spec)."""

    def __init__(
        self,
        cfg: RunConfig,
        symbol: str,
        history: pd.DataFrame,
        mode: str,
        slot: ModelSlot,
        *,
        retrainer: Retrainer | None = None,
        sentiment: Sentiment | None = None,
        on_event: Callable[[str, str], None] | None = None,
    ) -> None:
        """``on_event(kind, text)`` hears of model swaps (``model``) and trainings started (``retrain``)."""
        self.cfg, self.symbol, self.mode, self.slot, self.retrainer = cfg, symbol, mode, slot, retrainer
        self._on_event = on_event or (lambda kind, text: None)
        self.frame = history[list(PRICE_COLUMNS)].astype("float64")
        self._sentiment = sentiment if sentiment is not None else LiveSentiment()
        self._store = ModelStore(Path(cfg.run.models_dir))
        self.rows: list[dict[str, Any]] = []

    def prime(self) -> None:
        """Read the news up to the last warm-up bar before the feed starts, so that the first live bar reads only
        what is new (a fresh ``LiveSentiment`` would otherwise score, embed and cluster the whole archive then)."""
        if self.mode != "gm" and len(self.frame) >= 2:
            self._news()

    def _news(self) -> Any:
        """The sentiment of the frame's last bar (the last row of the returned ``NewsSignals.frame``)."""
        window = sentiment_bars(pd.DatetimeIndex(self.frame.index, name="date"), self.cfg.sentiment.aggregation())
        return self._sentiment(self.cfg, self.symbol, window, self._store)

    def on_bar(self, label: pd.Timestamp, values: tuple[float, ...]) -> dict[str, Any]:
        """Append the bar, start a retraining at a boundary, and return the bar's signal row (``SIGNAL_TABLE``
        columns plus ``date`` and ``models``)."""
        label = pd.Timestamp(label)
        before = self.slot.current()
        model = self.slot.swap_pending() if self.mode != "sentiment" else None
        if model is not None and model is not before:
            self._on_event("model", f"{model.version} in use from bar {label} (was "
                                    f"{before.version if before is not None else 'none'})")
        if len(self.frame) and label <= self.frame.index[-1]:
            self.frame = self.frame.loc[self.frame.index < label]  # a replayed bar replaces its stored copy
        self.frame.loc[label] = [float(v) for v in values]
        if self.retrainer is not None and self.retrainer.on_bar(self.frame):
            self._on_event("retrain", f"training the fold that starts at bar {label} in the background")
        bars = pd.DatetimeIndex([label], name="date")
        gm = pd.DataFrame({c: np.nan for c in GM_FORECAST}, index=bars)
        models: dict[str, str] = {}
        if model is not None:
            forecast = model.predict_one(self.frame)
            for c in GM_FORECAST:
                gm.loc[label, c] = float(forecast[c])
            models["gm"] = model.version
        sent = None
        if self.mode != "gm":
            news = self._news()
            sent = news.frame.iloc[-1:]
            if news.model_version:
                models["sentiment"] = news.model_version
        fused = fuse(gm, sent, self.cfg.fusion, mode=self.mode)
        row: dict[str, Any] = {"date": label}
        row.update({c: float(fused[c].iloc[0]) for c in FUSED_COLUMNS})
        row.update({c: float(gm[c].iloc[0]) for c in GM_FORECAST})
        for c in SENTIMENT_COLUMNS:
            row[c] = float(sent[c].iloc[0]) if sent is not None else math.nan
        row[VOLATILITY] = float(trailing_volatility(self.frame.tail(32)).iloc[-1])
        row["models"] = models
        self.rows.append(row)
        return row

    def table(self) -> pd.DataFrame:
        """Every signal row so far, as signals.csv holds them."""
        frame = pd.DataFrame(self.rows, columns=["date", *SIGNAL_TABLE]).set_index("date")
        frame.insert(0, "symbol", self.symbol)
        return frame


class LiveSignalData(LiveData):
    """The live feed with the signal lines (``signals``: a ``LiveSignals``). ``arrived`` is the monotonic time at
    which the current bar was taken from the feed (the start of the latency the benchmark measures)."""

    lines = SIGNAL_LINES
    params = (("signals", None),)  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        if self.p.signals is None:
            raise ValueError("LiveSignalData needs a LiveSignals")
        self.arrived = 0.0
        self.row: dict[str, Any] = {}

    def _fill(self, bar: LiveBar) -> None:
        self.arrived = time.perf_counter()
        super()._fill(bar)
        self.row = self.p.signals.on_bar(bar.label, bar.values())
        for name in (ACTION, CONFIDENCE, VOLATILITY):
            getattr(self.lines, name)[0] = self.row[name]


def signal_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The signal lines of ``rows`` as a backtest's ``SignalData`` takes them (for a backtest of the same bars)."""
    frame = pd.DataFrame(rows).set_index("date")
    frame.index.name = "date"
    return frame[list(SIGNAL_LINES)]
