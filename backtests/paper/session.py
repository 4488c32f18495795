"""A paper-trading session: warm up from history, then trade live bars through the backtest's own Cerebro assembly.

The broker, its cash, commission and slippage, the sizer and the recorders come from ``build_cerebro`` (the same
``RunConfig.costs`` as ``bt-run``); the strategy is ``SignalStrategy`` wrapped by ``JournalledSignalStrategy``; the
feed is the live poller's, with each bar's signal made by ``LiveSignals`` from the backtest's predictor, sentiment
and fusion. The journal is the session's memory: the broker's cash and position come from it on start, the feed
resumes one bar before the last decided one (that bar is replayed, so half-done steps finish), and the price frame
the models read is the warm-up history followed by the journal's bars.

A session ends when the feed ends (``until`` reached, the source unreachable for ``give_up_s``), when the journal
cannot be written (disk full: it stops at once, nothing unwritten is acted on), or on Ctrl-C; each end is written
to the journal's events with its reason.
"""
from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import tomli_w

from backtests.paper.journal import Journal, JournalError
from backtests.paper.models import Forecaster, ModelSlot, Retrainer, Trainer, gm_trainer, stored_forecaster
from backtests.paper.orders import Checkpoint
from backtests.paper.sentiment import NewsPreparer
from backtests.paper.signals import LiveSignalData, LiveSignals, Sentiment
from backtests.paper.strategy import JournalledSignalStrategy
from backtests.presets.config import RunConfig
from backtests.run.assemble import build_cerebro
from backtests.signals.news import archive_path
from feeds.live.clock import Clock, WallClock
from feeds.live.poller import BarPoller, PollPolicy
from feeds.live.runner import LiveFeedRunner
from feeds.live.sessions import ExchangeSessions
from feeds.live.source import BarSource
from feeds.news.config import NewsConfig
from feeds.news.live import LiveNews
from feeds.validate import PRICE_COLUMNS
from ground.config import to_mapping
from ground.errors import ConfigError
from ml.store import ModelStore
from strategies.registry import STRATEGIES, StrategySpec, strategy_spec

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SessionSettings:
    """Where and how a session trades; ``symbol``, ``interval`` and ``exchange`` (with the strategy) identify the
    session in its journal, so a resume with other values is refused. ``journal_max_pages`` bounds the journal's
    size in SQLite pages; reaching it is handled as a full disk."""

    symbol: str
    journal: Path
    interval: str = "1d"
    exchange: str = "XNYS"
    until: datetime | None = None
    give_up_s: float | None = None
    qcheck_s: float = 0.5
    news: NewsConfig | None = None
    news_every_s: float = 900.0
    journal_max_pages: int | None = None


@dataclass(frozen=True)
class SessionResult:
    """How a session ended: the reason, whether it was a failure, and the journal's ledger at that moment."""

    reason: str
    failed: bool
    cash: float
    positions: dict[str, tuple[float, float]]
    decisions: int
    signals: pd.DataFrame


def paper_strategy(name: str) -> StrategySpec:
    """The registered strategy, if it is one a paper session can run (one that trades signal lines)."""
    spec = strategy_spec(name)
    if spec.signals is None or not issubclass(JournalledSignalStrategy, spec.cls):
        signal_strategies = ", ".join(n for n, s in STRATEGIES.items() if s.signals is not None)
        raise ConfigError(f"strategy '{spec.name}' does not trade signals; paper sessions run the signal strategies",
                          "--strategy", f"use one of {signal_strategies}")
    return spec


