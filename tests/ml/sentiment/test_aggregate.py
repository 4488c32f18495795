"""Point-in-time aggregation of scored news per bar."""
from __future__ import annotations

import time as clock
from datetime import time

import numpy as np
import pandas as pd
import pytest

from ground.errors import DataError, UserInputError
from ml.sentiment.aggregate import AggregationConfig, aggregate_sentiment, bar_cutoffs

BARS = pd.DatetimeIndex(["2024-03-04", "2024-03-05", "2024-03-06", "2024-03-07", "2024-03-08"], name="date")
# 16:00 New York on 2024-03-05 (EST, UTC-5) is 21:00 UTC.
CUTOFF_0305 = pd.Timestamp("2024-03-05 21:00", tz="UTC")


def items(*rows: tuple) -> pd.DataFrame:
    cols = ["published", "score", "confidence", "id"][: len(rows[0])] if rows else ["published", "score", "confidence"]
    frame = pd.DataFrame(rows, columns=cols)
    frame["published"] = pd.to_datetime(frame["published"], utc=True)
    return frame


def test_cutoffs_follow_exchange_time_and_dst() -> None:
    cut = bar_cutoffs(pd.DatetimeIndex(["2024-03-08", "2024-03-11"]))
    assert cut[0] == pd.Timestamp("2024-03-08 21:00", tz="UTC")  # EST
    assert cut[1] == pd.Timestamp("2024-03-11 20:00", tz="UTC")  # EDT after the switch
    assert bar_cutoffs(BARS[:1], AggregationConfig(cutoff=time(9, 30)))[0] == pd.Timestamp("2024-03-04 14:30", tz="UTC")


def test_item_one_second_after_cutoff_waits_for_next_bar() -> None:
    out = aggregate_sentiment(items((CUTOFF_0305, 0.8, 1.0), (CUTOFF_0305 + pd.Timedelta(seconds=1), -0.8, 1.0)), BARS)
    assert out.loc["2024-03-05", "items"] == 1
    assert out.loc["2024-03-05", "score"] == pytest.approx(0.8)  # the later item is not used yet
    assert out.loc["2024-03-06", "items"] == 2
    assert np.isnan(out.loc["2024-03-04", "score"])


def test_no_items_means_no_opinion() -> None:
    out = aggregate_sentiment(items(), BARS)
    assert out["score"].isna().all()
    assert (out["count"] == 0).all() and (out["confidence"] == 0).all() and (out["items"] == 0).all()
    assert list(out.index) == list(BARS)


def test_weight_halves_at_the_half_life_in_hours() -> None:
    cfg = AggregationConfig(half_life=24.0)
    out = aggregate_sentiment(items((CUTOFF_0305, 1.0, 1.0)), BARS, cfg)
    assert out.loc["2024-03-05", "count"] == pytest.approx(1.0)
    assert out.loc["2024-03-06", "count"] == pytest.approx(0.5)  # 24 h later
    assert out.loc["2024-03-07", "count"] == pytest.approx(0.25)
    # an old negative item weighs half as much as a fresh positive one: (1 - 0.5) / 1.5
    later = CUTOFF_0305 + pd.Timedelta(hours=24)
    two = aggregate_sentiment(items((CUTOFF_0305, -1.0, 1.0), (later, 1.0, 1.0)), BARS, cfg)
    assert two.loc["2024-03-06", "score"] == pytest.approx(1 / 3)
    assert two.loc["2024-03-06", "count"] == pytest.approx(1.5)


def test_weight_halves_at_the_half_life_in_bars() -> None:
    cfg = AggregationConfig(half_life=2.0, half_life_unit="bars")
    out = aggregate_sentiment(items((CUTOFF_0305 - pd.Timedelta(hours=3), 1.0, 1.0)), BARS, cfg)
    assert out["count"].tolist()[1:] == pytest.approx([1.0, 2**-0.5, 0.5, 2**-1.5])


