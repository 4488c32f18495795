"""Signal production for the ML strategies: walk-forward GM forecasts, point-in-time news sentiment, fusion.

Everything here happens before Cerebro runs; the strategies only read the resulting lines (ADR 0003). The producer
also builds the report sections that explain the signals: the fold table, calibration, fusion shares, news
coverage and the leakage audit.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from backtests.presets.config import RunConfig
from backtests.report.audit_checks import SymbolAudit
from backtests.report.html import ReportPart
from backtests.report.ml_sections import (
    calibration_part,
    fold_part,
    fusion_part,
    news_part,
    skill_part,
)
from backtests.report.records import ProducedSignals
from backtests.signals import evaluation as ev
from backtests.signals.audit import audit_symbol
from backtests.signals.news import NewsSignals, sentiment_signals
from feeds.prices import PriceLoad
from ground.rolling import trailing_std
from ground.signals import (
    ACTION,
    CONFIDENCE,
    GM_COLUMNS,
    GM_ONLY,
    GM_PROB,
    GM_VOTE,
    SCORE,
    SENT_NOVELTY,
    SENT_VOTE,
    SENTIMENT_COLUMNS,
    SIGNAL_LINES,
    VOLATILITY,
)
from ml.fusion import fuse
from ml.gm.features import WARMUP_BARS
from ml.gm.runner import GMRunResult, run_gm_walk_forward
from ml.gm.walkforward import history_needed
from ml.store import ModelStore
from strategies.registry import StrategySpec

log = logging.getLogger(__name__)


class MLSignalProducer:
    """Produces GM, sentiment and fused signals over the trading window of each symbol.

    Its steps are timed separately in the run's timings: ``gm_s`` (walk-forward training and forecasts),
    ``news_s`` (scoring and aggregating news), ``audit_s`` (the leakage audit's signal checks: three folds re-run
    on truncated data, see ``backtests.signals.audit``).
    """

    def warmup_bars(self, cfg: RunConfig) -> int | None:
        """History needed before the first trading bar: all of it for an expanding window (None)."""
        if cfg.walkforward.scheme == "expanding":
            return None
        return history_needed(cfg.walkforward) + WARMUP_BARS + cfg.walkforward.train_bars

    def produce(
        self, cfg: RunConfig, spec: StrategySpec, loads: Mapping[str, PriceLoad], frames: Mapping[str, pd.DataFrame]
    ) -> ProducedSignals:
        """Signal lines per symbol, the signals table, and the report sections that explain them."""
        store = ModelStore(Path(cfg.run.models_dir))
        mode = spec.signals or "hybrid"
        timings = {"gm_s": 0.0, "news_s": 0.0, "audit_s": 0.0}
        signals: dict[str, pd.DataFrame] = {}
        tables: list[pd.DataFrame] = []
        parts: list[ReportPart] = []
        versions: list[str] = []
        extra: dict[str, Any] = {"symbols": {}}
        headline: list[str] = []
        audits: dict[str, SymbolAudit] = {}
        evaluated: list[pd.DataFrame] = []
        for symbol, load in loads.items():
            window = frames[symbol].index
            t0 = time.perf_counter()
            gm = self._gm(cfg, symbol, load.frame, window, store) if mode != "sentiment" else None
            t1 = time.perf_counter()
            news = sentiment_signals(cfg, symbol, window, store) if mode != "gm" else None
            t2 = time.perf_counter()
            timings["gm_s"] += t1 - t0
            timings["news_s"] += t2 - t1
            gm_frame = gm.signals.reindex(window) if gm is not None else pd.DataFrame({GM_PROB: np.nan}, index=window)
            sent_frame = news.frame if news is not None else None
            fused = fuse(gm_frame, sent_frame, cfg.fusion, mode=mode)
            lines = pd.DataFrame(index=window)
            lines[ACTION], lines[CONFIDENCE] = fused[ACTION], fused[CONFIDENCE]
            for col in GM_COLUMNS:
                lines[col] = gm_frame[col] if col in gm_frame else np.nan
            for col in (*SENTIMENT_COLUMNS, SENT_NOVELTY):
                lines[col] = sent_frame[col] if sent_frame is not None and col in sent_frame else np.nan
            if lines[VOLATILITY].isna().all():
                lines[VOLATILITY] = trailing_volatility(load.frame).reindex(window)
            signals[symbol] = lines[list(SIGNAL_LINES)]  # the rest goes to signals.csv only
            table = pd.concat([lines, fused[[SCORE, GM_VOTE, SENT_VOTE, GM_ONLY]]], axis=1)
            table.insert(0, "symbol", symbol)
            tables.append(table)
            frame_ev = ev.evaluation_frame(
                table.assign(fold=gm_frame["fold"] if "fold" in gm_frame else np.nan),
                ev.realised_returns(load.frame, window, cfg.walkforward.horizon),
            )
            evaluated.append(frame_ev)
            info = self._verdicts(cfg, symbol if len(loads) > 1 else None, mode, gm, frame_ev, headline, parts)
            if news is not None and news.summary.get("in_sample"):
                headline.append(f"{symbol}: {news.summary['in_sample']}")
            info.update(self._explain(symbol, gm, news, fused, parts))
            if cfg.report.leakage_audit:
                t3 = time.perf_counter()
                audits[symbol] = audit_symbol(cfg, symbol, load.frame, window, mode, gm, sent_frame, fused, store)
                timings["audit_s"] += time.perf_counter() - t3
            extra["symbols"][symbol] = info
            if gm is not None:
                versions.extend(gm.versions)
            if news is not None and news.model_version:
                versions.append(news.model_version)
        if len(evaluated) > 1:
            pooled = ev.source_skills(pd.concat(evaluated), cfg.walkforward.horizon, cfg.run.seed)
            headline.extend(ev.verdict_lines("all symbols", pooled))
            extra["skill_pooled"] = ev.skill_metrics(pooled)
        changed = ev.changed_settings(cfg)
        headline.append(ev.settings_line(changed))
        extra["changed_settings"] = {k: str(v) for k, v in changed.items()}
        extra["no_opinion"] = cfg.fusion.no_opinion
        return ProducedSignals(
            headline=headline,
            signals=signals,
            signals_table=pd.concat(tables),
            report_parts=parts,
            model_versions=list(dict.fromkeys(v for v in versions if v)),
            metrics=extra,
            timings=timings,
            audits=audits,
        )

    @staticmethod
    def _gm(cfg: RunConfig, symbol: str, frame: pd.DataFrame, window: pd.DatetimeIndex, store: ModelStore) -> GMRunResult:
        log.info("%s: walk-forward GM training, test %s..%s", symbol, window[0].date(), window[-1].date())
        return run_gm_walk_forward(
            frame, test_start=window[0], test_end=window[-1], wf=cfg.walkforward, ens=cfg.effective_gm(), store=store,
            model_name=gm_model_name(symbol),
        )

    @staticmethod
    def _verdicts(
        cfg: RunConfig, label: str | None, mode: str, gm: GMRunResult | None, frame: pd.DataFrame,
        headline: list[str], parts: list[ReportPart],
    ) -> dict[str, Any]:
        """Skill of each source for one symbol: the verdict lines at the top, the section, the figures."""
        symbol = str(frame["symbol"].iloc[0])
        skills = ev.source_skills(frame, cfg.walkforward.horizon, cfg.run.seed)
        verdicts = ev.verdict_lines(label, skills)
        headline.append(f"{label + ' ' if label else ''}test period {ev.period(frame.index)} ({len(frame)} bars), "
                        f"strategy signals: {mode}")
        headline.extend(verdicts)
        extra_lines = [ev.no_news_line(mode, frame)]
        if gm is not None:
            extra_lines.append(ev.no_opinion_line(gm.folds, cfg.fusion.no_opinion))
        headline.extend(line for line in extra_lines if line)
        parts.append(skill_part(symbol, skills, verdicts))
        return {"skill": ev.skill_metrics(skills), "verdicts": verdicts,
                "gm_only_no_news": ev.no_news_line(mode, frame) is not None}

    @staticmethod
    def _explain(
        symbol: str, gm: GMRunResult | None, news: NewsSignals | None, fused: pd.DataFrame, parts: list[ReportPart]
    ) -> dict[str, Any]:
        info: dict[str, Any] = {}
        if gm is not None:
            parts.append(fold_part(symbol, gm))
            parts.append(calibration_part(symbol, gm))
            info["folds"] = gm.folds.to_dict(orient="records")
            info["calibration"] = gm.calibration["summary"].to_dict(orient="index")
            info["gm_seconds"] = gm.seconds
        share = fusion_shares(fused)
        info["fusion"] = share
        parts.append(fusion_part(symbol, share))
        if news is not None:
            parts.append(news_part(symbol, news))
            info["news"] = news.summary
        return info


def gm_model_name(symbol: str) -> str:
    """The store name of a symbol's GM ensembles (shared by backtests and bt-train gm)."""
    return f"gm-{symbol.lower().lstrip('^')}"


