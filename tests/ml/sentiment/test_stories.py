"""Story clustering and novelty on hand-made vectors: point-in-time, cross-language, first-seen times."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from ml.sentiment.stories import StoryItem, StoryRules, cluster_stories, novelty

T0 = datetime(2024, 5, 22, 20, 0, tzinfo=timezone.utc)


def unit(*values: float) -> np.ndarray:
    v = np.array(values, dtype=np.float32)
    return v / np.linalg.norm(v)


def item(item_id: str, hours: float, text: str, vec: np.ndarray, lang: str = "en") -> StoryItem:
    return StoryItem(item_id, T0 + timedelta(hours=hours), text, lang, vec)


def test_retellings_join_the_first_story_and_a_contradiction_starts_its_own() -> None:
    items = [
        item("late", 5, "Nvidia lifts its full-year outlook", unit(1, 0.08, 0)),
        item("first", 0, "Nvidia raises full-year guidance", unit(1, 0, 0)),
        item("zh", 2, "英伟达上调全年指引", unit(1, 0.5, 0.1), lang="zh"),  # cosine ~0.89: over the cross threshold
        item("cut", 3, "Nvidia cuts full-year guidance", unit(1, 0.02, 0)),  # cosine ~1, but the opposite event
        item("other", 4, "Tesla recalls 2 million cars", unit(0, 0, 1)),
    ]
    result = cluster_stories(items)
    assert result.story_of == {"first": "first", "zh": "first", "late": "first", "cut": "cut", "other": "other"}
    assert result.stories["first"].first_seen == T0
    assert result.stories["first"].item_ids == ("first", "zh", "late")


def test_an_item_outside_the_window_starts_a_new_story() -> None:
    items = [item("a", 0, "Nvidia raises guidance", unit(1, 0)), item("b", 100, "Nvidia raises guidance", unit(1, 0))]
    assert cluster_stories(items, StoryRules(window=timedelta(days=3))).story_of["b"] == "b"
    assert cluster_stories(items, StoryRules(window=timedelta(days=5))).story_of["b"] == "a"


def test_assignment_is_point_in_time_later_items_never_move_earlier_ones() -> None:
    items = [item("a", 0, "Nvidia raises guidance", unit(1, 0)), item("b", 1, "Tesla recalls cars", unit(0, 1)),
             item("c", 2, "Nvidia raises guidance again", unit(1, 0.05))]
    full = cluster_stories(items).story_of
    for n in range(1, len(items)):
        prefix = cluster_stories(items[:n]).story_of
        assert all(full[k] == v for k, v in prefix.items())


def test_versions_of_one_id_share_a_story() -> None:
    items = [item("a", 0, "Nvidia raises guidance", unit(1, 0)), item("a", 3, "Tesla recalls cars", unit(0, 1))]
    result = cluster_stories(items)
    assert result.story_of == {"a": "a"} and result.stories["a"].item_ids == ("a",)


def test_novelty_is_one_minus_the_closest_earlier_item_in_the_window() -> None:
    items = [item("a", 0, "x", unit(1, 0)), item("b", 1, "y", unit(0.6, 0.8)), item("c", 200, "z", unit(1, 0)),
             item("a", 2, "x edited", unit(0, 1))]
    scores = novelty(items, window=timedelta(days=3))
    assert scores["a"] == 1.0  # nothing before it; its own later version does not lower it
    assert scores["b"] == pytest.approx(0.4)
    assert scores["c"] == 1.0  # "a" was seen, but outside the window


def test_bad_inputs_fail_clearly() -> None:
    with pytest.raises(ValueError, match="finite"):
        cluster_stories([item("a", 0, "x", np.array([np.nan, 1.0]))])
    with pytest.raises(ValueError, match="window"):
        novelty([], window=timedelta(0))
    with pytest.raises(ValueError, match="thresholds"):
        StoryRules(same_language=1.5)
    assert cluster_stories([]).stories == {}
