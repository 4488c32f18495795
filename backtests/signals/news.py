"""Per-bar sentiment signals from the news archive: score each item version once (cached), aggregate point in time.

No archive, or no items for a symbol, means sentiment has no opinion on any bar: the fusion layer then lets the GM
decide alone and the report says so. A missing sentiment model is an error only when there are items to score.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from backtests.presets.config import RunConfig
from backtests.signals.stories import novelty_per_bar, one_vote_per_story, story_view
from feeds.news.archive import CachedScore, NewsArchive, default_archive_path
from ground.errors import UserInputError
from ground.signals import SENT_CONF, SENT_COUNT, SENT_NOVELTY, SENT_SCORE
from ml.sentiment.aggregate import AggregationConfig, aggregate_sentiment, bar_cutoffs
from ml.sentiment.cutoff import in_sample_note, model_cutoff, version_before
from ml.sentiment.labels import confidence_from_probs
from ml.sentiment.model import SentimentModel
from ml.store import ModelStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NewsSignals:
    """``frame``: per bar ``sent_score``, ``sent_conf``, ``sent_count`` (NaN score: no opinion) and
    ``sent_novelty`` (how new the newest story of the bar was; NaN: nothing new)."""

    frame: pd.DataFrame
    model_version: str
    summary: dict[str, Any]
    monthly_counts: pd.Series = field(default_factory=lambda: pd.Series(dtype=float))


def archive_path(cfg: RunConfig) -> Path:
    """The configured archive, else the default one."""
    return Path(cfg.sentiment.archive).expanduser() if cfg.sentiment.archive else default_archive_path()


def model_version_for(cfg: RunConfig, store: ModelStore, start: date) -> str:
    """The sentiment version a backtest from ``start`` uses: the configured one, except that ``latest`` with
    ``sentiment.point_in_time`` prefers the newest version trained only on headlines dated before ``start``."""
    if cfg.sentiment.version == "latest" and cfg.sentiment.point_in_time:
        earlier = version_before(store, start, cfg.sentiment.model)
        if earlier is not None:
            return earlier.version.version
    return cfg.sentiment.version


def score_items(
    items: pd.DataFrame, archive: NewsArchive, store: ModelStore, cfg: RunConfig, wanted: str,
    loaded: dict[str, SentimentModel] | None = None,
) -> tuple[pd.DataFrame, str, int]:
    """Score every item version with the stored sentiment model, reading and filling the archive's score cache.

    ``loaded`` keeps models loaded between calls (by version), for a caller that scores a few items per bar.
    """
    try:
        version_path = store.resolve("LLM", cfg.sentiment.model, wanted)
    except UserInputError as exc:
        raise UserInputError(
            f"news items need a sentiment model, but none could be loaded: {exc.what}",
            f"models_saved LLM/{cfg.sentiment.model}",
            "train one with: bt-train sentiment",
        ) from None
    version = f"LLM/{cfg.sentiment.model}/{version_path.name}"
    keys = list(zip(items["id"], items["text_hash"]))
    cached = archive.cached_scores(keys, version)
    missing = [i for i, key in enumerate(keys) if key not in cached]
    if missing:
        model = (loaded or {}).get(version) or SentimentModel.load(store, cfg.sentiment.model, version_path.name)
        if loaded is not None:
            loaded[version] = model
        rows = items.iloc[missing]
        # The model was trained on headlines: score the title, or the summary when an item has no title.
        titles = rows["title"].fillna("").str.strip()
        texts = titles.where(titles != "", rows["summary"].fillna("")).tolist()
        pred = model.predict(texts, rows["lang"].fillna("").tolist())
        fresh = {
            keys[i]: CachedScore(float(s), float(p[0]), float(p[1]), float(p[2]))
            for i, s, p in zip(missing, np.clip(pred.score, -1, 1), pred.probs)
        }
        archive.store_scores(version, fresh)
        cached.update(fresh)
    scored = items.copy()
    scored["score"] = [cached[k].score for k in keys]
    probs = np.array([[cached[k].p_negative, cached[k].p_neutral, cached[k].p_positive] for k in keys])
    scored["confidence"] = confidence_from_probs(probs)
    return scored, version, len(keys) - len(missing)


def no_opinion(bars: pd.DatetimeIndex) -> pd.DataFrame:
    """The per-bar sentiment frame of bars without news."""
    return pd.DataFrame({SENT_SCORE: np.nan, SENT_CONF: 0.0, SENT_COUNT: 0.0, SENT_NOVELTY: np.nan}, index=bars)


def per_bar(voting: pd.DataFrame, novelty: pd.Series, bars: pd.DatetimeIndex,
            agg: AggregationConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The per-bar sentiment frame from the voting versions (``id``, ``visible_at``, ``score``, ``confidence``) and
    each bar's novelty, with the aggregation's own frame (its ``items`` in play per bar).

    An item counts from when it became visible (published, or fetched if later); versions share the item id.
    """
    feed = pd.DataFrame({"id": voting["id"], "published": voting["visible_at"], "score": voting["score"],
                         "confidence": voting["confidence"]})
    agg_frame = aggregate_sentiment(feed, bars, agg)
    frame = pd.DataFrame({SENT_SCORE: agg_frame["score"], SENT_CONF: agg_frame["confidence"],
                          SENT_COUNT: agg_frame["count"], SENT_NOVELTY: novelty.to_numpy()}, index=bars)
    return frame, agg_frame


