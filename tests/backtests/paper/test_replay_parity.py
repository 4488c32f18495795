"""Parity, end to end: recorded chart answers and an RSS document are replayed from servers on 127.0.0.1 on an
accelerated clock; the paper session (yfinance, the live poller, live news into the archive, sentiment scored by a
stored model, fusion, SignalStrategy, ConfidenceSizer, the paper broker, the journal) makes the same decisions and
fills as a backtest of the same bars whose signals are computed afterwards in one batch from the same archive."""
from __future__ import annotations

from collections.abc import Iterator
from email.utils import format_datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yfinance as yf

from backtests.paper.journal import Journal
from backtests.paper.session import PaperSession, SessionSettings
from backtests.presets.config import load_config
from backtests.run.runner import run_strategy
from backtests.signals.news import sentiment_signals
from backtests.signals.producer import trailing_volatility
from feeds.live.clock import ScaledClock
from feeds.live.sessions import ExchangeSessions
from feeds.live.source import YahooChartSource
from feeds.news.config import parse_config
from ground.signals import ACTION, CONFIDENCE, GM_PROB, SENT_COUNT, SENT_SCORE, VOLATILITY
from ml.fusion import fuse
from ml.sentiment.fallback import HasherConfig
from ml.sentiment.model import SentimentModel
from ml.store import ModelStore
from strategies.registry import strategy_spec
from tests.backtests.paper.stubs import MomentumForecaster
from tests.feeds.live.bars import daily_bars
from tests.feeds.live.replay_server import ReplayServer
from tests.feeds.news.loopback import FeedServer, Route
from tests.feeds.test_yahoo import LocalSession

DAILY = ExchangeSessions("XNYS", "1d")
START = pd.Timestamp("2024-11-30 12:00", tz="UTC")  # a Saturday noon: news is collected at noon every day
UNTIL = pd.Timestamp("2024-12-13 22:30", tz="UTC")
FIRST_LIVE = pd.Timestamp("2024-12-02")
NEWS = [  # (published UTC, headline): some before a bar's 16:00 New York cutoff, one after it, one in the future
    ("2024-11-28 15:00", "Nvidia beats estimates as data-centre sales soar"),
    ("2024-12-03 14:00", "Nvidia shares slump after export curbs"),
    ("2024-12-05 18:30", "Nvidia raises its outlook on strong demand"),
    ("2024-12-09 22:00", "Nvidia misses on gaming revenue"),
    ("2024-12-11 13:00", "Nvidia wins a large cloud contract"),
]


def rss(items: list[tuple[str, str]]) -> bytes:
    body = "".join(
        f"<item><title>{title}</title><link>https://news.example/{i}</link><guid>n-{i}</guid>"
        f"<pubDate>{format_datetime(pd.Timestamp(ts, tz='UTC').to_pydatetime(), usegmt=True)}</pubDate>"
        f"<description>{title}.</description></item>"
        for i, (ts, title) in enumerate(items))
    return (f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>t</title>'
            f"<link>https://news.example/</link><description>d</description>{body}</channel></rss>").encode()


@pytest.fixture(autouse=True)
def tz_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    yf.set_tz_cache_location(str(tmp_path_factory.mktemp("yf-cache")))
    yield


