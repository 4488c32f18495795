"""Point-in-time aggregation of scored news into one sentiment reading per bar.

Rule: bar D sees an item when ``published <= cutoff(D)``, where the cutoff is D's date at ``cutoff`` (16:00 by
default) in the exchange time zone, converted to UTC. An item published one second after the cutoff waits for
the next bar. Each item seen by bar D has weight ``w = 0.5 ** (age / half_life)``, age measured from its
publication to D's cutoff in hours, or in bars (0 at the first bar that sees it). With ``v = w * confidence``:

- ``score`` = sum(v * score) / sum(v), in [-1, 1]; NaN when no item is in play (no opinion is not neutral);
- ``count`` = sum(w), the decayed number of items; ``items`` = how many items are in play;
- ``confidence`` = coverage * agreement, coverage = m / (m + prior_count) with the evidence mass m = sum(v)
  (one fresh, fully confident item gives 1/2 with the default prior of 1), agreement = 1 - the v-weighted
  variance of the scores (1 when all items agree; scores in [-1, 1] bound the variance by 1).

An item leaves play once older than ``max_age`` half-lives (weight below 2**-max_age), and a news item stored in
several versions (same ``id``) counts only through its latest version published by the cutoff. The sums obey
``s_k = s_{k-1} * decay(k-1 -> k) + arrivals_k - departures_k``, so the cost is O(items + bars).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import numpy as np
import pandas as pd

from ground.choices import choice_hint, suggest
from ground.errors import DataError, InvalidValue

UNITS = ("hours", "bars")
_NS_PER_HOUR = 3_600_000_000_000


@dataclass(frozen=True)
class AggregationConfig:
    """``cutoff`` None means each bar's timestamp (exchange time) is itself its cutoff, for intraday bars."""

    cutoff: time | None = time(16, 0)
    timezone: str = "America/New_York"
    half_life: float = 24.0
    half_life_unit: str = "hours"
    max_age: float = 8.0
    prior_count: float = 1.0

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidValue("timezone", f"unknown time zone {self.timezone!r}",
                               suggest(self.timezone, sorted(available_timezones())) or "use an IANA name") from None
        if self.half_life_unit not in UNITS:
            raise InvalidValue("half_life_unit", f"unknown half-life unit {self.half_life_unit!r}",
                               choice_hint(self.half_life_unit, UNITS))
        for name in ("half_life", "max_age", "prior_count"):
            if not getattr(self, name) > 0:
                raise InvalidValue(name, f"must be > 0, got {getattr(self, name)!r}")


def bar_cutoffs(bars: pd.DatetimeIndex, config: AggregationConfig = AggregationConfig()) -> pd.DatetimeIndex:
    """The UTC instant of each bar's cutoff. Naive bars are exchange-local; an ambiguous local time (a DST
    fall-back hour) resolves to the earlier instant, so a bar never sees more than it could have."""
    index = pd.DatetimeIndex(bars)
    if index.tz is not None:
        index = index.tz_convert(config.timezone).tz_localize(None)
    if config.cutoff is not None:
        c = config.cutoff
        index = index.normalize() + pd.Timedelta(hours=c.hour, minutes=c.minute, seconds=c.second,
                                                 microseconds=c.microsecond)
    local = index.tz_localize(config.timezone, ambiguous=np.ones(len(index), dtype=bool),
                              nonexistent="shift_forward")
    return local.tz_convert("UTC")


def _validate_items(items: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in ("published", "score", "confidence") if c not in items.columns]
    if missing:
        raise DataError(f"scored news lacks columns {missing}", "sentiment aggregation",
                        "pass a frame with published (UTC), score and confidence")
    frame = items.dropna(subset=["published", "score", "confidence"])
    score, conf = frame["score"].to_numpy(np.float64), frame["confidence"].to_numpy(np.float64)
    for name, values in (("score", score), ("confidence", conf)):
        low = -1.0 if name == "score" else 0.0
        bad = np.flatnonzero((values < low) | (values > 1.0))
        if bad.size:
            raise DataError(f"{name} {values[bad[0]]} outside [{low:g}, 1]", f"scored news row {frame.index[bad[0]]}",
                            "scores come from the sentiment model: score in [-1, 1], confidence in [0, 1]")
    return frame


