"""A live session's sentiment: the backtest's numbers for the newest bar, at a cost that does not grow with the
archive.

``sentiment_signals`` reads every item of the symbol, scores, embeds and clusters them all, then aggregates; with
2,000 archived items that took about 1.6 s per call, so a session that called it on every bar missed its latency
target as soon as news existed. ``LiveSentiment`` takes the same steps once per item version, when it becomes
visible: it reads only the versions that became visible since the last bar's cutoff, scores them through the
archive's score cache with the model kept loaded, embeds them with the encoder kept loaded, adds them in visibility
order to an ``OnlineStories`` (the clustering the batch runs over its sorted list, so the stories are the same), and
aggregates the bars asked for from the versions still in play with the batch's ``aggregate_sentiment``.

``NewsPreparer`` runs in the news collection thread, after each collection: it scores and embeds the versions just
stored (filling the archive's score cache and vector table), so the bar loop usually finds them done. Embedding is
the slow step (about 45 ms per headline with the default multilingual encoder on one core).

Two events make ``LiveSentiment`` start over from the archive, as the batch would see it: versions stored after the last bar but
visible before its cutoff (an import of dated history; the archive's count of visible versions no longer matches
what was read), and a change of the sentiment model version in use.
"""
from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from backtests.presets.config import RunConfig
from backtests.signals.news import NewsSignals, archive_path, model_version_for, no_opinion, per_bar, score_items
from backtests.signals.stories import NOVELTY_WINDOW, item_vectors, novelty_per_bar, story_items
from feeds.news.archive import NewsArchive
from ground.errors import UserInputError
from ml.sentiment.aggregate import AggregationConfig, bar_cutoffs
from ml.sentiment.embeddings import embedding_encoder
from ml.sentiment.encoders import TextEncoder
from ml.sentiment.model import SentimentModel
from ml.sentiment.stories import OnlineStories
from ml.store import ModelStore

logger = logging.getLogger(__name__)

_ROWS = ("id", "visible_at", "score", "confidence", "novelty", "votes")


def sentiment_bars(index: pd.DatetimeIndex, config: AggregationConfig) -> pd.DatetimeIndex:
    """The bars to aggregate for the last bar of ``index``: with ages in hours, it and the bar before (whose cutoff
    starts the last bar's novelty window); with ages in bars, enough earlier bars that every item still in play at
    the last one arrived inside them."""
    return index[-2:] if config.half_life_unit == "hours" else index[-_bars_window(config):]


def _bars_window(config: AggregationConfig) -> int:
    """With ages in bars, an item leaves play ``floor(max_age * half_life) + 1`` bars after its arrival bar."""
    return int(np.floor(config.max_age * config.half_life)) + 2


