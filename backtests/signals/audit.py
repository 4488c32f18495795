"""The leakage audit: checks that each signal, and each fill, used only what was known when it was made.

What it checks, each as one row with its tolerance and verdict:

- ``embargo``: on every fold, no training or validation label reaches past the fold's test start minus the
  embargo (structural; exact);
- ``GM``: a sample of folds (the first, a middle and the last) re-run on prices cut at the middle of the fold's
  test window: the re-run's ``gm_mu``, ``gm_prob``, ``gm_unc`` on every bar from the fold's test start to the cut
  must equal the full run's within ``GM_TOLERANCE``; a feature or label that reads later bars changes them;
- ``sentiment``: on the same bars, sentiment re-aggregated from the archive as it stood at the cut's cutoff must
  equal the full run's (a news item used before its cutoff changes the bars it leaked into);
- ``fused``: action, confidence and score re-fused from the re-run GM and sentiment must equal the full run's;
- ``fills`` (added by the runner after the backtest): every fill comes on a bar after the decision that placed it,
  at that bar's open moved by at most the configured slippage; and the strategy re-run on prices and signals cut at
  the last audited cut must make the same fills up to the cut.

The sample costs three fold re-trainings per symbol (about three folds' training time); ``report.leakage_audit``
turns the audit off.
"""
from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from backtests.presets.config import RunConfig
from backtests.report.audit_checks import EXACT, Check, SymbolAudit, check_gap, column_gap
from backtests.signals.news import sentiment_signals
from ground.signals import ACTION, CONFIDENCE, SCORE, SENTIMENT_COLUMNS
from ml.fusion import fuse
from ml.gm.runner import GMRunResult, audit_fold, audit_sample, embargo_violations
from ml.store import ModelStore

log = logging.getLogger(__name__)

GM_TOLERANCE = 1e-6  # float32 forecasts of a shorter batch may round differently by about 1e-9
FUSED = (ACTION, CONFIDENCE, SCORE)


def audit_symbol(
    cfg: RunConfig,
    symbol: str,
    prices: pd.DataFrame,
    window: pd.DatetimeIndex,
    mode: str,
    gm: GMRunResult | None,
    sentiment: pd.DataFrame | None,
    fused: pd.DataFrame,
    store: ModelStore,
) -> SymbolAudit:
    """The signal checks of one symbol (the fill checks are added by the runner after the backtest)."""
    out = SymbolAudit()
    cuts: list[tuple[int, pd.DatetimeIndex, pd.DataFrame | None]] = []
    if gm is None:  # sentiment alone: truncate the window at its middle
        cuts.append((-1, window[: len(window) // 2 + 1], None))
        out.last_cut = window[len(window) // 2]
    else:
        violations = embargo_violations(gm.schedule, cfg.walkforward)
        out.checks.append(Check("embargo", f"all {len(gm.schedule)} folds", len(gm.schedule), float(len(violations)),
                                0.0, not violations, "; ".join(violations)))
        for fold_id in (gm.schedule[i].fold_id for i in audit_sample(len(gm.schedule))):
            log.info("%s: leakage audit: re-running fold %d on prices cut at the middle of its test window",
                     symbol, fold_id)
            audit = audit_fold(prices, gm, fold_id, wf=cfg.walkforward, ens=cfg.effective_gm(),
                               tolerance=GM_TOLERANCE)
            out.tables[fold_id] = audit.table
            scope = f"fold {fold_id}, {audit.table.index[0].date()}..{audit.cut.date()}" if len(audit.table) else \
                f"fold {fold_id}"
            out.checks.append(check_gap("GM", scope, audit.table["max_abs_diff"], GM_TOLERANCE))
            cuts.append((fold_id, audit.table.index, audit.rerun))
            out.last_cut = audit.cut if out.last_cut is None else max(out.last_cut, audit.cut)
    for fold_id, bars, rerun_gm in cuts:
        scope = f"fold {fold_id}, {bars[0].date()}..{bars[-1].date()}" if fold_id >= 0 else \
            f"{bars[0].date()}..{bars[-1].date()}"
        rerun_sent = None
        if mode != "gm":
            rerun_sent = sentiment_signals(cfg, symbol, bars, store).frame
            full_sent = sentiment if sentiment is not None else pd.DataFrame(index=window)
            out.checks.append(check_gap("sentiment", scope, column_gap(full_sent.reindex(bars), rerun_sent,
                                                                     SENTIMENT_COLUMNS), EXACT))
        gm_part = rerun_gm if rerun_gm is not None else pd.DataFrame({"gm_prob": np.nan}, index=bars)
        refused = fuse(gm_part, rerun_sent, cfg.fusion, mode=mode)
        out.checks.append(check_gap("fused", scope, column_gap(fused.reindex(bars), refused, FUSED), GM_TOLERANCE))
    return out