class PaperSession:
    """One session over one symbol. ``source``, ``clock``, ``trainer``, ``forecaster`` and ``sentiment`` default to
    Yahoo's chart data, the wall clock, walk-forward GM training, the store's latest version and the archive's
    sentiment; tests and benchmarks pass their own."""

    def __init__(
        self,
        cfg: RunConfig,
        settings: SessionSettings,
        *,
        source: BarSource,
        history: pd.DataFrame,
        clock: Clock | None = None,
        trainer: Trainer | None = None,
        forecaster: Forecaster | None = None,
        sentiment: Sentiment | None = None,
        policy: PollPolicy | None = None,
        checkpoint: Checkpoint | None = None,
        retrain: bool = True,
    ) -> None:
        self.cfg, self.settings, self.source, self.clock = cfg, settings, source, clock or WallClock()
        self.spec = paper_strategy(cfg.run.strategy)
        self.mode = self.spec.signals or "hybrid"
        self.history = history
        self.trainer = trainer if trainer is not None else gm_trainer(cfg, settings.symbol)
        self.forecaster = forecaster
        self.sentiment = sentiment
        self.policy = policy or PollPolicy(give_up_s=settings.give_up_s)
        self.checkpoint = checkpoint
        self.retrain = retrain
        self.retrainer: Retrainer | None = None
        self.data: LiveSignalData | None = None

    def identity(self) -> dict[str, Any]:
        s = self.settings
        return {"symbol": s.symbol, "strategy": self.spec.name, "interval": s.interval, "exchange": s.exchange}

    def run(self) -> SessionResult:
        """Trade until the feed ends or the journal cannot be written; returns why it ended."""
        s = self.settings
        with Journal(s.journal, max_pages=s.journal_max_pages) as journal:
            journal.begin(self.identity(), self.cfg.run.cash)
            journal.event("config", tomli_w.dumps(to_mapping(self.cfg)))
            frame, resume_after = self._warm_frame(journal)
            slot = ModelSlot(self._first_model(frame))
            if self.mode != "sentiment" and self.retrain:
                self.retrainer = Retrainer(slot, self.trainer, self.cfg.walkforward.retrain_every)
            signals = LiveSignals(self.cfg, s.symbol, frame, self.mode, slot, retrainer=self.retrainer,
                                  sentiment=self.sentiment, on_event=lambda kind, text: _note(journal, kind, text))
            signals.prime()
            sessions = ExchangeSessions(s.exchange, s.interval)
            history_start = resume_after.tz_localize(sessions.tz).tz_convert("UTC").to_pydatetime()
            poller = BarPoller(self.source, sessions, history_start=history_start, resume_after=resume_after,
                               until=s.until, policy=self.policy)
            self.data = LiveSignalData(runner=LiveFeedRunner(poller, self.clock), signals=signals,
                                       qcheck=s.qcheck_s, name=s.symbol)  # type: ignore[call-arg]
            bound = type("SessionStrategy", (JournalledSignalStrategy,), {
                "params": (("journal", journal), ("symbol", s.symbol), ("checkpoint", self.checkpoint))})
            cerebro = build_cerebro({}, dataclasses.replace(self.spec, cls=bound), self.cfg)
            cerebro.broker.setcash(journal.cash())
            cerebro.adddata(self.data)
            news = self._news()
            journal.event("start", f"resuming after {resume_after}; cash {journal.cash():.2f}")
            try:
                strategy = cerebro.run()[0]
            except KeyboardInterrupt:
                strategy = None
            finally:
                if news is not None:
                    news.stop(2.0)
                self.data.runner.stop(2.0)
            result = self._finish(journal, strategy, signals)
        self._finish_training()
        return result

    def _finish_training(self) -> None:
        """A training still running when the session stops is let finish: its version is stored, so the next start
        begins with it. Ctrl-C abandons it."""
        if self.retrainer is None or self.retrainer.join(0):
            return
        logger.info("waiting for the background training to store its version (Ctrl-C abandons it)")
        try:
            self.retrainer.join()
        except KeyboardInterrupt:
            logger.warning("background training abandoned; the next start trains again or uses the stored version")

    def _finish(self, journal: Journal, strategy: JournalledSignalStrategy | None, signals: LiveSignals) -> SessionResult:
        assert self.data is not None
        if strategy is None:
            reason, failed = "stopped by the user (Ctrl-C); start again to resume", False
        elif strategy.orders is not None and strategy.orders.stopped:
            reason, failed = f"journal write failed: {strategy.orders.stopped}", True
        else:
            reason = self.data.end_reason or "the feed ended"
            failed = self.data.end_error
        (logger.error if failed else logger.info)("paper session for %s stops: %s", self.settings.symbol, reason)
        if not (strategy is not None and strategy.orders is not None and strategy.orders.stopped):
            try:
                journal.event("stop", reason)
            except JournalError:
                logger.exception("could not record the stop in the journal")
        decisions = int(journal.query("SELECT count(*) FROM decisions")[0][0])
        return SessionResult(reason, failed, journal.cash(), journal.positions(), decisions, signals.table())

    def _warm_frame(self, journal: Journal) -> tuple[pd.DataFrame, pd.Timestamp]:
        """Prices the models read before the first live bar, and the bar the feed resumes after.

        A fresh session resumes after the last finished history bar. A resumed one resumes one bar before its last
        decided bar, and its frame is the history up to its first journalled bar, then the journal's bars.
        """
        symbol = self.settings.symbol
        history = self.history[list(PRICE_COLUMNS)].astype("float64").sort_index()
        rows = journal.query("SELECT bar, open, high, low, close, volume FROM bars WHERE symbol = ? ORDER BY bar",
                             (symbol,))
        last = journal.recover(symbol).last_decided
        if rows:
            recorded = pd.DataFrame(rows, columns=["date", *PRICE_COLUMNS])
            recorded = recorded.set_index(pd.DatetimeIndex(pd.to_datetime(recorded["date"]), name="date"))
            recorded = recorded.drop(columns="date")
            history = pd.concat([history.loc[history.index < recorded.index[0]], recorded])
        if last is not None:
            resume_after = journal.bar_before(symbol, last)
            if resume_after is None:  # the first decided bar is replayed: resume after the last history bar
                resume_after = history.index[history.index < last][-1]
        elif rows:
            resume_after = history.index[history.index < pd.Timestamp(rows[0][0])][-1]
        else:
            resume_after = history.index[-1]
        frame = history.loc[history.index <= resume_after]
        if len(frame) < 2:
            raise ConfigError(f"{symbol}: the warm-up history has {len(frame)} bar(s) up to {resume_after}",
                              "--data", "load more history for the symbol")
        logger.info("%s: warm-up frame of %d bars up to %s", symbol, len(frame), resume_after)
        return frame, pd.Timestamp(resume_after)

    def _first_model(self, frame: pd.DataFrame) -> Forecaster | None:
        """The version to start with: the one given, else the store's latest, else trained now (warm-up)."""
        if self.mode == "sentiment":
            return None
        if self.forecaster is not None:
            return self.forecaster
        stored = stored_forecaster(self.cfg, self.settings.symbol)
        if stored is not None:
            logger.info("%s: starting with the stored model %s", self.settings.symbol, stored.version)
            return stored
        logger.info("%s: no stored GM model; training one on the warm-up history", self.settings.symbol)
        return self.trainer(frame)

    def _news(self) -> LiveNews | None:
        if self.settings.news is None or self.mode == "gm":
            return None
        prepare = NewsPreparer(self.cfg, self.settings.symbol, ModelStore(Path(self.cfg.run.models_dir)))
        news = LiveNews(self.settings.news, archive_path(self.cfg), every_s=self.settings.news_every_s,
                        clock=self.clock, on_report=prepare)
        news.start()
        return news


