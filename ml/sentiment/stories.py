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


def _ordered(items: Sequence[StoryItem]) -> list[StoryItem]:
    """Items in visibility order, ties by id (the order ``OnlineStories`` needs)."""
    return sorted(items, key=lambda it: (it.visible_at, it.id))


class OnlineStories:
    """Stories and novelty decided one item at a time, in visibility order.

    ``cluster_stories`` and ``novelty`` run this over a sorted list; a live session runs it as items become visible
    and so reaches the same decisions without re-reading its history. It keeps every id's story and novelty, and
    the vectors of the last window only. Facts are extracted when a pair is close enough to need them.
    """

    def __init__(self, rules: StoryRules = DEFAULT_RULES, extractor: FactExtractor | None = None,
                 novelty_window: timedelta = timedelta(days=3)) -> None:
        if novelty_window <= timedelta(0):
            raise ValueError(f"window must be positive, got {novelty_window}")
        self.rules, self.novelty_window = rules, novelty_window
        self._extractor = extractor or FactExtractor()
        self._span = max(rules.window, novelty_window)
        # The kept items (those of the last ``_span``), oldest first; row k of ``_vectors`` is item k.
        self._times: list[datetime] = []
        self._ids: list[str] = []
        self._langs: list[str] = []
        self._sources: list[tuple[str, tuple[str, ...]]] = []
        self._facts: list[Facts | None] = []
        self._vectors = np.zeros((0, 0), dtype=np.float32)
        self._last: tuple[datetime, str] | None = None
        self.story_of: dict[str, str] = {}
        self.novelty_of: dict[str, float] = {}
        self._members: dict[str, dict[str, None]] = {}
        self._first_seen: dict[str, datetime] = {}

    def add(self, item: StoryItem) -> str:
        """Decide ``item``'s story (and its novelty, if it is the id's first version); returns the story id."""
        key = (item.visible_at, item.id)
        if self._last is not None and key < self._last:
            raise ValueError(f"item {item.id!r} (visible {item.visible_at}) comes before the last one added "
                             f"({self._last[1]!r}, visible {self._last[0]}): items must arrive in visibility order")
        vec = np.asarray(item.vector, dtype=np.float32).ravel()
        if not np.all(np.isfinite(vec)):
            raise ValueError("item vectors must be finite")
        if len(self._ids) and vec.shape[0] != self._vectors.shape[1]:
            raise ValueError(f"item {item.id!r} has a vector of width {vec.shape[0]}, "
                             f"the earlier ones {self._vectors.shape[1]}")
        n = len(self._ids)
        lo_story = bisect.bisect_left(self._times, item.visible_at - self.rules.window)
        lo_new = bisect.bisect_left(self._times, item.visible_at - self.novelty_window)
        lo = min(lo_story, lo_new)
        cosines = self._vectors[lo:n] @ vec if n > lo else np.zeros(0, dtype=np.float32)  # [W, D] @ [D] -> [W]
        story = self.story_of.get(item.id)
        if story is None:
            story = self._match(item, cosines[lo_story - lo:], lo_story) or item.id
            self.story_of[item.id] = story
            self._first_seen.setdefault(story, item.visible_at)
        self._members.setdefault(story, {})[item.id] = None
        if item.id not in self.novelty_of:
            others = [j - lo for j in range(lo_new, n) if self._ids[j] != item.id]
            best = float(np.max(cosines[others])) if others else 0.0
            self.novelty_of[item.id] = float(np.clip(1.0 - best, 0.0, 1.0))
        self._keep(item, vec)
        self._last = key
        return story

    def stories(self) -> Stories:
        """Every story so far, with its first-seen time and its items in the order they arrived."""
        stories = {sid: Story(sid, self._first_seen[sid], tuple(ids)) for sid, ids in self._members.items()}
        return Stories(MappingProxyType(dict(self.story_of)), MappingProxyType(stories))

    def _facts_of(self, k: int) -> Facts:
        facts = self._facts[k]
        if facts is None:
            facts = self._facts[k] = self._extractor.extract(*self._sources[k])
        return facts

    def _match(self, item: StoryItem, cosines: np.ndarray, lo: int) -> str | None:
        """The story of the most similar earlier item in the window that ``item`` duplicates, if any."""
        floor = min(self.rules.same_language, self.rules.cross_language)
        facts: Facts | None = None
        for j in (lo + int(k) for k in np.argsort(-cosines, kind="stable")):
            cosine = float(cosines[j - lo])
            if cosine < floor:
                break
            if self._ids[j] == item.id:
                continue
            if facts is None:
                facts = self._extractor.extract(item.text, item.symbols)
            if is_same_story(cosine, item.lang, facts, self._langs[j], self._facts_of(j), self.rules):
                return self.story_of[self._ids[j]]
        return None

    def _keep(self, item: StoryItem, vec: np.ndarray) -> None:
        """Append the item; items older than the longest window are dropped when the buffer is full."""
        n = len(self._ids)
        if n == len(self._vectors):
            drop = bisect.bisect_left(self._times, item.visible_at - self._span)
            for column in (self._times, self._ids, self._langs, self._sources, self._facts):
                del column[:drop]
            kept = self._vectors[drop:n]
            n -= drop
            self._vectors = np.zeros((max(2 * n, 64), vec.shape[0]), dtype=np.float32)
            if n:
                self._vectors[:n] = kept
        self._vectors[n] = vec
        self._times.append(item.visible_at)
        self._ids.append(item.id)
        self._langs.append(item.lang)
        self._sources.append((item.text, item.symbols))
        self._facts.append(None)


def cluster_stories(items: Sequence[StoryItem], rules: StoryRules = DEFAULT_RULES,
                    extractor: FactExtractor | None = None) -> Stories:
    """Assign every item a story id (see the module docstring); versions of one id always share a story.

    Cost: each item is compared with the items of the preceding window only, O(N * W * D).
    """
    online = OnlineStories(rules, extractor, novelty_window=rules.window)
    for item in _ordered(items):
        online.add(item)
    return online.stories()


def novelty(items: Sequence[StoryItem], window: timedelta = timedelta(days=3)) -> dict[str, float]:
    """How new each item was when it became visible: 1 - the largest cosine to any earlier item in ``window``.

    1.0 when nothing was seen in the window; near 0 for a re-publication. Earlier versions of the same id are not
    counted against it, so an edited item is as novel as its first version was. Uses only what was visible before
    the item (point in time), and is clipped to [0, 1].
    """
    online = OnlineStories(novelty_window=window)
    for item in _ordered(items):
        online.add(item)
    return dict(online.novelty_of)