def aggregate_sentiment(items: pd.DataFrame, bars: pd.DatetimeIndex,
                        config: AggregationConfig = AggregationConfig()) -> pd.DataFrame:
    """Per-bar ``score``, ``confidence``, ``count`` (decayed) and ``items`` (in play) for one symbol's news.

    ``items`` needs ``published`` (UTC; naive values are read as UTC), ``score`` and ``confidence``; an ``id``
    column marks versions of one news item. ``bars`` must be strictly increasing.
    """
    index = pd.DatetimeIndex(bars)
    cut = bar_cutoffs(index, config).as_unit("ns").asi8
    if len(cut) > 1 and not np.all(np.diff(cut) > 0):
        raise DataError("bar cutoffs are not strictly increasing", "sentiment aggregation bars",
                        "pass sorted, unique bar dates")
    n_bars = len(cut)
    frame = _validate_items(items)
    pub = pd.to_datetime(frame["published"], utc=True).dt.as_unit("ns").to_numpy(np.int64)
    score, conf = frame["score"].to_numpy(np.float64), frame["confidence"].to_numpy(np.float64)

    arrive = np.searchsorted(cut, pub, side="left")  # first bar whose cutoff is >= published
    leave = _expiry_bar(cut, pub, arrive, config)
    if "id" in frame.columns:
        leave = np.minimum(leave, _superseded_bar(cut, pub, frame["id"].to_numpy()))
    keep = arrive < leave  # seen by at least one bar
    arrive, leave, pub, score, conf = arrive[keep], leave[keep], pub[keep], score[keep], conf[keep]
    quantities = np.stack([np.ones_like(score), conf, conf * score, conf * score**2], axis=1)  # [N, 4]

    hours = config.half_life_unit == "hours"
    cut_h = (cut - (cut[0] if n_bars else 0)) / _NS_PER_HOUR  # hours since the first cutoff
    pub_h = (pub - (cut[0] if n_bars else 0)) / _NS_PER_HOUR
    sums = np.zeros((n_bars + 1, 4))
    active = np.zeros(n_bars + 1, dtype=np.int64)
    for bar_of, sign in ((arrive, 1.0), (leave, -1.0)):
        inside = bar_of < n_bars
        b = bar_of[inside]
        age = cut_h[b] - pub_h[inside] if hours else (b - arrive[inside]).astype(np.float64)
        weighted = quantities[inside] * (sign * 0.5 ** (age / config.half_life))[:, None]
        for j in range(4):
            sums[:, j] += np.bincount(b, weights=weighted[:, j], minlength=n_bars + 1)
        active += np.bincount(b, minlength=n_bars + 1).astype(np.int64) * int(sign)
    active = np.cumsum(active[:n_bars])
    if hours:
        step = 0.5 ** (np.diff(cut_h, prepend=cut_h[:1]) / config.half_life)
    else:
        step = np.full(n_bars, 0.5 ** (1.0 / config.half_life))
    state = np.zeros((n_bars, 4))
    running = np.zeros(4)
    for k in range(n_bars):
        running = running * step[k] + sums[k]
        if active[k] == 0:
            running = np.zeros(4)  # nothing in play: drop rounding residue of departures
        state[k] = running
    return _readings(state, active, index, config)


def _expiry_bar(cut: np.ndarray, pub: np.ndarray, arrive: np.ndarray, config: AggregationConfig) -> np.ndarray:
    """First bar at which an item is older than ``max_age`` half-lives."""
    if config.half_life_unit == "hours":
        horizon_ns = int(config.max_age * config.half_life * _NS_PER_HOUR)
        return np.searchsorted(cut, pub + horizon_ns, side="right")
    return arrive + int(np.floor(config.max_age * config.half_life)) + 1


def _superseded_bar(cut: np.ndarray, pub: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """First bar that sees a newer version of the same item (len(cut) when there is none)."""
    out = np.full(len(pub), len(cut), dtype=np.int64)
    order = np.lexsort((pub, pd.factorize(ids)[0]))  # by id, then by time
    same_next = ids[order][1:] == ids[order][:-1]
    later = np.searchsorted(cut, pub[order][1:], side="left")
    out[order[:-1][same_next]] = later[same_next]
    return out


def _readings(state: np.ndarray, active: np.ndarray, index: pd.DatetimeIndex,
              config: AggregationConfig) -> pd.DataFrame:
    count, mass, weighted_score, weighted_sq = state.T
    has = (active > 0) & (mass > 1e-12)
    safe_mass = np.where(has, mass, 1.0)
    score = np.where(has, np.clip(weighted_score / safe_mass, -1.0, 1.0), np.nan)
    variance = np.where(has, np.clip(weighted_sq / safe_mass - np.nan_to_num(score) ** 2, 0.0, 1.0), 1.0)
    coverage = np.where(has, mass / (mass + config.prior_count), 0.0)
    return pd.DataFrame(
        {
            "score": score,
            "confidence": np.clip(coverage * (1.0 - variance), 0.0, 1.0),
            "count": np.where(active > 0, np.maximum(count, 0.0), 0.0),
            "items": active,
        },
        index=index,
    )