def _note(journal: Journal, kind: str, text: str) -> None:
    """A model event for ``bt-paper status``; a failed write here is left to the bar's own writes to stop on."""
    try:
        journal.event(kind, text)
    except JournalError as exc:
        logger.warning("could not record a %s event: %s", kind, exc)


def intraday_history(source: BarSource, sessions: ExchangeSessions, now: datetime, days: int = 55) -> pd.DataFrame:
    """Warm-up bars for an intraday session from the live source itself (Yahoo keeps about 60 days of 5m bars),
    labelled as the live feed labels them; the bar still forming is left out."""
    raw = source.fetch(now - timedelta(days=days), now)
    labels = [sessions.label_for_start(t) for t in raw.index]
    frame = raw.set_axis(pd.DatetimeIndex(labels, name="date"))
    return frame.iloc[: len(frame) - unfinished_tail(frame.index, sessions, now)]


def unfinished_tail(labels: pd.DatetimeIndex, sessions: ExchangeSessions, now: datetime) -> int:
    """How many of the last bars of ``labels`` had not ended by ``now`` (a history download can hold the bar still
    forming; the live feed delivers it once it has ended)."""
    count = 0
    for label in reversed(labels[-3:]):
        slot = sessions.slot_of(label)
        if slot is not None and slot.end <= pd.Timestamp(now):
            break
        count += 1
    return count