def fusion_shares(fused: pd.DataFrame) -> dict[str, float]:
    """How often the GM decided alone, and sentiment's share of the decisions' absolute vote weight."""
    n = max(len(fused), 1)
    gm_abs = fused[GM_VOTE].abs().fillna(0.0)
    sent_abs = fused[SENT_VOTE].abs().fillna(0.0)
    total = gm_abs + sent_abs
    decided = fused[ACTION] != 0
    share = (sent_abs / total.where(total > 0)).fillna(0.0)
    return {
        "bars": float(len(fused)),
        "gm_only_share": float(fused[GM_ONLY].sum() / n),
        "bars_with_sentiment": float(fused[SENT_VOTE].notna().sum()),
        "sentiment_vote_share": float(share.mean()) if len(share) else 0.0,
        "sentiment_share_in_decisions": float(share[decided].mean()) if decided.any() else 0.0,
        "buy_bars": float((fused[ACTION] > 0).sum()),
        "sell_bars": float((fused[ACTION] < 0).sum()),
        "hold_bars": float((fused[ACTION] == 0).sum()),
    }


def trailing_volatility(frame: pd.DataFrame, window: int = 21) -> pd.Series:
    """Trailing daily volatility of log returns (for volatility targeting when no GM features exist).

    Window-local (``ground.rolling``): a paper session computes it from a short tail and gets the backtest's value.
    """
    ret = np.log(frame["close"].to_numpy(dtype=np.float64))
    ret = np.concatenate([[np.nan], np.diff(ret)])
    return pd.Series(trailing_std(ret, window), index=frame.index, name="close")
