"""Does a forecast have skill? Out-of-sample statistics of a forecast against the realised H-bar return, each with a
confidence interval that respects overlapping labels.

Statistics (all on bars whose realised return is known):

- ``rank_ic``: Spearman rank correlation of the forecast with the realised return;
- ``dir_acc`` and ``dir_edge``: share of bars whose forecast sign matches the realised sign (bars with a zero
  forecast left out), and that accuracy minus the majority-class baseline ("always up" or "always down",
  whichever was right more often on the same bars);
- ``bss``: Brier skill score of the probability against climatology, ``1 - Brier(p) / Brier(base rate)``, with the
  base rate of the bars scored (a baseline that knows the period's base rate, so hard to beat);
- ``cal_slope``: slope of a logistic regression of the outcome on ``logit(p)`` (1: calibrated, 0: no information,
  below 0: inverted);
- ``ece``: expected calibration error over 10 probability bins.

Intervals: a moving-block bootstrap (Kunsch 1989) with blocks of ``max(2H, n^(1/3))`` consecutive bars, so the
``H - 1`` bars of overlap between neighbouring H-bar labels stay inside blocks; 1,000 resamples with a fixed seed,
95% percentile intervals. A statistic is undefined (NaN) where its input is constant, e.g. the calibration slope of
a GM that had no opinion (p = 0.5 on every bar).
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

STATISTICS = ("rank_ic", "dir_acc", "majority", "dir_edge", "bss", "cal_slope", "ece")
N_BOOT = 1000
LEVEL = 0.95
_BINS = 10


@dataclass(frozen=True)
class Estimate:
    """A statistic and its bootstrap interval."""

    value: float
    low: float
    high: float

    def text(self, digits: int = 3) -> str:
        if not math.isfinite(self.value):
            return "n/a"
        return f"{self.value:.{digits}f} [{self.low:.{digits}f}, {self.high:.{digits}f}]"


@dataclass(frozen=True)
class Skill:
    """Skill statistics of one forecast over one set of bars."""

    n: int
    block: int
    estimates: Mapping[str, Estimate]

    def as_dict(self) -> dict[str, float]:
        """Flat figures for metrics.json: ``<stat>``, ``<stat>_lo``, ``<stat>_hi`` plus ``n`` and ``block``."""
        out: dict[str, float] = {"n": float(self.n), "block": float(self.block)}
        for name, est in self.estimates.items():
            out[name], out[f"{name}_lo"], out[f"{name}_hi"] = est.value, est.low, est.high
        return out


def block_length(n: int, horizon: int) -> int:
    """Bootstrap block length: long enough to hold an H-bar label's overlap, and growing like n^(1/3)."""
    return max(1, min(n, max(2 * horizon, round(n ** (1.0 / 3.0)))))


def block_indices(n: int, block: int, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Moving-block bootstrap resamples as row indices ``[n_boot, n]``."""
    n_blocks = math.ceil(n / block)
    starts = rng.integers(0, n - block + 1, size=(n_boot, n_blocks))  # [B, K]
    idx = starts[:, :, None] + np.arange(block)[None, None, :]  # [B, K, block]
    return idx.reshape(n_boot, -1)[:, :n]  # [B, K * block] -> [B, n]


def _ranks(x: np.ndarray) -> np.ndarray:
    """Average ranks along the last axis (ties share their mean rank), row by row."""
    order = np.argsort(x, axis=-1, kind="mergesort")
    sorted_x = np.take_along_axis(x, order, axis=-1)
    n = x.shape[-1]
    ranks = np.empty_like(x, dtype=np.float64)
    pos = np.broadcast_to(np.arange(1, n + 1, dtype=np.float64), x.shape)
    # ties: the mean position of each run of equal values
    new_run = np.concatenate([np.ones(x.shape[:-1] + (1,), bool), np.diff(sorted_x, axis=-1) != 0], axis=-1)
    run_id = np.cumsum(new_run, axis=-1) - 1
    flat_id = (run_id + (np.arange(int(np.prod(x.shape[:-1]))) * n).reshape(x.shape[:-1] + (1,))).ravel()
    sums = np.bincount(flat_id, weights=pos.ravel(), minlength=flat_id.max() + 1)
    counts = np.bincount(flat_id, minlength=flat_id.max() + 1)
    mean_pos = (sums / np.maximum(counts, 1))[flat_id].reshape(x.shape)
    np.put_along_axis(ranks, order, mean_pos, axis=-1)
    return ranks


def _corr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise Pearson correlation; NaN where a row is constant."""
    a = a - a.mean(axis=-1, keepdims=True)
    b = b - b.mean(axis=-1, keepdims=True)
    den = np.sqrt((a * a).sum(axis=-1) * (b * b).sum(axis=-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 1e-300, (a * b).sum(axis=-1) / den, np.nan)


def _logit_slope(x: np.ndarray, y: np.ndarray, iters: int = 50) -> np.ndarray:
    """Row-wise logistic regression of y on x (with intercept) by Newton's method: the slope per row."""
    a = np.zeros(x.shape[:-1])
    b = np.zeros(x.shape[:-1])
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-np.clip(a[..., None] * x + b[..., None], -30, 30)))
        w = p * (1 - p)
        ga, gb = ((p - y) * x).sum(-1), (p - y).sum(-1)
        haa, hab, hbb = (w * x * x).sum(-1) + 1e-9, (w * x).sum(-1), w.sum(-1) + 1e-9
        det = haa * hbb - hab * hab
        with np.errstate(invalid="ignore", divide="ignore"):
            da = (hbb * ga - hab * gb) / det
            db = (haa * gb - hab * ga) / det
        a, b = a - np.nan_to_num(da), b - np.nan_to_num(db)
    constant = np.ptp(x, axis=-1) < 1e-12
    return np.where(constant | ~np.isfinite(a), np.nan, a)


