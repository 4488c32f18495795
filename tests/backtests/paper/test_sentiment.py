"""LiveSentiment: bar by bar, the batch path's numbers (stories, edits, late fetches, both half-life units), a
replayed bar repeats itself, and an import of dated history or a new model version rebuilds the state."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from backtests.paper.sentiment import LiveSentiment, NewsPreparer, sentiment_bars
from backtests.presets.config import RunConfig, load_config
from backtests.signals.news import sentiment_signals
from feeds.news.archive import NewsArchive
from feeds.news.items import NewsItem
from feeds.news.vectors import VectorStore
from ground.signals import SENT_CONF, SENT_COUNT, SENT_NOVELTY, SENT_SCORE
from ml.sentiment.embeddings import embedding_encoder
from ml.sentiment.fallback import HasherConfig
from ml.sentiment.model import SentimentModel
from ml.store import ModelStore

BARS = pd.bdate_range("2024-03-01", "2024-03-29", name="date")
HEADLINES = [
    ("Nvidia beats estimates as data-centre sales soar", "en"),
    ("Nvidia shares slump after export curbs", "en"),
    ("Nvidia raises its full-year outlook", "en"),
    ("英伟达上调全年业绩指引", "zh"),
    ("Nvidia misses on gaming revenue", "en"),
    ("Nvidia wins a large cloud contract", "en"),
]


def utc(ts: str) -> datetime:
    return pd.Timestamp(ts, tz="UTC").to_pydatetime()


def news(i: int, published: str, fetched: str | None = None, title: str | None = None, source: str = "wire",
         item_id: str | None = None) -> NewsItem:
    text, lang = HEADLINES[i % len(HEADLINES)]
    return NewsItem(id=item_id or f"n{i}-{source}", published=utc(published), title=title or text, summary="",
                    source=source, link=f"https://news.example/{i}/{source}", lang=lang, symbols=("NVDA",),
                    fetched_at=utc(fetched or published))


def archive_items() -> list[NewsItem]:
    """Two a day, most re-published by a second feed an hour later (one story, one vote), some fetched a day
    late, one edited (a second version of the same id), one Chinese."""
    items = []
    for d, day in enumerate(pd.bdate_range("2024-02-20", "2024-03-28")):
        for k, hour in enumerate((13, 19)):
            i = 2 * d + k
            ts = f"{day.date()} {hour}:00"
            fetched = str(pd.Timestamp(ts) + pd.Timedelta(days=1)) if i % 7 == 3 else None
            items.append(news(i, ts, fetched))
            if i % 3:
                items.append(news(i, str(pd.Timestamp(ts) + pd.Timedelta(hours=1)), source="mirror"))
    items.append(news(5, "2024-03-12 13:00", "2024-03-13 15:00", title="Nvidia wins a record cloud contract",
                      item_id="n5-wire"))  # an edit of an earlier item, visible a week after the original
    return items


@pytest.fixture()
def cfg(tmp_path: Path) -> RunConfig:
    torch.manual_seed(0)
    SentimentModel.fallback(HasherConfig(buckets=1 << 10), hidden=8).save(ModelStore(tmp_path / "models"), "sentiment")
    with NewsArchive(tmp_path / "news.sqlite") as archive:
        archive.add(archive_items())
    return load_config("default", {"run.strategy": "hybrid", "run.models_dir": str(tmp_path / "models"),
                                   "sentiment.archive": str(tmp_path / "news.sqlite")})


def live_rows(cfg: RunConfig, bars: pd.DatetimeIndex, live: LiveSentiment) -> pd.DataFrame:
    store = ModelStore(Path(cfg.run.models_dir))
    agg = cfg.sentiment.aggregation()
    rows = [live(cfg, "NVDA", sentiment_bars(bars[: k + 1], agg), store).frame.iloc[-1] for k in range(len(bars))]
    return pd.DataFrame(rows, index=bars)


def assert_same(live: pd.DataFrame, batch: pd.DataFrame) -> None:
    assert batch[SENT_COUNT].gt(0).all() and batch[SENT_SCORE].nunique() > 5  # news in play on every bar
    np.testing.assert_allclose(live[[SENT_SCORE, SENT_CONF, SENT_COUNT]].to_numpy(),
                               batch[[SENT_SCORE, SENT_CONF, SENT_COUNT]].to_numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(live[SENT_NOVELTY].to_numpy(), batch[SENT_NOVELTY].to_numpy())


@pytest.mark.parametrize("unit", ["hours", "bars"])
def test_every_bar_equals_the_batch_over_the_same_archive(cfg: RunConfig, unit: str) -> None:
    if unit == "bars":
        cfg = load_config("default", {"run.strategy": "hybrid", "run.models_dir": cfg.run.models_dir,
                                      "sentiment.archive": cfg.sentiment.archive, "sentiment.half_life_unit": "bars",
                                      "sentiment.half_life": 2.0})
    history = pd.bdate_range("2024-02-26", "2024-02-29", name="date")  # the batch starts earlier than the live bars
    batch = sentiment_signals(cfg, "NVDA", history.append(BARS), ModelStore(Path(cfg.run.models_dir))).frame
    live = LiveSentiment()
    live_rows(cfg, history, live)
    rows = live_rows(cfg, history.append(BARS), live).loc[BARS]
    assert_same(rows, batch.loc[BARS])
    assert len(live._rows) < len(archive_items())  # versions out of play were let go
    plain = load_config("default", {"run.strategy": "hybrid", "run.models_dir": cfg.run.models_dir,
                                    "sentiment.archive": cfg.sentiment.archive, "sentiment.dedup": False})
    undeduplicated = sentiment_signals(plain, "NVDA", BARS, ModelStore(Path(cfg.run.models_dir))).frame
    assert not np.allclose(undeduplicated[SENT_COUNT], batch.loc[BARS, SENT_COUNT])  # stories did merge items


def test_a_replayed_bar_repeats_and_an_import_of_dated_history_rebuilds(cfg: RunConfig) -> None:
    store = ModelStore(Path(cfg.run.models_dir))
    live = LiveSentiment()
    first = live_rows(cfg, BARS[:10], live)
    again = live(cfg, "NVDA", BARS[8:10], store).frame.iloc[-1]  # the resume replays the last bar
    pd.testing.assert_series_equal(again, first.iloc[-1], check_names=False)
    with NewsArchive(Path(cfg.sentiment.archive)) as archive:  # dated history arrives during the session
        archive.add([news(40 + k, f"2024-03-{11 + k} 14:30", source="import") for k in range(3)])
    rest = live_rows(cfg, BARS, live)  # (bars before the 10th are re-asked: the state moves forward only)
    batch = sentiment_signals(cfg, "NVDA", BARS, store).frame
    assert_same(rest.iloc[10:], batch.iloc[10:])


def test_a_new_model_version_rescores_what_is_in_play(cfg: RunConfig) -> None:
    store = ModelStore(Path(cfg.run.models_dir))
    live = LiveSentiment()
    before = live_rows(cfg, BARS[:6], live)
    torch.manual_seed(1)
    SentimentModel.fallback(HasherConfig(buckets=1 << 10), hidden=8).save(store, "sentiment")
    after = live(cfg, "NVDA", BARS[4:6], store)
    batch = sentiment_signals(cfg, "NVDA", BARS[:6], store)
    assert after.model_version == batch.model_version != ""
    assert after.frame[SENT_SCORE].iloc[-1] == pytest.approx(batch.frame[SENT_SCORE].iloc[-1], rel=1e-9)
    assert after.frame[SENT_SCORE].iloc[-1] != pytest.approx(before[SENT_SCORE].iloc[-1], rel=1e-6)


def test_the_news_thread_prepares_new_versions_so_the_bar_loop_finds_them_done(
        cfg: RunConfig, caplog: pytest.LogCaptureFixture) -> None:
    store = ModelStore(Path(cfg.run.models_dir))
    prepare = NewsPreparer(cfg, "NVDA", store)
    assert prepare.prepare() == len(archive_items())  # the whole archive, once
    assert prepare.prepare() == 0  # nothing new since
    with NewsArchive(Path(cfg.sentiment.archive)) as archive:
        archive.add([news(60, "2024-03-28 15:00", "2024-03-30 12:00", source="late")])  # collected now
    assert prepare.prepare() == 1
    with NewsArchive(Path(cfg.sentiment.archive)) as archive:
        frame = archive.frame("NVDA")
        version = sentiment_signals(cfg, "NVDA", BARS[-1:], store).model_version
        assert len(archive.cached_scores(list(zip(frame["id"], frame["text_hash"])), version)) == len(frame)
    encoder = embedding_encoder(cfg.sentiment.embedding_encoder)
    with VectorStore(Path(cfg.sentiment.archive)) as vectors:
        assert len(vectors.by_key(encoder.id, list(zip(frame["id"], frame["version"])))) == len(frame)

    broken = NewsPreparer(cfg, "NVDA", ModelStore(Path(cfg.run.models_dir) / "empty"))  # no sentiment model there
    assert broken.prepare() == 0 and "could not prepare" in caplog.text  # logged; the news thread goes on