def sentiment_signals(cfg: RunConfig, symbol: str, bars: pd.DatetimeIndex, store: ModelStore) -> NewsSignals:
    """Sentiment per bar for ``symbol`` from the archive, using only item versions visible by each bar's cutoff."""
    path = archive_path(cfg)
    agg = cfg.sentiment.aggregation()
    empty = no_opinion(bars)
    if not path.is_file():
        log.info("%s: no news archive at %s: sentiment has no opinion", symbol, path)
        return NewsSignals(empty, "", {"archive": str(path), "items": 0})
    last_cutoff = bar_cutoffs(bars[-1:], agg)[0].to_pydatetime()
    with NewsArchive(path) as archive:
        items = archive.frame(symbol, until=last_cutoff)
        if items.empty:
            log.info("%s: no news items in %s: sentiment has no opinion", symbol, path)
            return NewsSignals(empty, "", {"archive": str(path), "items": 0})
        scored, version, hits = score_items(items, archive, store, cfg, model_version_for(cfg, store, bars[0].date()))
        vendor, counted = archive.timestamp_provenance(symbol, until=last_cutoff)
    cutoff = model_cutoff(store, cfg.sentiment.model, version.rsplit("/", 1)[-1])
    summary: dict[str, Any] = {"archive": str(path), "items": len(scored), "model_version": version,
                               "cache_hits": hits, "stories": int(scored["id"].nunique()),
                               "training_cutoff": cutoff.isoformat() if cutoff else None,
                               "in_sample": in_sample_note(cutoff, bars[0].date(), bars[-1].date()),
                               "vendor_timestamped_share": vendor / counted if counted else 0.0}
    voting = scored
    novelty = pd.Series(np.nan, index=bars)
    if cfg.sentiment.dedup:
        story, item_novelty, encoder, embedded = story_view(scored, path, cfg.sentiment.embedding_encoder)
        voting = one_vote_per_story(scored, story)
        novelty = novelty_per_bar(scored, item_novelty, bars, agg)
        summary.update(stories=int(story.nunique()), duplicates_left_out=int(scored["id"].nunique() - story.nunique()),
                       embedding_encoder=encoder, embedded_now=embedded)
    frame, agg_frame = per_bar(voting, novelty, bars, agg)
    months = scored["published"].dt.tz_convert(None).dt.to_period("M").value_counts().sort_index()
    summary.update(bars_with_opinion=int(frame[SENT_SCORE].notna().sum()),
                   stories_in_play_per_bar=float(agg_frame["items"][agg_frame["items"] > 0].mean())
                   if (agg_frame["items"] > 0).any() else 0.0)
    log.info("%s: %d news item versions in %d stories, %d bars with a sentiment opinion", symbol, len(scored),
             summary["stories"], summary["bars_with_opinion"])
    return NewsSignals(frame, version, summary, months.astype(float))