def _ece(p: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Row-wise expected calibration error over equal-width probability bins."""
    rows, n = p.shape
    which = np.clip((p * _BINS).astype(np.int64), 0, _BINS - 1) + _BINS * np.arange(rows)[:, None]
    count = np.bincount(which.ravel(), minlength=rows * _BINS).reshape(rows, _BINS)
    sp = np.bincount(which.ravel(), weights=p.ravel(), minlength=rows * _BINS).reshape(rows, _BINS)
    sy = np.bincount(which.ravel(), weights=y.ravel(), minlength=rows * _BINS).reshape(rows, _BINS)
    return np.abs(sp - sy).sum(axis=1) / n


def _statistics(f: np.ndarray, p: np.ndarray, r: np.ndarray) -> dict[str, np.ndarray]:
    """Every statistic for each row of ``[rows, n]`` inputs."""
    up = (r > 0).astype(np.float64)
    called = f != 0
    n_called = called.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        hits = (((f > 0) == (r > 0)) & called).sum(axis=-1) / n_called
        up_rate = (up * called).sum(axis=-1) / n_called
        majority = np.maximum(up_rate, 1 - up_rate)
        base = up.mean(axis=-1, keepdims=True)
        brier = ((p - up) ** 2).mean(axis=-1)
        clim = ((base - up) ** 2).mean(axis=-1)
        bss = np.where(clim > 0, 1 - brier / clim, np.nan)
    q = np.clip(p, 1e-6, 1 - 1e-6)
    return {
        "rank_ic": _corr(_ranks(f), _ranks(r)),
        "dir_acc": hits,
        "majority": majority,
        "dir_edge": hits - majority,
        "bss": bss,
        "cal_slope": _logit_slope(np.log(q / (1 - q)), up),
        "ece": _ece(p, up),
    }


def forecast_skill(
    forecast: np.ndarray,
    prob: np.ndarray,
    realised: np.ndarray,
    horizon: int,
    *,
    n_boot: int = N_BOOT,
    seed: int = 0,
) -> Skill:
    """Skill of ``forecast`` (any score whose sign is the call) and ``prob`` (P(up)) against ``realised`` returns.

    Rows where any input is NaN are dropped; bars are assumed in time order (blocks are runs of neighbours).
    """
    f, p, r = (np.asarray(v, dtype=np.float64) for v in (forecast, prob, realised))
    keep = np.isfinite(f) & np.isfinite(p) & np.isfinite(r)
    f, p, r = f[keep], p[keep], r[keep]
    n = len(f)
    if n < 3:
        nan = Estimate(float("nan"), float("nan"), float("nan"))
        return Skill(n, 0, {k: nan for k in STATISTICS})
    block = block_length(n, horizon)
    point = _statistics(f[None], p[None], r[None])
    idx = block_indices(n, block, n_boot, np.random.default_rng(seed))
    boot = _statistics(f[idx], p[idx], r[idx])
    tail = (1 - LEVEL) / 2 * 100
    estimates = {}
    for name in STATISTICS:
        values = boot[name][np.isfinite(boot[name])]
        value = float(point[name][0])
        if not math.isfinite(value) or len(values) < n_boot // 2:
            estimates[name] = Estimate(value, float("nan"), float("nan"))
        else:
            lo, hi = np.percentile(values, [tail, 100 - tail])
            estimates[name] = Estimate(value, float(lo), float(hi))
    return Skill(n, block, estimates)


def verdict(label: str, skill: Skill) -> str:
    """One line: skill is "detected" only when the rank IC's interval lies above 0."""
    ic = skill.estimates["rank_ic"]
    if skill.n < 3 or not math.isfinite(ic.value):
        return f"{label}: skill not measurable ({skill.n} bars with a forecast and a realised return)"
    found = "skill detected" if ic.low > 0 else "no detectable skill"
    if ic.high < 0:
        found += ", the forecast points the wrong way"
    edge = skill.estimates["dir_edge"]
    bss = skill.estimates["bss"]
    return (
        f"{label}: {found} (IC {ic.value:.2f}, 95% CI [{ic.low:.2f}, {ic.high:.2f}]; direction accuracy "
        f"{skill.estimates['dir_acc'].value:.3f} vs {skill.estimates['majority'].value:.3f} majority class, edge "
        f"{edge.value:+.3f} [{edge.low:+.3f}, {edge.high:+.3f}]; Brier skill {bss.value:+.3f}; {skill.n} bars)"
    )


def skill_by(
    frame: pd.DataFrame, forecast: str, prob: str, realised: str, horizon: int, by: str | None = None, *, seed: int = 0
) -> dict[str, Skill]:
    """Skill per group of ``by`` (e.g. per fold) and pooled (key ``"all"``), rows in time order within each group."""
    out: dict[str, Skill] = {}
    if by is not None:
        for key, part in frame.groupby(by, sort=True):
            out[str(key)] = forecast_skill(part[forecast], part[prob], part[realised], horizon, seed=seed)
    out["all"] = forecast_skill(frame[forecast], frame[prob], frame[realised], horizon, seed=seed)
    return out


def skill_table(skills: Mapping[str, Skill]) -> pd.DataFrame:
    """Rows per group, columns ``n`` and each statistic as "value [low, high]" text."""
    rows = {
        key: {"bars": s.n, **{name: s.estimates[name].text() for name in STATISTICS}} for key, s in skills.items()
    }
    return pd.DataFrame.from_dict(rows, orient="index")