@pytest.mark.slow
def test_paper_decisions_and_fills_equal_the_backtest_over_the_same_bars_and_news(tmp_path: Path) -> None:
    torch.manual_seed(0)
    SentimentModel.fallback(HasherConfig(buckets=1 << 10), hidden=8).save(ModelStore(tmp_path / "models"), "sentiment")
    cfg = load_config("default", {"run.strategy": "hybrid", "run.models_dir": str(tmp_path / "models"),
                                  "sentiment.archive": str(tmp_path / "news.sqlite"), "fusion.w_sentiment": 0.9})
    table = daily_bars(DAILY, "2024-08-01", "2025-01-10", seed=11)
    labelled = table.set_axis(pd.DatetimeIndex([DAILY.label_for_start(t) for t in table.index], name="date"))
    history = labelled.loc[labelled.index < FIRST_LIVE]
    clock = ScaledClock(START.to_pydatetime(), speed=86400 * 2)
    with ReplayServer({"NVDA": table}, clock, DAILY.step, "1d", DAILY) as charts, FeedServer() as feeds:
        feeds.routes["/nvda.xml"] = Route(rss(NEWS))
        news = parse_config({"defaults": {"timeout": 5, "retries": 0}, "symbols": {"NVDA": ["Nvidia"]},
                             "feeds": [{"name": "wire", "url": feeds.url("/nvda.xml"), "symbols": ["NVDA"]}]})
        settings = SessionSettings("NVDA", tmp_path / "journal.sqlite", until=UNTIL.to_pydatetime(), qcheck_s=0.05,
                                   news=news, news_every_s=86400.0)
        source = YahooChartSource("NVDA", "1d", session=LocalSession(charts.base), timeout=5)
        result = PaperSession(cfg, settings, source=source, history=history, clock=clock,
                              forecaster=MomentumForecaster(), retrain=False).run()
    assert not result.failed, result.reason

    live = labelled.loc[FIRST_LIVE:pd.Timestamp("2024-12-13")]
    paper = result.signals
    assert list(paper.index) == list(live.index)  # each replayed bar once, in order

    # The backtest's signals, in one batch afterwards: the forecaster on prices up to each bar, sentiment from the
    # archive the session filled (its point-in-time rule), the same fusion.
    frame = pd.concat([history, live])[["open", "high", "low", "close", "volume"]]
    forecaster = MomentumForecaster()
    gm = pd.DataFrame({GM_PROB: [forecaster.predict_one(frame.loc[:d])[GM_PROB] for d in live.index]}, index=live.index)
    sent = sentiment_signals(cfg, "NVDA", pd.DatetimeIndex(live.index, name="date"), ModelStore(tmp_path / "models"))
    fused = fuse(gm, sent.frame, cfg.fusion, mode="hybrid")
    lines = pd.DataFrame({ACTION: fused[ACTION], CONFIDENCE: fused[CONFIDENCE],
                          VOLATILITY: trailing_volatility(frame).reindex(live.index)}, index=live.index)

    counts = sent.frame[SENT_COUNT].to_numpy()
    assert counts[0] > 0 and len(set(np.round(counts, 9))) >= 5  # news arrived, and decayed, as the bars went by
    assert (np.diff(counts) > 0).sum() >= 3  # each new item raised the (time-decayed) count when it became visible
    np.testing.assert_allclose(paper[SENT_COUNT].to_numpy(), counts, rtol=1e-12)
    np.testing.assert_allclose(paper[SENT_SCORE].to_numpy(), sent.frame[SENT_SCORE].to_numpy(), rtol=1e-9)
    np.testing.assert_allclose(paper[[ACTION, CONFIDENCE]].to_numpy(), lines[[ACTION, CONFIDENCE]].to_numpy(),
                               rtol=1e-9, atol=1e-12)

    outcome = run_strategy(strategy_spec("hybrid"), {"NVDA": live}, cfg, signals={"NVDA": lines})
    with Journal(tmp_path / "journal.sqlite") as journal:
        fills = journal.query("SELECT bar, size, price, commission FROM fills ORDER BY bar")
        decisions = journal.query("SELECT bar, action, order_size FROM decisions ORDER BY bar")
    expected = [(r.date, r.size, r.price, r.commission) for r in outcome.fills.itertuples()]
    assert len(expected) >= 2 and len(decisions) == len(live)
    assert [(pd.Timestamp(b).date().isoformat(), z) for b, z, _, _ in fills] == [(d, z) for d, z, _, _ in expected]
    np.testing.assert_allclose([(p, c) for _, _, p, c in fills], [(p, c) for _, _, p, c in expected], rtol=1e-12)
