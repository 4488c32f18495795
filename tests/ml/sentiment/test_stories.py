"""Story clustering and novelty on hand-made vectors: point-in-time, cross-language, first-seen times."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from ml.sentiment.facts import FactExtractor
from ml.sentiment.stories import OnlineStories, StoryItem, StoryRules, cluster_stories, is_same_story, novelty

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


def _reference(items: list[StoryItem], rules: StoryRules, window: timedelta) -> tuple[dict, dict]:
    """The definitions, brute force: every earlier item in the window, most similar first."""
    ordered = sorted(items, key=lambda it: (it.visible_at, it.id))
    extractor = FactExtractor()
    story_of: dict[str, str] = {}
    new: dict[str, float] = {}
    for i, it in enumerate(ordered):
        vec = np.asarray(it.vector, dtype=np.float32)
        earlier = [(float(np.asarray(o.vector, dtype=np.float32) @ vec), j, o) for j, o in enumerate(ordered[:i])]
        if it.id not in story_of:
            story_of[it.id] = it.id
            for cos, _, o in sorted((e for e in earlier if e[2].visible_at >= it.visible_at - rules.window),
                                    key=lambda e: (-e[0], e[1])):
                if o.id != it.id and is_same_story(cos, it.lang, extractor.extract(it.text, it.symbols), o.lang,
                                                   extractor.extract(o.text, o.symbols), rules):
                    story_of[it.id] = story_of[o.id]
                    break
        if it.id not in new:
            near = [c for c, _, o in earlier if o.visible_at >= it.visible_at - window and o.id != it.id]
            new[it.id] = float(np.clip(1.0 - max(near), 0.0, 1.0)) if near else 1.0
    return story_of, new


def _random_items(n: int, seed: int) -> list[StoryItem]:
    """Items in a few topics (vectors near a topic centre, some close to the thresholds), two languages, some
    edited versions, over several windows' worth of time, so the online buffer drops old items many times."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(6, 16))
    heads = ["Nvidia raises guidance", "Nvidia cuts guidance", "Tesla recalls cars", "Apple beats estimates",
             "英伟达上调指引", "特斯拉召回汽车"]
    items = []
    for k in range(n):
        topic = int(rng.integers(6))
        vec = (centres[topic] + rng.normal(scale=rng.choice([0.05, 0.2, 0.35]), size=16)).astype(np.float32)
        item_id = f"i{int(rng.integers(k + 1))}" if rng.random() < 0.1 else f"i{k}"  # ~10% re-versions
        items.append(StoryItem(item_id, T0 + timedelta(hours=float(rng.uniform(0, 24 * 30))), heads[topic],
                               "zh" if topic >= 4 else "en", vec / np.linalg.norm(vec), ("NVDA",)))
    return items


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_online_decisions_equal_the_definition_and_do_not_depend_on_how_items_are_fed(seed: int) -> None:
    items = _random_items(400, seed)
    rules = StoryRules(window=timedelta(days=2))
    story_of, new = _reference(items, rules, timedelta(days=3))
    assert len(set(story_of.values())) < len(story_of) and min(new.values()) < 0.2  # the data has duplicates
    assert dict(cluster_stories(items, rules).story_of) == story_of
    assert novelty(items, timedelta(days=3)) == pytest.approx(new, abs=1e-6)
    online = OnlineStories(rules, novelty_window=timedelta(days=3))  # one at a time, as a live session feeds it
    for it in sorted(items, key=lambda it: (it.visible_at, it.id)):
        assert online.add(it) == story_of[it.id]
    assert online.novelty_of == novelty(items, timedelta(days=3))
    assert len(online._ids) < len(items)  # old items were let go


def test_online_refuses_an_item_from_before_the_last_one() -> None:
    online = OnlineStories()
    online.add(item("b", 1, "x", unit(1, 0)))
    with pytest.raises(ValueError, match="visibility order"):
        online.add(item("a", 0, "y", unit(0, 1)))
    with pytest.raises(ValueError, match="width"):
        online.add(item("c", 2, "y", unit(0, 1, 0)))
    assert online.add(item("c", 1, "x", unit(1, 0))) == "b"  # same time, later id: in order, and a duplicate of b
