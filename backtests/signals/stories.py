"""One story, one vote: near-duplicate news (the same story from several feeds, re-published in new words, in either
language) is clustered before aggregation, so a story counts once, from its first-seen time.

Vectors come from the archive's vector table (``bt-news embed``); item versions without one are embedded here and
stored, so the next run reads them. Clustering walks the items in the order they became visible and never moves an
earlier item, so a bar's view depends only on what was visible by its cutoff.
"""
from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from feeds.news.vectors import VectorStore
from ml.sentiment.aggregate import AggregationConfig, bar_cutoffs
from ml.sentiment.embeddings import embedding_encoder, from_bytes, item_text, to_bytes
from ml.sentiment.encoders import TextEncoder
from ml.sentiment.stories import OnlineStories, StoryItem

log = logging.getLogger(__name__)

NOVELTY_WINDOW = timedelta(days=3)


def story_view(items: pd.DataFrame, archive: Path, encoder_spec: str) -> tuple[pd.Series, pd.Series, str, int]:
    """Story id and novelty per row of ``items`` (archive frame rows: id, version, visible_at, title, summary, lang,
    symbols), embedding and storing the versions that have no vector yet.

    Returns (story id per row, novelty per row, the encoder's id, how many versions were embedded now).
    """
    encoder = embedding_encoder(encoder_spec)
    vectors, embedded = item_vectors(items, archive, encoder)
    online = OnlineStories(novelty_window=NOVELTY_WINDOW)
    for item in sorted(story_items(items, vectors), key=lambda it: (it.visible_at, it.id)):
        online.add(item)
    story = pd.Series([online.story_of[i] for i in items["id"].astype(str)], index=items.index, name="story")
    new = pd.Series([online.novelty_of.get(i, 1.0) for i in items["id"].astype(str)], index=items.index,
                    name="novelty")
    return story, new, encoder.id, embedded


def item_vectors(items: pd.DataFrame, archive: Path, encoder: TextEncoder) -> tuple[list[np.ndarray], int]:
    """The sentence vector of each row, read from the archive's vector table or embedded now and stored there;
    also how many were embedded now."""
    keys = list(zip(items["id"].astype(str), items["version"].astype(int)))
    with VectorStore(archive) as store:
        blobs = store.by_key(encoder.id, keys)
        missing = [i for i, key in enumerate(keys) if key not in blobs]
        if missing:
            log.info("embedding %d news item version(s) for story de-duplication", len(missing))
            rows = items.iloc[missing]
            texts = [item_text(str(t or ""), str(s or "")) for t, s in zip(rows["title"], rows["summary"])]
            vectors = encoder.encode(texts)
            fresh = [(keys[i][0], keys[i][1], to_bytes(v)) for i, v in zip(missing, vectors)]
            store.put(encoder.id, encoder.dim, fresh)
            blobs.update({(k, v): b for k, v, b in fresh})
    return [from_bytes(blobs[key], encoder.dim) for key in keys], len(missing)


def story_items(items: pd.DataFrame, vectors: list[np.ndarray]) -> list[StoryItem]:
    """The rows of ``items`` as the clustering sees them."""
    return [
        StoryItem(id=str(row.id), visible_at=pd.Timestamp(row.visible_at).to_pydatetime(), text=str(row.title or ""),
                  lang=str(row.lang or ""), vector=vec, symbols=tuple(str(row.symbols or "").split()))
        for row, vec in zip(items.itertuples(index=False), vectors)
    ]


def one_vote_per_story(items: pd.DataFrame, story: pd.Series) -> pd.DataFrame:
    """The rows of the item that opened each story (all its versions); later items of the story are left out."""
    return items.loc[story.to_numpy() == items["id"].astype(str).to_numpy()]


def novelty_per_bar(items: pd.DataFrame, item_novelty: pd.Series, bars: pd.DatetimeIndex,
                    config: AggregationConfig) -> pd.Series:
    """The largest novelty among the items that first became visible for each bar (NaN: nothing new)."""
    cut = bar_cutoffs(bars, config).as_unit("ns").asi8
    visible = pd.to_datetime(items["visible_at"], utc=True).dt.as_unit("ns").to_numpy(np.int64)
    bar = np.searchsorted(cut, visible, side="left")
    inside = bar < len(bars)
    per_bar = pd.Series(item_novelty.to_numpy()[inside]).groupby(bar[inside]).max()
    out = pd.Series(np.nan, index=bars)
    out.iloc[per_bar.index.to_numpy()] = per_bar.to_numpy()
    return out
