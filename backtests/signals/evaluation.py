"""What the top of an ML report says: skill of each signal source against realised returns, the no-opinion folds,
the test period, news coverage, and the settings that differ from the defaults.

A source is evaluated where it has something to say: the GM on every test bar it forecast, sentiment on bars with
news items, the fused score on every bar. The realised return of a bar is the log return over the forecast horizon
from its close (the GM's label), NaN where the data ends first.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from backtests.presets.config import RunConfig
from backtests.report.skill import Skill, skill_by, verdict
from ground.config import to_mapping
from ground.signals import GM_MU, GM_PROB, SCORE, SENT_VOTE

# (label, forecast column, probability column) per source; probabilities of votes are (1 + vote) / 2.
SOURCES = (("GM", GM_MU, GM_PROB), ("sentiment", SENT_VOTE, "sent_prob"), ("fused", SCORE, "fused_prob"))


def realised_returns(frame: pd.DataFrame, index: pd.DatetimeIndex, horizon: int) -> pd.Series:
    """Log return from each bar's close to the close ``horizon`` bars later (NaN at the end of the data)."""
    log_close = np.log(frame["close"])
    return (log_close.shift(-horizon) - log_close).reindex(index)


def evaluation_frame(table: pd.DataFrame, realised: pd.Series) -> pd.DataFrame:
    """The signal table of one symbol with the realised return and the vote probabilities attached."""
    out = table.copy()
    out["realised"] = realised.reindex(out.index)
    out["sent_prob"] = (1.0 + out[SENT_VOTE]) / 2.0
    out["fused_prob"] = (1.0 + out[SCORE]) / 2.0
    if "fold" not in out:
        out["fold"] = np.nan
    return out


def source_skills(frame: pd.DataFrame, horizon: int, seed: int) -> dict[str, dict[str, Skill]]:
    """Per source with anything to evaluate: skill per fold (GM folds) and pooled (key ``all``)."""
    out: dict[str, dict[str, Skill]] = {}
    for label, forecast, prob in SOURCES:
        rows = frame[frame[forecast].notna()]
        if rows.empty:
            continue
        by = "fold" if rows["fold"].notna().any() else None
        out[label] = skill_by(rows.assign(fold=rows["fold"].astype("Int64")), forecast, prob, "realised", horizon,
                              by, seed=seed)
    return out


def skill_metrics(skills: Mapping[str, Mapping[str, Skill]]) -> dict[str, Any]:
    """metrics.json figures: per source, per fold and pooled, each statistic with its interval."""
    return {label: {key: s.as_dict() for key, s in per.items()} for label, per in skills.items()}


def verdict_lines(symbol: str | None, skills: Mapping[str, Mapping[str, Skill]]) -> list[str]:
    """One verdict per source (pooled over the symbol's test bars)."""
    prefix = f"{symbol} " if symbol else ""
    return [verdict(f"{prefix}{label}", per["all"]) for label, per in skills.items() if label != "fused"]


def no_news_line(mode: str, frame: pd.DataFrame) -> str | None:
    """"GM only: ..." when a hybrid run had no news item on any bar of its test period."""
    if mode != "hybrid" or frame[SENT_VOTE].notna().any():
        return None
    return f"GM only: no news in the archive for {period(frame.index)}"


def period(index: pd.DatetimeIndex) -> str:
    return f"{index[0].date()}..{index[-1].date()}"


def no_opinion_line(folds: pd.DataFrame, no_opinion: str) -> str | None:
    """How many folds the GM sat out, and what the strategy does then."""
    if folds.empty or "gm_opinion" not in folds:
        return None
    silent = int((~folds["gm_opinion"].astype(bool)).sum())
    action = "goes flat" if no_opinion == "flat" else "keeps its last position"
    return (f"GM had no opinion in {silent} of {len(folds)} folds (no positive skill on validation data); without "
            f"an opinion the strategy {action} (fusion.no_opinion = {no_opinion!r})")


def changed_settings(cfg: RunConfig) -> dict[str, Any]:
    """Every config value that differs from the built-in defaults (from the preset, flags or --set)."""
    ours, base = _flatten(to_mapping(cfg)), _flatten(to_mapping(RunConfig()))
    return {key: value for key, value in ours.items() if base.get(key) != value and key not in _NOT_RESULT}


# Where outputs and models go: they do not change the result.
_NOT_RESULT = ("run.reports_dir", "run.models_dir", "report.html")


def _flatten(mapping: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_flatten(value, name + "."))
        else:
            out[name] = value
    return out


def settings_line(changed: Mapping[str, Any]) -> str:
    if not changed:
        return "settings: all defaults"
    shown = ", ".join(f"{k}={v}" for k, v in changed.items())
    return f"settings that differ from the defaults: {shown}"
