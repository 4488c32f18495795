"""Signal production for the ML strategies: walk-forward GM forecasts, point-in-time news sentiment, fusion.

Everything here happens before Cerebro runs; the strategies only read the resulting lines (ADR 0003). The producer
also builds the report sections that explain the signals: the fold table, calibration, fusion shares, news
coverage and the leakage audit.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from backtests.config import RunConfig
from backtests.ml_report import calibration_part, fold_part, fusion_part, leakage_part, news_part
from backtests.news_signals import NewsSignals, sentiment_signals
from backtests.report import ReportPart
from feeds.prices import PriceLoad
from ml.fusion import fuse
from ml.gm.config import GMEnsembleConfig
from ml.gm.features import WARMUP_BARS
from ml.gm.runner import GMRunResult, audit_last_fold, run_gm_walk_forward
from ml.gm.walkforward import history_needed
from ml.store import ModelStore
from strategies.registry import STRATEGIES, StrategySpec
from strategies.signal_data import SIGNAL_LINES
from strategies.sizer import ConfidenceSizer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProducedSignals:
    """Signals per symbol plus what the report and run.json need to explain them."""

    signals: dict[str, pd.DataFrame]
    signals_table: pd.DataFrame
    sizer: tuple[type, dict[str, Any]]
    params: dict[str, Any]
    report_parts: list[ReportPart] = field(default_factory=list)
    model_versions: list[str] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)


class MLSignalProducer:
    """Produces GM, sentiment and fused signals over the trading window of each symbol."""

    def warmup_bars(self, cfg: RunConfig) -> int | None:
        """History needed before the first trading bar: all of it for an expanding window (None)."""
        if cfg.walkforward.scheme == "expanding":
            return None
        return history_needed(cfg.walkforward) + WARMUP_BARS + cfg.walkforward.train_bars

    def produce(
        self, cfg: RunConfig, spec: StrategySpec, loads: Mapping[str, PriceLoad], frames: Mapping[str, pd.DataFrame]
    ) -> ProducedSignals:
        store = ModelStore(Path(cfg.run.models_dir))
        mode = spec.signals or "hybrid"
        signals: dict[str, pd.DataFrame] = {}
        tables, parts, versions = [], [], []
        extra: dict[str, Any] = {"symbols": {}}
        for symbol, load in loads.items():
            window = frames[symbol].index
            gm = self._gm(cfg, symbol, load.frame, window, store) if mode != "sentiment" else None
            news = sentiment_signals(cfg, symbol, window, store) if mode != "gm" else None
            gm_frame = gm.signals.reindex(window) if gm is not None else pd.DataFrame({"gm_prob": float("nan")}, index=window)
            sent_frame = news.frame if news is not None else None
            fused = fuse(gm_frame, sent_frame, cfg.fusion, mode=mode)
            lines = pd.DataFrame(index=window)
            lines["action"], lines["confidence"] = fused["action"], fused["confidence"]
            for col in ("gm_mu", "gm_prob", "gm_unc", "volatility"):
                lines[col] = gm_frame[col] if col in gm_frame else float("nan")
            for col in ("sent_score", "sent_conf", "sent_count"):
                lines[col] = sent_frame[col] if sent_frame is not None else float("nan")
            if lines["volatility"].isna().all():
                lines["volatility"] = trailing_volatility(load.frame).reindex(window)
            signals[symbol] = lines[list(SIGNAL_LINES)]  # the rest goes to signals.csv only
            table = pd.concat([lines, fused[["score", "gm_vote", "sent_vote", "gm_only"]]], axis=1)
            table.insert(0, "symbol", symbol)
            tables.append(table)
            info = self._explain(cfg, symbol, load, gm, news, fused, parts)
            extra["symbols"][symbol] = info
            if gm is not None:
                versions.extend(gm.versions)
            if news is not None and news.model_version:
                versions.append(news.model_version)
        sizer_cfg = replace(cfg.sizer, cap=cfg.sizer.cap / len(loads))
        return ProducedSignals(
            signals=signals,
            signals_table=pd.concat(tables),
            sizer=(ConfidenceSizer, {f: getattr(sizer_cfg, f) for f in sizer_cfg.__dataclass_fields__}),
            params={"rebalance_band": cfg.signals.rebalance_band},
            report_parts=parts,
            model_versions=list(dict.fromkeys(v for v in versions if v)),
            metrics=extra,
        )

    @staticmethod
    def _gm(cfg: RunConfig, symbol: str, frame: pd.DataFrame, window: pd.DatetimeIndex, store: ModelStore) -> GMRunResult:
        log.info("%s: walk-forward GM training, test %s..%s", symbol, window[0].date(), window[-1].date())
        return run_gm_walk_forward(
            frame, test_start=window[0], test_end=window[-1], wf=cfg.walkforward, ens=effective_gm(cfg), store=store,
            model_name=gm_model_name(symbol),
        )

    def _explain(
        self, cfg: RunConfig, symbol: str, load: PriceLoad, gm: GMRunResult | None, news: NewsSignals | None,
        fused: pd.DataFrame, parts: list[ReportPart],
    ) -> dict[str, Any]:
        info: dict[str, Any] = {}
        if gm is not None:
            parts.append(fold_part(symbol, gm))
            parts.append(calibration_part(symbol, gm))
            info["folds"] = gm.folds.to_dict(orient="records")
            info["calibration"] = gm.calibration["summary"].to_dict(orient="index")
            info["gm_seconds"] = gm.seconds
            if cfg.report.leakage_audit:
                audit = audit_last_fold(load.frame, gm, wf=cfg.walkforward, ens=effective_gm(cfg))
                parts.append(leakage_part(symbol, audit))
                info["leakage_audit"] = {
                    "cut": audit.cut.date().isoformat(), "bars_compared": len(audit.table),
                    "max_abs_diff": audit.max_abs_diff, "passed": audit.passed,
                }
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


def effective_gm(cfg: RunConfig) -> GMEnsembleConfig:
    """The [gm] section with the run's device and seed applied to both training configs (run.device, run.seed)."""
    train = replace(cfg.gm.train, device=cfg.run.device, seed=cfg.run.seed)
    warm = replace(cfg.gm.warm_train, device=cfg.run.device, seed=cfg.run.seed)
    return replace(cfg.gm, train=train, warm_train=warm)