def test_confidence_grows_with_evidence_and_falls_with_disagreement() -> None:
    t = CUTOFF_0305 - pd.Timedelta(hours=1)
    one = aggregate_sentiment(items((t, 0.9, 1.0)), BARS).loc["2024-03-05"]
    three = aggregate_sentiment(items((t, 0.9, 1.0), (t, 0.9, 1.0), (t, 0.9, 1.0)), BARS).loc["2024-03-05"]
    split = aggregate_sentiment(items((t, 0.9, 1.0), (t, -0.9, 1.0), (t, 0.9, 1.0)), BARS).loc["2024-03-05"]
    weak = aggregate_sentiment(items((t, 0.9, 0.2)), BARS).loc["2024-03-05"]
    assert 0 < weak["confidence"] < one["confidence"] < three["confidence"] <= 1
    assert split["confidence"] < three["confidence"]
    m = 2 ** (-1 / 24)  # evidence mass of one fully confident item an hour old
    assert one["confidence"] == pytest.approx(m / (m + 1), rel=1e-9)  # full agreement: coverage alone
    mixed = aggregate_sentiment(items((t, 1.0, 1.0), (t, -1.0, 0.5)), BARS).loc["2024-03-05"]
    assert mixed["score"] == pytest.approx((1.0 - 0.5) / 1.5)  # confidence-weighted mean


def test_only_the_latest_visible_version_of_an_item_counts() -> None:
    first = CUTOFF_0305 - pd.Timedelta(hours=2)
    update = CUTOFF_0305 + pd.Timedelta(hours=2)  # after the 03-05 cutoff
    out = aggregate_sentiment(items((first, -0.6, 1.0, "n1"), (update, 0.6, 1.0, "n1")), BARS)
    assert out.loc["2024-03-05", "score"] == pytest.approx(-0.6)
    assert out.loc["2024-03-06", "score"] == pytest.approx(0.6)
    assert out.loc["2024-03-06", "items"] == 1


def test_old_items_leave_play() -> None:
    cfg = AggregationConfig(half_life=6.0, max_age=4.0)  # out after 24 hours
    out = aggregate_sentiment(items((CUTOFF_0305 - pd.Timedelta(hours=1), 0.5, 1.0)), BARS, cfg)
    assert out["items"].tolist() == [0, 1, 0, 0, 0]
    assert np.isnan(out.loc["2024-03-06", "score"]) and out.loc["2024-03-06", "count"] == 0


def test_bad_input_is_reported() -> None:
    with pytest.raises(DataError, match="score 1.5 outside"):
        aggregate_sentiment(items((CUTOFF_0305, 1.5, 1.0)), BARS)
    with pytest.raises(DataError, match="lacks columns"):
        aggregate_sentiment(pd.DataFrame({"published": []}), BARS)
    with pytest.raises(DataError, match="strictly increasing"):
        aggregate_sentiment(items(), BARS[::-1])
    with pytest.raises(UserInputError, match="America/New_York"):
        AggregationConfig(timezone="America/NewYork")
    with pytest.raises(UserInputError, match="did you mean 'bars'"):
        AggregationConfig(half_life_unit="bar")


def test_six_thousand_bars_and_thousands_of_items_are_fast() -> None:
    bars = pd.bdate_range("2001-01-01", periods=6000)
    rng = np.random.default_rng(0)
    start = pd.Timestamp("2001-01-01", tz="UTC").value
    span = (bars[-1] - bars[0]).value
    news = pd.DataFrame({
        "published": pd.to_datetime(start + rng.integers(0, span, 5000), utc=True),
        "score": rng.uniform(-1, 1, 5000), "confidence": rng.uniform(0, 1, 5000),
        "id": rng.integers(0, 4000, 5000),
    })
    t0 = clock.perf_counter()
    out = aggregate_sentiment(news, bars, AggregationConfig(half_life=48))
    assert clock.perf_counter() - t0 < 1.0
    assert out["score"].dropna().between(-1, 1).all() and out["confidence"].between(0, 1).all()
    # spot-check one bar against a direct computation
    k = 4000
    cut = bar_cutoffs(bars, AggregationConfig())[k]
    latest = news[news["published"] <= cut].sort_values("published").groupby("id").tail(1)
    age_h = (cut - latest["published"]).dt.total_seconds() / 3600
    live = latest[age_h <= 8 * 48]
    w = 0.5 ** (age_h[live.index] / 48) * live["confidence"]
    assert out["score"].iloc[k] == pytest.approx(float((w * live["score"]).sum() / w.sum()), rel=1e-9)
