"""Report sections that explain ML signals: folds, calibration, fusion shares, news coverage, leakage audit."""
from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from backtests.report import charts
from backtests.report.audit_checks import SymbolAudit
from backtests.report.html import ReportPart, frame_table
from backtests.report.skill import N_BOOT, STATISTICS, Skill, skill_table
from ml.gm.calibration import hit_rate_by_confidence

FOLD_COLUMNS = (
    "fold", "train_start", "train_end", "val_start", "val_end", "test_start", "test_end", "n_train", "version",
    "val_mse", "test_mse", "val_dir_acc", "test_dir_acc", "calibration_slope", "gm_opinion", "no_opinion_reason",
    "seconds",
)


def _dates_only(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for col in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[col]):
            out[col] = out[col].dt.date.astype(str)
    return out


def fold_hit_rates(gm: Any) -> pd.DataFrame:
    """Out-of-sample hit rate per fold and confidence bucket, as "rate (count)" cells."""
    rows = {}
    for fold, part in gm.signals.groupby("fold"):
        fwd = part["fwd_return"].to_numpy()
        up = np.where(np.isfinite(fwd), (fwd > 0).astype(float), np.nan)  # NaN: not yet realised, left out
        table = hit_rate_by_confidence(part["gm_prob"].to_numpy(), up)
        rows[fold] = {
            f"hit {r.bucket}": "-" if not r.count else f"{r.hit_rate:.2f} ({r.count})" for r in table.itertuples()
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def fold_part(symbol: str, gm: Any) -> ReportPart:
    """Per-fold table: training window, model version, validation and test error, directional accuracy, weights,
    and the hit rate by confidence bucket."""
    folds = _dates_only(gm.folds)
    weights = [c for c in folds.columns if c.startswith("weight_")]
    shown = folds[[c for c in FOLD_COLUMNS if c in folds.columns] + weights].set_index("fold")
    shown = shown.join(fold_hit_rates(gm))
    note = (
        f'<p class="note">{len(folds)} folds, retrained every fold on data that ends an embargo before its test '
        f"window; GM training took {gm.seconds:.1f} s in all. Directional accuracy counts the sign of the "
        "forecast H-bar log return against the realised one; hit columns are per confidence bucket "
        "(confidence = |2p - 1|), as hit rate (bars). A fold whose validation bars show no positive skill "
        "(gm_opinion False) forecasts gm_prob 0.5 on every test bar, i.e. casts no vote; no_opinion_reason says "
        "why. calibration_slope is the Platt slope, held at 0 or above.</p>"
    )
    return ReportPart(f"Walk-forward folds ({symbol})", frame_table(shown, ids=("version",)) + note)


def calibration_part(symbol: str, gm: Any) -> ReportPart:
    """Reliability plot on validation and test bars, Brier/ECE, and hit rate by confidence bucket."""
    frames = []
    for key, label in (("reliability_validation", "validation"), ("reliability_test", "test (out of sample)")):
        table = gm.calibration[key].rename(columns={"predicted_mean": "predicted", "observed_freq": "observed"})
        frames.append(table.assign(series=label))
    chart = charts.reliability_chart(pd.concat(frames))
    summary = gm.calibration["summary"]
    hits = gm.calibration["hit_rate_test"]
    body = (
        chart
        + "<p>Calibration summary (lower is better):</p>"
        + frame_table(summary)
        + "<p>Out-of-sample hit rate by confidence bucket (confidence = |2p - 1|):</p>"
        + frame_table(hits.set_index(hits.columns[0]))
    )
    return ReportPart(f"Calibration of the direction probability ({symbol})", body)


def fusion_part(symbol: str, shares: Mapping[str, float]) -> ReportPart:
    """How the fused decisions came about: GM-only bars and sentiment's share of the vote."""
    bars = max(shares["bars"], 1.0)
    rows = [
        ("bars", f"{shares['bars']:.0f}"),
        ("bars decided by the GM alone (no news items)", f"{shares['gm_only_share'] * 100:.1f}%"),
        ("bars with a sentiment opinion", f"{shares['bars_with_sentiment']:.0f} ({shares['bars_with_sentiment'] / bars * 100:.1f}%)"),
        ("sentiment's share of the absolute vote, all bars", f"{shares['sentiment_vote_share'] * 100:.1f}%"),
        ("sentiment's share of the vote, buy/sell bars", f"{shares['sentiment_share_in_decisions'] * 100:.1f}%"),
        ("buy / sell / hold bars", f"{shares['buy_bars']:.0f} / {shares['sell_bars']:.0f} / {shares['hold_bars']:.0f}"),
    ]
    body = "<table>" + "".join(f"<tr><td>{html.escape(k)}</td><td>{v}</td></tr>" for k, v in rows) + "</table>"
    return ReportPart(f"Fusion of GM and sentiment ({symbol})", body)


def news_part(symbol: str, news: Any) -> ReportPart:
    """News coverage by month and where the news came from."""
    summary = news.summary
    if not summary.get("items"):
        body = f"<p>No news items for {html.escape(symbol)} in {html.escape(str(summary.get('archive')))}: " \
               "sentiment had no opinion on any bar (no opinion is not a neutral opinion).</p>"
        return ReportPart(f"News coverage ({symbol})", body)
    monthly = news.monthly_counts
    body = charts.bar_chart(monthly, f"News items per month ({symbol})", "items") + (
        f"<p>{summary['items']} item versions from {html.escape(str(summary['archive']))}, scored by "
        f"{html.escape(str(summary['model_version']))}; {summary['cache_hits']} scores came from the cache.</p>"
        + _news_facts(summary)
    )
    return ReportPart(f"News coverage ({symbol})", body)


def _news_facts(summary: Mapping[str, Any]) -> str:
    """Point in time and de-duplication, as the news summary records them."""
    rows = []
    if summary.get("in_sample"):
        rows.append(("sentiment model", str(summary["in_sample"])))
    if "vendor_timestamped_share" in summary:
        rows.append(("items whose time is the vendor's claim (imports)", f"{summary['vendor_timestamped_share']:.0%}"))
    if "duplicates_left_out" in summary:
        rows.append(("stories (near-duplicates counted once)",
                     f"{summary['stories']} from {summary['items']} item versions; "
                     f"{summary['duplicates_left_out']} re-told items left out of the vote"))
    if "stories_in_play_per_bar" in summary:
        rows.append(("stories in play on a bar with news (after de-duplication)",
                     f"{summary['stories_in_play_per_bar']:.1f} on average"))
    return "<table>" + "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>" for k, v in rows) + \
        "</table>" if rows else ""