def fusion_shares(fused: pd.DataFrame) -> dict[str, float]:
    """How often the GM decided alone, and sentiment's share of the decisions' absolute vote weight."""
    n = max(len(fused), 1)
    gm_abs = fused["gm_vote"].abs().fillna(0.0)
    sent_abs = fused["sent_vote"].abs().fillna(0.0)
    total = gm_abs + sent_abs
    decided = fused["action"] != 0
    share = (sent_abs / total.where(total > 0)).fillna(0.0)
    return {
        "bars": float(len(fused)),
        "gm_only_share": float(fused["gm_only"].sum() / n),
        "bars_with_sentiment": float(fused["sent_vote"].notna().sum()),
        "sentiment_vote_share": float(share.mean()) if len(share) else 0.0,
        "sentiment_share_in_decisions": float(share[decided].mean()) if decided.any() else 0.0,
        "buy_bars": float((fused["action"] > 0).sum()),
        "sell_bars": float((fused["action"] < 0).sum()),
        "hold_bars": float((fused["action"] == 0).sum()),
    }


def trailing_volatility(frame: pd.DataFrame, window: int = 21) -> pd.Series:
    """Trailing daily volatility of log returns (for volatility targeting when no GM features exist)."""
    return np.log(frame["close"]).diff().rolling(window).std()


def producer_for(strategy: str) -> MLSignalProducer | None:
    """The producer of the signals a strategy reads, or None for price-only strategies."""
    spec = STRATEGIES.get(strategy)
    return None if spec is None or spec.signals is None else MLSignalProducer()
