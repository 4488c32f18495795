"""Direction-probability calibration, fitted on a fold's validation tail, and the reliability data for reports.

The ensemble's raw score for a bar is its forecast divided by its uncertainty (a z-score). A calibrator maps that
score to P(forward return > 0) so that "0.7" is right about 70% of the time on data the weights never saw. Two
methods: Platt scaling (a logistic fit, two parameters, robust on the ~100 validation bars a fold has; the default)
and isotonic regression (pool-adjacent-violators; monotone and free-form, but needs more data). Parameters are
plain numbers so they live in ``meta.json``.

Both maps are monotone non-decreasing in the score: a Platt fit whose slope comes out negative is refitted with the
slope held at 0, since a falling map would turn a forecast of "up" into a bet on "down", an inverted guess that no
validation evidence of skill supports. When the validation pairs show no positive skill (rank correlation of score
and outcome <= 0, or a flat fitted map), the calibrator has no opinion: it predicts exactly 0.5 on every bar, so
the GM casts no vote, and ``reason`` says why.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from ground.choices import choice_hint
from ml.errors import ModelError

METHODS = ("platt", "isotonic")
# A finite validation set cannot justify certainty: isotonic outputs are kept inside [_P_MIN, 1 - _P_MIN].
_P_MIN = 0.01


def _known(prob: np.ndarray, outcome: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairs whose outcome is known (realised returns are NaN at the end of the data)."""
    p = np.asarray(prob, dtype=np.float64)
    o = np.asarray(outcome, dtype=np.float64)
    keep = np.isfinite(p) & np.isfinite(o)
    return p[keep], o[keep]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # numerically stable for large |x|


def _fit_platt(score: np.ndarray, up: np.ndarray, iters: int = 100) -> tuple[float, float]:
    """Newton's method on the logistic loss, with Platt's (1999) smoothed targets to avoid overconfidence."""
    n_pos, n_neg = float(up.sum()), float(len(up) - up.sum())
    target = np.where(up > 0.5, (n_pos + 1.0) / (n_pos + 2.0), 1.0 / (n_neg + 2.0))
    x = np.stack([score, np.ones_like(score)], axis=1)  # [N, 2]
    w = np.zeros(2)
    ridge = 1e-6 * np.eye(2)

    def nll(wv: np.ndarray) -> float:
        z = x @ wv
        return float(np.sum(np.logaddexp(0.0, z) - target * z))

    cur = nll(w)
    for _ in range(iters):
        p = _sigmoid(x @ w)
        grad = x.T @ (p - target)
        hess = (x * (p * (1 - p))[:, None]).T @ x + ridge
        step = np.linalg.solve(hess, grad)
        lr = 1.0
        cand = w - step
        new = nll(cand)
        while new > cur:  # backtracking keeps every step a descent step
            lr *= 0.5
            if lr < 1e-8:
                return float(w[0]), float(w[1])
            cand = w - lr * step
            new = nll(cand)
        converged = cur - new < 1e-12
        w, cur = cand, new
        if converged:
            break
    return float(w[0]), float(w[1])


def _constrained_platt(score: np.ndarray, up: np.ndarray) -> tuple[float, float]:
    """Platt's fit with the slope held at or above 0: a negative slope is replaced by the intercept-only fit."""
    a, b = _fit_platt(score, up)
    if a >= 0:
        return a, b
    n_pos = float(up.sum())
    rate = (n_pos + 1.0) / (len(up) + 2.0)  # the smoothed base rate the intercept-only logistic fit reaches
    return 0.0, float(np.log(rate / (1.0 - rate)))


