"""Negative controls of the leakage audit: each planted leak must turn its check to FAIL, and the honest run must
pass. A feature that reads one bar ahead, a label window that overlaps the test window, a news item used before its
cutoff, and a fill at the decision bar's close."""
from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone
from pathlib import Path

import backtrader as bt
import numpy as np
import pandas as pd
import pytest

from backtests.presets.config import RunConfig, SentimentSection
from backtests.report.audit_checks import fill_timing_check
from backtests.run.analyzers import EquityRecorder, FillRecorder
from backtests.signals import audit as audit_mod
from backtests.signals import news as news_mod
from ml.fusion import fuse
from ml.gm import runner as gm_run
from ml.gm.features import FeatureSet, build_features
from ml.gm.walkforward import Fold
from ml.store import ModelStore
from strategies.signal_data import FrameFeed
from tests.ml.gm.test_ensemble import WF, tiny_config
from tests.ml.gm.test_features import price_frame

FRAME = price_frame(330, seed=3)
WINDOW = FRAME.index[270:320]  # folds of 20, 20 and 10 bars


def _cfg(**kw: object) -> RunConfig:
    return RunConfig(walkforward=WF, gm=tiny_config(members=("nbeats", "tsmixer")), **kw)  # type: ignore[arg-type]


def _gm_audit(tmp_path: Path) -> audit_mod.SymbolAudit:
    cfg = _cfg()
    gm = gm_run.run_gm_walk_forward(FRAME, test_start=WINDOW[0], test_end=WINDOW[-1], wf=cfg.walkforward,
                                    ens=cfg.effective_gm())
    fused = fuse(gm.signals.reindex(WINDOW), None, cfg.fusion, mode="gm")
    return audit_mod.audit_symbol(cfg, "TEST", FRAME, WINDOW, "gm", gm, None, fused, ModelStore(tmp_path))


@pytest.mark.slow
def test_honest_gm_run_passes_and_samples_first_middle_last_fold(tmp_path: Path) -> None:
    audit = _gm_audit(tmp_path)
    assert audit.passed and sorted(audit.tables) == [0, 1, 2]
    assert [c.check for c in audit.checks].count("GM") == 3 and [c.check for c in audit.checks].count("fused") == 3


@pytest.mark.slow
def test_a_feature_reading_one_bar_ahead_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def leaky(frame: pd.DataFrame, horizon: int = 5) -> FeatureSet:
        fs = build_features(frame, horizon)
        past = fs.past.copy()
        past[:-1, 0] = fs.past[1:, 0]  # today's return replaced by tomorrow's
        return dataclasses.replace(fs, past=past)

    monkeypatch.setattr(gm_run, "build_features", leaky)
    audit = _gm_audit(tmp_path)
    assert not audit.passed
    assert any(c.check == "GM" and not c.passed for c in audit.checks)
    assert any(c.check == "fused" and not c.passed for c in audit.checks)


def test_a_label_window_overlapping_the_test_window_fails() -> None:
    index = pd.bdate_range("2024-01-01", periods=200)
    ok = Fold(0, range(20, 100), range(106, 136), range(142, 162), (index[20], index[99]), (index[106], index[135]),
              (index[142], index[161]))
    # validation ends right before the test window: its last labels read 3 bars into it
    bad = dataclasses.replace(ok, val=range(106, 142))
    assert gm_run.embargo_violations([ok], WF) == []
    found = gm_run.embargo_violations([ok, bad], WF)
    assert len(found) == 1 and "reads row 144" in found[0]


def _archive(path: Path, days: pd.DatetimeIndex) -> None:
    from feeds.news.archive import NewsArchive
    from feeds.news.items import NewsItem

    items = []
    for i, day in enumerate(days):
        when = datetime(day.year, day.month, day.day, 15, 0, tzinfo=timezone.utc)  # 10:00/11:00 New York
        items.append(NewsItem(id=f"n{i}", published=when, title=f"headline {i}", summary="", source="test",
                              link=f"https://example.com/{i}", lang="en", symbols=("TEST",), fetched_at=when))
    with NewsArchive(path) as archive:
        archive.add(items)


def _scored(items: pd.DataFrame, archive: object, store: object, cfg: RunConfig,
            wanted: str) -> tuple[pd.DataFrame, str, int]:
    """Scores without a model: alternating signs, so every bar's aggregate depends on which items it sees."""
    score = np.where(np.arange(len(items)) % 2 == 0, 0.8, -0.5)
    return items.assign(score=score, confidence=0.9), "test-model", 0


def _sentiment_audit(tmp_path: Path) -> audit_mod.SymbolAudit:
    bars = pd.bdate_range("2024-03-04", periods=12)
    _archive(tmp_path / "news.sqlite", bars)
    # every item its own story: the control is about when an item counts, not which items are retold
    cfg = RunConfig(sentiment=SentimentSection(archive=str(tmp_path / "news.sqlite"), dedup=False))
    store = ModelStore(tmp_path / "models")
    sent = news_mod.sentiment_signals(cfg, "TEST", bars, store).frame
    fused = fuse(pd.DataFrame({"gm_prob": np.nan}, index=bars), sent, cfg.fusion, mode="sentiment")
    return audit_mod.audit_symbol(cfg, "TEST", pd.DataFrame(), bars, "sentiment", None, sent, fused, store)


def test_news_used_before_its_cutoff_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(news_mod, "score_items", _scored)
    monkeypatch.setattr(news_mod, "model_cutoff", lambda *args: None)  # no stored model behind the fake scores
    honest = _sentiment_audit(tmp_path / "honest")
    assert honest.passed, honest.checks

    real = news_mod.aggregate_sentiment

    def early(items: pd.DataFrame, bars: pd.DatetimeIndex, config: object) -> pd.DataFrame:
        return real(items.assign(published=items["published"] - timedelta(days=1)), bars, config)  # a day early

    monkeypatch.setattr(news_mod, "aggregate_sentiment", early)
    leaky = _sentiment_audit(tmp_path / "leaky")
    check = next(c for c in leaky.checks if c.check == "sentiment")
    assert not check.passed and not leaky.passed


class _Daily(bt.Strategy):
    def next(self) -> None:
        if len(self) in (2, 5):
            self.buy(size=10) if len(self) == 2 else self.sell(size=10)


def _fills(cheat_on_close: bool) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    frame = price_frame(12, seed=1)
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.broker.set_coc(cheat_on_close)
    cerebro.adddata(FrameFeed(dataname=frame, name="TEST"))
    cerebro.addstrategy(_Daily)
    cerebro.addanalyzer(EquityRecorder, _name="equity")
    cerebro.addanalyzer(FillRecorder, _name="fills")
    rec = cerebro.run()[0].analyzers.fills.get_analysis()
    return pd.DataFrame(rec["fills"]), {"TEST": frame}


def test_a_fill_at_the_decision_bars_close_fails() -> None:
    fills, frames = _fills(cheat_on_close=False)
    assert fill_timing_check(fills, frames, slippage_bps=0.0).passed
    fills, frames = _fills(cheat_on_close=True)
    check = fill_timing_check(fills, frames, slippage_bps=0.0)
    assert not check.passed and "decided" in check.detail and check.bars == 2
