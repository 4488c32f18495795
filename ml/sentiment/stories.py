"""Near-duplicate news as stories: one story per event, however many feeds carry it, in whichever language.

Two headlines are the same story when their sentence embeddings are close (a cosine threshold, lower across
languages, where the multilingual encoder places translations at about 0.8) AND their facts do not contradict
(:mod:`ml.sentiment.facts`: company, event kind, direction, period, figures). Cosine alone cannot separate a
re-worded story from the same company's next story of the same kind; the facts can.

Clustering is online in visibility order: an item joins the story of the most similar earlier item (within a
window) that it is a duplicate of, or starts a new story. So an item's story is decided by what was visible
when it arrived, and items seen later never move it: the assignment is point-in-time safe, and a story's
first-seen time is the visibility time of its first item. Everything here is a pure function of its inputs.
"""
from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType

import numpy as np

from ml.sentiment.facts import FactExtractor, Facts, conflicts


@dataclass(frozen=True)
class StoryRules:
    """The duplicate decision.

    Shipped thresholds: ``bench/news_similarity.py --tune`` on bench/data/news_pairs_tune.csv, and on nothing else.
    """

    same_language: float = 0.895  # cosine threshold for two headlines in one language
    cross_language: float = 0.755  # ... and for an English against a Chinese headline
    window: timedelta = timedelta(days=3)  # how far back a re-publication is looked for

    def __post_init__(self) -> None:
        if not (-1.0 <= self.same_language <= 1.0 and -1.0 <= self.cross_language <= 1.0):
            raise ValueError(f"cosine thresholds must be in [-1, 1], got {self}")
        if self.window <= timedelta(0):
            raise ValueError(f"window must be positive, got {self.window}")

    def threshold(self, lang_a: str, lang_b: str) -> float:
        """The cosine a pair must reach: the cross-language one when the languages differ."""
        return self.same_language if lang_a == lang_b else self.cross_language


DEFAULT_RULES = StoryRules()


def is_same_story(cosine: float, lang_a: str, facts_a: Facts, lang_b: str, facts_b: Facts,
                  rules: StoryRules = DEFAULT_RULES) -> bool:
    """The duplicate decision for one pair: close enough in meaning and no contradicting fact."""
    return cosine >= rules.threshold(lang_a, lang_b) and not conflicts(facts_a, facts_b)


@dataclass(frozen=True)
class StoryItem:
    """One archived item as the clustering sees it. ``vector`` is its L2-normalised sentence embedding."""

    id: str
    visible_at: datetime
    text: str
    lang: str
    vector: np.ndarray = field(repr=False)
    symbols: tuple[str, ...] = ()


@dataclass(frozen=True)
class Story:
    """A cluster of items: its id is its first item's id; ``first_seen`` that item's visibility time."""

    id: str
    first_seen: datetime
    item_ids: tuple[str, ...]


@dataclass(frozen=True)
class Stories:
    """``story_of`` maps each item id to its story id; ``stories`` maps story ids to stories."""

    story_of: Mapping[str, str]
    stories: Mapping[str, Story]


def _ordered(items: Sequence[StoryItem]) -> tuple[list[StoryItem], np.ndarray]:
    """Items in visibility order (ties by id) and their vectors as one ``[N, D]`` matrix."""
    ordered = sorted(items, key=lambda it: (it.visible_at, it.id))
    if not ordered:
        return ordered, np.zeros((0, 0), dtype=np.float32)
    matrix = np.stack([np.asarray(it.vector, dtype=np.float32).ravel() for it in ordered])  # [N, D]
    if not np.all(np.isfinite(matrix)):
        raise ValueError("item vectors must be finite")
    return ordered, matrix


def cluster_stories(items: Sequence[StoryItem], rules: StoryRules = DEFAULT_RULES,
                    extractor: FactExtractor | None = None) -> Stories:
    """Assign every item a story id (see the module docstring); versions of one id always share a story.

    Cost: each item is compared with the items of the preceding window only, O(N * W * D).
    """
    ordered, matrix = _ordered(items)
    extractor = extractor or FactExtractor()
    facts = [extractor.extract(it.text, it.symbols) for it in ordered]
    times = [it.visible_at for it in ordered]
    story_of: dict[str, str] = {}
    members: dict[str, list[int]] = {}
    for i, item in enumerate(ordered):
        story = story_of.get(item.id)
        if story is None:
            lo = bisect.bisect_left(times, item.visible_at - rules.window, hi=i)
            if i > lo:
                cosines = matrix[lo:i] @ matrix[i]  # [W, D] @ [D] -> [W]
                for j in (lo + int(k) for k in np.argsort(-cosines, kind="stable")):
                    other = ordered[j]
                    if cosines[j - lo] < min(rules.same_language, rules.cross_language):
                        break
                    if other.id != item.id and is_same_story(float(cosines[j - lo]), item.lang, facts[i],
                                                             other.lang, facts[j], rules):
                        story = story_of[other.id]
                        break
            story = story or item.id
            story_of[item.id] = story
        members.setdefault(story, []).append(i)
    stories = {
        sid: Story(sid, ordered[idx[0]].visible_at, tuple(dict.fromkeys(ordered[k].id for k in idx)))
        for sid, idx in members.items()
    }
    return Stories(MappingProxyType(story_of), MappingProxyType(stories))


def novelty(items: Sequence[StoryItem], window: timedelta = timedelta(days=3)) -> dict[str, float]:
    """How new each item was when it became visible: 1 - the largest cosine to any earlier item in ``window``.

    1.0 when nothing was seen in the window; near 0 for a re-publication. Earlier versions of the same id are not
    counted against it, so an edited item is as novel as its first version was. Uses only what was visible before
    the item (point in time), and is clipped to [0, 1].
    """
    if window <= timedelta(0):
        raise ValueError(f"window must be positive, got {window}")
    ordered, matrix = _ordered(items)
    times = [it.visible_at for it in ordered]
    scores: dict[str, float] = {}
    for i, item in enumerate(ordered):
        lo = bisect.bisect_left(times, item.visible_at - window, hi=i)
        others = [j for j in range(lo, i) if ordered[j].id != item.id]
        best = float(np.max(matrix[others] @ matrix[i])) if others else 0.0  # [W', D] @ [D] -> [W']
        scores.setdefault(item.id, float(np.clip(1.0 - best, 0.0, 1.0)))
    return scores