def rank_correlation(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rank correlation (average ranks for ties); NaN when either side is constant."""
    rx, ry = rankdata(x), rankdata(y)
    if np.ptp(rx) == 0 or np.ptp(ry) == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


def no_skill_reason(score: np.ndarray, up: np.ndarray, method: str, a: float, knots_y: Sequence[float]) -> str:
    """Why the validation pairs show no positive skill ("" when they do)."""
    ic = rank_correlation(score, up)
    if not np.isfinite(ic) or ic <= 0:
        return f"validation rank correlation of score and outcome {ic:.3f} <= 0 on {len(score)} bars"
    if method == "platt" and a <= 0:
        return f"Platt slope held at 0 on {len(score)} validation bars (the fit wanted it negative)"
    if method == "isotonic" and (len(knots_y) < 2 or knots_y[-1] <= knots_y[0]):
        return f"isotonic map is flat on {len(score)} validation bars"
    return ""


def pool_adjacent_violators(y: np.ndarray, weight: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Least-squares non-decreasing fit of ``y`` (already ordered): block values, weights and first indices."""
    vals: list[float] = []
    wts: list[float] = []
    starts: list[int] = []
    for i, (yi, wi) in enumerate(zip(y, weight, strict=True)):
        vals.append(float(yi))
        wts.append(float(wi))
        starts.append(i)
        while len(vals) > 1 and vals[-2] > vals[-1]:  # merge violators into their weighted mean
            w = wts[-2] + wts[-1]
            v = (vals[-2] * wts[-2] + vals[-1] * wts[-1]) / w
            vals[-2:], wts[-2:], starts[-2:] = [v], [w], [starts[-2]]
    return np.asarray(vals), np.asarray(wts), np.asarray(starts, dtype=np.int64)


def _fit_isotonic(score: np.ndarray, up: np.ndarray) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Knots of the isotonic fit: each block contributes its first and last score at the block's frequency."""
    xs, inverse = np.unique(score, return_inverse=True)  # ties share one point
    count = np.bincount(inverse).astype(np.float64)
    freq = np.bincount(inverse, weights=up) / count
    vals, _, starts = pool_adjacent_violators(freq, count)
    ends = np.append(starts[1:], len(xs)) - 1
    kx: list[float] = []
    ky: list[float] = []
    for v, s, e in zip(vals, starts, ends, strict=True):
        for pos in (s, e) if e > s else (s,):
            kx.append(float(xs[pos]))
            ky.append(float(np.clip(v, _P_MIN, 1.0 - _P_MIN)))
    return tuple(kx), tuple(ky)


@dataclass(frozen=True)
class DirectionCalibrator:
    """Maps a score to P(up). Platt: ``sigmoid(a * score + b)``; isotonic: interpolation between knots.

    ``reason`` non-empty means no opinion: ``predict`` gives 0.5 everywhere (see the module notes).
    """

    method: str
    a: float = 0.0
    b: float = 0.0
    knots_x: tuple[float, ...] = ()
    knots_y: tuple[float, ...] = ()
    n_fit: int = 0
    reason: str = ""

    @property
    def has_opinion(self) -> bool:
        return not self.reason

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ModelError(f"unknown calibration method '{self.method}'", fix=choice_hint(self.method, METHODS))
        if self.method == "isotonic" and (not self.knots_x or len(self.knots_x) != len(self.knots_y)):
            raise ModelError("isotonic calibration needs matching, non-empty knots")

    @classmethod
    def fit(cls, score: np.ndarray, outcome_up: np.ndarray, method: str = "platt") -> DirectionCalibrator:
        """Fit on validation scores and outcomes (1: the forward return was positive); NaN pairs are dropped."""
        s, up = _known(score, outcome_up)
        if len(s) < 2:
            raise ModelError(f"calibration needs at least 2 validation bars with known outcomes, got {len(s)}")
        if method == "isotonic":
            kx, ky = _fit_isotonic(s, up)
            reason = no_skill_reason(s, up, method, 0.0, ky)
            return cls(method, knots_x=kx, knots_y=ky, n_fit=len(s), reason=reason)
        if method == "platt":
            a, b = _constrained_platt(s, up)
            return cls(method, a=a, b=b, n_fit=len(s), reason=no_skill_reason(s, up, method, a, ()))
        return cls(method)  # unknown: __post_init__ raises with suggestions

    def predict(self, score: np.ndarray) -> np.ndarray:
        s = np.asarray(score, dtype=np.float64)
        if self.reason:
            return np.where(np.isfinite(s), 0.5, np.nan)
        if self.method == "platt":
            return _sigmoid(self.a * s + self.b)
        return np.interp(s, np.asarray(self.knots_x), np.asarray(self.knots_y))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"method": self.method, "n_fit": self.n_fit, "reason": self.reason}
        if self.method == "platt":
            out.update(a=self.a, b=self.b)
        else:
            out.update(knots_x=list(self.knots_x), knots_y=list(self.knots_y))
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DirectionCalibrator:
        try:
            return cls(
                method=str(data["method"]),
                a=float(data.get("a", 0.0)),
                b=float(data.get("b", 0.0)),
                knots_x=tuple(float(v) for v in data.get("knots_x", ())),
                knots_y=tuple(float(v) for v in data.get("knots_y", ())),
                n_fit=int(data.get("n_fit", 0)),
                reason=str(data.get("reason", "")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"calibration parameters in model metadata are malformed ({exc})") from exc


def reliability_table(prob: np.ndarray, outcome_up: np.ndarray, n_bins: int = 10) -> pd.DataFrame:
    """Reliability-curve data: per probability bin, the mean predicted probability and observed frequency.

    Empty bins are kept (count 0, NaN means) so tables from different runs line up.
    """
    p, o = _known(prob, outcome_up)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, n_bins - 1)
    count = np.bincount(which, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        pred = np.bincount(which, weights=p, minlength=n_bins) / count
        obs = np.bincount(which, weights=o, minlength=n_bins) / count
    return pd.DataFrame(
        {"bin_lo": edges[:-1], "bin_hi": edges[1:], "predicted_mean": pred, "observed_freq": obs, "count": count}
    )


def hit_rate_by_confidence(
    prob: np.ndarray, outcome_up: np.ndarray, edges: Sequence[float] = (0.0, 0.1, 0.2, 0.3, 0.5, 1.0)
) -> pd.DataFrame:
    """Directional hit rate per confidence bucket, confidence being ``|2p - 1|``; a call is "up" when p >= 0.5."""
    p, o = _known(prob, outcome_up)
    conf = np.abs(2.0 * p - 1.0)
    hit = ((p >= 0.5) == (o > 0.5)).astype(np.float64)
    e = np.asarray(edges, dtype=np.float64)
    which = np.clip(np.searchsorted(e, conf, side="right") - 1, 0, len(e) - 2)
    rows = []
    for k in range(len(e) - 1):
        sel = which == k
        n = int(sel.sum())
        rows.append(
            {
                "bucket": f"{e[k]:.2f}-{e[k + 1]:.2f}",
                "conf_lo": e[k],
                "conf_hi": e[k + 1],
                "count": n,
                "hit_rate": float(hit[sel].mean()) if n else float("nan"),
            }
        )
    return pd.DataFrame(rows)


def calibration_summary(prob: np.ndarray, outcome_up: np.ndarray, n_bins: int = 10) -> dict[str, float]:
    """Brier score, expected calibration error (count-weighted gap per bin) and the number of bars."""
    p, o = _known(prob, outcome_up)
    if len(p) == 0:
        return {"brier": float("nan"), "ece": float("nan"), "n": 0}
    table = reliability_table(p, o, n_bins)
    filled = table[table["count"] > 0]
    gaps = (filled["predicted_mean"] - filled["observed_freq"]).abs() * filled["count"]
    return {"brier": float(np.mean((p - o) ** 2)), "ece": float(gaps.sum() / len(p)), "n": len(p)}