class LiveSentiment:
    """A ``Sentiment`` for one symbol of a live session, called once per bar in bar order (a replayed bar may
    repeat the previous one). Not thread-safe: the bar loop owns it."""

    def __init__(self) -> None:
        self._models: dict[str, SentimentModel] = {}
        self._encoder: TextEncoder | None = None
        self._reset("", "")

    def _reset(self, symbol: str, version: str) -> None:
        """Forget every version read (the loaded model and encoder stay)."""
        self._symbol, self._version = symbol, version
        self._cut: pd.Timestamp | None = None  # every version visible by this instant has been read
        self._read = 0  # how many versions visible by ``_cut`` were read
        self._online = OnlineStories(novelty_window=NOVELTY_WINDOW)
        self._rows = pd.DataFrame({c: [] for c in _ROWS})

    def __call__(self, cfg: RunConfig, symbol: str, bars: pd.DatetimeIndex, store: ModelStore) -> NewsSignals:
        path = archive_path(cfg)
        agg = cfg.sentiment.aggregation()
        empty = no_opinion(bars)
        if not path.is_file():
            return NewsSignals(empty, "", {"archive": str(path), "items": 0})
        cut = pd.Timestamp(bar_cutoffs(bars[-1:], agg)[0])
        with NewsArchive(path) as archive:
            self._start_over_if_stale(archive, cfg, symbol, store, bars)
            if self._cut is None or cut > self._cut:
                new = archive.frame(symbol, until=cut.to_pydatetime(),
                                    visible_after=self._cut.to_pydatetime() if self._cut is not None else None)
                self._add(new, archive, path, cfg, store)
                self._read += len(new)
                self._cut = cut
        if agg.half_life_unit == "hours" or len(bars) >= _bars_window(agg):  # a shorter window is the batch's start
            self._forget_before(pd.Timestamp(bar_cutoffs(bars[:1], agg)[0]), agg)
        rows = self._rows.loc[self._rows["visible_at"] <= cut]
        if rows.empty:
            return NewsSignals(empty, self._version if self._read else "", {"archive": str(path), "items": 0})
        novelty = (novelty_per_bar(rows, rows["novelty"], bars, agg) if cfg.sentiment.dedup
                   else pd.Series(np.nan, index=bars))
        frame, _ = per_bar(rows.loc[rows["votes"].astype(bool)], novelty, bars, agg)
        summary: dict[str, Any] = {"archive": str(path), "items": len(rows), "model_version": self._version}
        return NewsSignals(frame, self._version, summary)

    def _start_over_if_stale(self, archive: NewsArchive, cfg: RunConfig, symbol: str, store: ModelStore,
                             bars: pd.DatetimeIndex) -> None:
        wanted = model_version_for(cfg, store, bars[-1].date())
        try:
            version = f"LLM/{cfg.sentiment.model}/{store.resolve('LLM', cfg.sentiment.model, wanted).name}"
        except UserInputError:
            version = ""  # score_items says so clearly once there is an item to score
        reason = ""
        if symbol.upper() != self._symbol:
            reason = "first bar" if not self._symbol else f"symbol {symbol}"
        elif version != self._version:
            reason = f"sentiment model {version or 'missing'} (was {self._version or 'none'})"
        elif self._cut is not None and archive.count_visible(symbol, self._cut.to_pydatetime()) != self._read:
            reason = f"versions visible before {self._cut} were stored since (an import of dated history)"
        if not reason:
            return
        if self._symbol:
            logger.info("%s: sentiment state rebuilt from the archive: %s", symbol, reason)
        self._reset(symbol.upper(), version)

    def _add(self, new: pd.DataFrame, archive: NewsArchive, path: Path, cfg: RunConfig, store: ModelStore) -> None:
        """Score, embed and cluster the versions that became visible since the last bar, in visibility order."""
        if new.empty:
            return
        wanted = self._version.rsplit("/", 1)[-1] if self._version else cfg.sentiment.version
        scored, version, _ = score_items(new, archive, store, cfg, wanted, self._models)
        self._version = version
        ids = scored["id"].astype(str)
        if cfg.sentiment.dedup:
            self._encoder = self._encoder or embedding_encoder(cfg.sentiment.embedding_encoder)
            vectors, _ = item_vectors(scored, path, self._encoder)
            for item in story_items(scored, vectors):  # the archive frame is in visibility order
                self._online.add(item)
            votes = np.array([self._online.story_of[i] == i for i in ids])
            novelty = np.array([self._online.novelty_of.get(i, 1.0) for i in ids])
        else:
            votes, novelty = np.ones(len(ids), dtype=bool), np.full(len(ids), np.nan)
        fresh = pd.DataFrame({"id": ids.to_numpy(), "visible_at": scored["visible_at"].reset_index(drop=True),
                              "score": scored["score"].to_numpy(np.float64),
                              "confidence": scored["confidence"].to_numpy(np.float64), "novelty": novelty,
                              "votes": votes})
        self._rows = fresh if self._rows.empty else pd.concat([self._rows, fresh], ignore_index=True)

    def _forget_before(self, first_cut: pd.Timestamp, agg: AggregationConfig) -> None:
        """Drop versions too old to be in play at any bar from ``first_cut`` on (the bars only move forward)."""
        keep = first_cut - (timedelta(hours=agg.max_age * agg.half_life) if agg.half_life_unit == "hours"
                            else timedelta(0)) - timedelta(days=1)
        if len(self._rows) and self._rows["visible_at"].iloc[0] < keep:
            self._rows = self._rows.loc[self._rows["visible_at"] >= keep].reset_index(drop=True)


class NewsPreparer:
    """Scores and embeds newly stored versions for one symbol ahead of the bar loop (called by the news thread
    after each collection; it keeps its own model and encoder, and never raises: the bar loop does the work itself
    when this could not)."""

    def __init__(self, cfg: RunConfig, symbol: str, store: ModelStore) -> None:
        self.cfg, self.symbol, self.store = cfg, symbol, store
        self._after: pd.Timestamp | None = None  # versions fetched by then are prepared
        self._models: dict[str, SentimentModel] = {}
        self._encoder: TextEncoder | None = None

    def __call__(self, _report: object) -> None:
        """The news thread's hook after a collection."""
        self.prepare()

    def prepare(self) -> int:
        """Prepare what arrived since the last call; returns how many versions were looked at."""
        path = archive_path(self.cfg)
        if not path.is_file():
            return 0
        try:
            with NewsArchive(path) as archive:
                new = archive.frame(self.symbol, visible_after=self._after.to_pydatetime() if self._after else None)
                if new.empty:
                    return 0
                wanted = model_version_for(self.cfg, self.store, pd.Timestamp(new["fetched_at"].max()).date())
                score_items(new, archive, self.store, self.cfg, wanted, self._models)
            if self.cfg.sentiment.dedup:
                self._encoder = self._encoder or embedding_encoder(self.cfg.sentiment.embedding_encoder)
                item_vectors(new, path, self._encoder)
        except Exception as exc:  # noqa: BLE001 - the news thread must go on; the bar loop will do it instead
            logger.warning("%s: could not prepare new news items ahead of the bar loop: %s", self.symbol, exc)
            return 0
        self._after = pd.Timestamp(new["fetched_at"].max())
        return len(new)