LEAKAGE_NOTE = (
    "embargo: on every fold, no training or validation label reaches past the test start minus the embargo. GM: "
    "the first, a middle and the last fold were re-trained on prices cut at the middle of their test window (not "
    "every fold: each re-run costs a fold's training); their gm_mu, gm_prob and gm_unc from the test start to the "
    "cut must equal the full run's. sentiment: the same bars re-aggregated from the archive as it stood at the cut. "
    "fused: action, confidence and score re-fused from the re-run inputs. fills: every fill on a bar after its "
    "decision, at that bar's open within the slippage; and the strategy re-run on prices and signals cut at the "
    "last audited cut makes the same fills up to it. A difference above the tolerance means a signal or fill used "
    "something that came after it. Bars outside the audited folds are covered only by the structural checks."
)


def leakage_part(symbol: str, audit: SymbolAudit) -> ReportPart:
    """Pass/fail of every leakage check: what was compared, over which bars, with which tolerance."""
    verdict = '<span class="pass">PASS</span>' if audit.passed else '<span class="fail">FAIL</span>'
    rows = pd.DataFrame([{"check": c.check, "scope": c.scope, "bars": c.bars, "max_abs_diff": f"{c.max_abs_diff:.3g}",
                          "tolerance": f"{c.tolerance:.0e}" if c.tolerance else "exact",
                          "result": "pass" if c.passed else "FAIL", "detail": c.detail} for c in audit.checks])
    body = f"<p>{verdict}: {sum(c.passed for c in audit.checks)} of {len(audit.checks)} checks passed.</p>"
    body += frame_table(rows.set_index("check")) + f'<p class="note">{html.escape(LEAKAGE_NOTE)}</p>'
    for fold_id, table in audit.tables.items():
        body += f"<p>GM re-run of fold {fold_id}:</p>" + frame_table(table, max_rows=12, float_format="{:.6f}")
    return ReportPart(f"Leakage audit ({symbol})", body)


SKILL_NOTE = (
    "rank_ic: Spearman correlation of the forecast with the realised H-bar log return; dir_acc: share of bars whose "
    "forecast sign was right (zero forecasts left out) and majority: the better of always-up and always-down on "
    "the same bars, dir_edge their difference; bss: Brier skill score of the probability against the base rate of "
    "the bars scored; cal_slope: logistic slope of the outcome on logit(p) (1 calibrated, 0 no information); ece: "
    "expected calibration error over 10 bins. Intervals: 95% moving-block bootstrap ({boot} resamples, blocks of "
    "max(2H, n^(1/3)) bars, so that overlapping H-bar labels stay together). Sentiment is scored on bars with news "
    "only, with p = (1 + score x confidence) / 2; fused uses p = (1 + score) / 2."
)


def skill_part(symbol: str, skills: Mapping[str, Mapping[str, Skill]], verdicts: list[str]) -> ReportPart:
    """Skill of each signal source, per fold and pooled, with intervals."""
    body = "".join(f"<p><b>{html.escape(line)}</b></p>" for line in verdicts)
    for label, per in skills.items():
        table = skill_table(per)
        table.index = [f"fold {k}" if k != "all" else "all test bars" for k in table.index]
        body += f"<h3>{html.escape(label)}</h3>" + frame_table(table[["bars", *STATISTICS]])
    body += f'<p class="note">{html.escape(SKILL_NOTE.format(boot=N_BOOT))}</p>'
    return ReportPart(f"Forecast skill ({symbol})", body)
