"""Performance metrics: one module computes every figure a report shows, from an equity curve and its trades.

Conventions (stated in every report): daily simple returns, risk-free rate 0, 252 periods a year, Sharpe with the
sample standard deviation (ddof=1), Sortino with the downside deviation over all periods (as quantstats), CAGR over
the calendar span of the curve (365.25-day years). Golden tests compare these against independent computations.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

PERIODS_PER_YEAR = 252
EULER_GAMMA = 0.5772156649015329


@dataclass(frozen=True)
class TradeStats:
    """Closed-trade statistics: net profit and loss of each round trip, in currency."""

    pnl: tuple[float, ...]

    @property
    def count(self) -> int:
        return len(self.pnl)


def returns_from_equity(equity: pd.Series) -> pd.Series:
    """Simple period returns of an equity curve (first period dropped)."""
    return equity.pct_change().iloc[1:]


def drawdown_series(equity: pd.Series) -> pd.Series:
    """Drawdown at each bar as a fraction of the running peak (0 at new highs, negative below)."""
    return equity / equity.cummax() - 1.0


def max_drawdown_duration(equity: pd.Series) -> tuple[int, int]:
    """Longest time under water: (bars, calendar days) from a peak until the curve regains it (or the end)."""
    values = equity.to_numpy(dtype=float)
    peak = np.maximum.accumulate(values)
    under = values < peak
    best_bars = best_days = 0
    start: int | None = None
    dates = equity.index
    for i, flag in enumerate(under):
        if flag and start is None:
            start = i - 1
        elif not flag and start is not None:
            best_bars = max(best_bars, i - start)
            best_days = max(best_days, (dates[i] - dates[start]).days)
            start = None
    if start is not None:
        end = len(values) - 1
        best_bars = max(best_bars, end - start)
        best_days = max(best_days, (dates[end] - dates[start]).days)
    return best_bars, best_days


def sharpe(returns: np.ndarray, periods: int = PERIODS_PER_YEAR) -> float:
    """Annualised Sharpe ratio (risk-free 0, sample standard deviation)."""
    if len(returns) < 2:
        return float("nan")
    sd = float(np.std(returns, ddof=1))
    return float(np.mean(returns) / sd * math.sqrt(periods)) if sd > 0 else float("nan")


def sortino(returns: np.ndarray, periods: int = PERIODS_PER_YEAR) -> float:
    """Annualised Sortino ratio: mean over the downside deviation sqrt(sum(min(r, 0)^2) / n)."""
    if len(returns) < 2:
        return float("nan")
    downside = math.sqrt(float(np.sum(np.minimum(returns, 0.0) ** 2)) / len(returns))
    return float(np.mean(returns) / downside * math.sqrt(periods)) if downside > 0 else float("nan")


def cagr(equity: pd.Series) -> float:
    """Compound annual growth rate over the calendar span of the curve."""
    years = (equity.index[-1] - equity.index[0]).days / 365.25
    if years <= 0 or equity.iloc[0] <= 0:
        return float("nan")
    return float((equity.iloc[-1] / equity.iloc[0]) ** (1.0 / years) - 1.0)


def psr_from_moments(
    sr: np.ndarray | float, n: np.ndarray | float, skew: np.ndarray | float, kurt: np.ndarray | float,
    benchmark_sr: np.ndarray | float = 0.0,
) -> np.ndarray:
    """PSR from per-period Sharpe ``sr``, length ``n``, skewness and (non-excess) kurtosis; elementwise, so a
    simulation can evaluate many series at once. NaN where the variance term is not positive."""
    sr, n, g3, g4 = (np.asarray(v, dtype=float) for v in (sr, n, skew, kurt))
    denom = 1.0 - g3 * sr + (g4 - 1.0) / 4.0 * sr**2
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (sr - benchmark_sr) * np.sqrt(n - 1) / np.sqrt(np.where(denom > 0, denom, np.nan))
    return np.asarray(stats.norm.cdf(z))


def probabilistic_sharpe_ratio(returns: np.ndarray, benchmark_sr: float = 0.0) -> float:
    """Probability that the true (per-period) Sharpe ratio exceeds ``benchmark_sr`` (Bailey and Lopez de Prado, 2012).

    Accounts for track-record length, skewness and kurtosis: PSR = Phi((SR - SR*) sqrt(n - 1) /
    sqrt(1 - g3 SR + (g4 - 1) / 4 SR^2)), with per-period (not annualised) Sharpe ratios.
    """
    n = len(returns)
    sd = float(np.std(returns, ddof=1)) if n > 1 else 0.0
    if n < 3 or sd == 0:
        return float("nan")
    sr = float(np.mean(returns)) / sd
    g3 = float(stats.skew(returns, bias=False))
    g4 = float(stats.kurtosis(returns, fisher=False, bias=False))
    return float(psr_from_moments(sr, n, g3, g4, benchmark_sr))


def expected_max_sharpe_of(n_trials: int, sharpe_var: float) -> float:
    """Expected maximum per-period Sharpe ratio of ``n_trials`` unskilled trials whose Sharpes vary by ``sharpe_var``.

    SR0 = sqrt(V) * ((1 - gamma) Phi^-1(1 - 1/N) + gamma Phi^-1(1 - 1/(N e))) (Bailey and Lopez de Prado, 2014);
    0 for a single trial (nothing to deflate).
    """
    if n_trials < 2 or not math.isfinite(sharpe_var) or sharpe_var <= 0:
        return 0.0
    return math.sqrt(sharpe_var) * (
        (1 - EULER_GAMMA) * stats.norm.ppf(1 - 1.0 / n_trials)
        + EULER_GAMMA * stats.norm.ppf(1 - 1.0 / (n_trials * math.e))
    )


def deflated_sharpe_of(returns: np.ndarray, n_trials: int, sharpe_var: float) -> float:
    """The Deflated Sharpe Ratio of ``returns`` after ``n_trials`` distinct configurations whose per-period Sharpes
    had variance ``sharpe_var`` (from the trial ledger): PSR against the expected maximum Sharpe of that many
    unskilled trials."""
    return probabilistic_sharpe_ratio(returns, expected_max_sharpe_of(n_trials, sharpe_var))


def per_period_sharpe(returns: np.ndarray) -> float:
    """Sharpe ratio per period (not annualised), the unit PSR and DSR work in."""
    sd = float(np.std(returns, ddof=1)) if len(returns) > 1 else 0.0
    return float(np.mean(returns)) / sd if sd > 0 else float("nan")


def monthly_returns(equity: pd.Series) -> pd.DataFrame:
    """Compounded return of each calendar month: rows are years, columns months 1..12 (NaN where no data)."""
    month_end = equity.groupby([equity.index.year, equity.index.month]).last()
    first = equity.iloc[0]
    prev = month_end.shift(1)
    prev.iloc[0] = first
    table = (month_end / prev - 1.0).unstack()
    table.index.name, table.columns.name = "year", "month"
    return table.reindex(columns=range(1, 13))


def curve_metrics(equity: pd.Series) -> dict[str, float]:
    """Figures that depend only on the equity curve (used for the strategy and the benchmark alike)."""
    r = returns_from_equity(equity).to_numpy(dtype=float)
    dd = drawdown_series(equity)
    dd_bars, dd_days = max_drawdown_duration(equity)
    growth = cagr(equity)
    mdd = float(dd.min())
    wins, losses = r[r > 0], r[r < 0]
    var95 = float(np.quantile(r, 0.05)) if len(r) else float("nan")
    months = monthly_returns(equity).stack()
    return {
        "start_value": float(equity.iloc[0]),
        "end_value": float(equity.iloc[-1]),
        "total_return": float(equity.iloc[-1] / equity.iloc[0] - 1.0),
        "cagr": growth,
        "volatility_ann": float(np.std(r, ddof=1) * math.sqrt(PERIODS_PER_YEAR)) if len(r) > 1 else float("nan"),
        "sharpe": sharpe(r),
        "sortino": sortino(r),
        "calmar": growth / abs(mdd) if mdd < 0 else float("nan"),
        "max_drawdown": mdd,
        "max_drawdown_bars": float(dd_bars),
        "max_drawdown_days": float(dd_days),
        "probabilistic_sharpe": probabilistic_sharpe_ratio(r),
        "skew": float(stats.skew(r)) if len(r) > 2 and np.ptp(r) > 0 else float("nan"),
        "kurtosis_excess": float(stats.kurtosis(r)) if len(r) > 3 and np.ptp(r) > 0 else float("nan"),
        "var_95_daily": var95,
        "cvar_95_daily": float(r[r <= var95].mean()) if len(r) else float("nan"),
        "best_day": float(r.max()) if len(r) else float("nan"),
        "worst_day": float(r.min()) if len(r) else float("nan"),
        "daily_win_rate": float(len(wins) / max(len(wins) + len(losses), 1)),
        "avg_up_day": float(wins.mean()) if len(wins) else float("nan"),
        "avg_down_day": float(losses.mean()) if len(losses) else float("nan"),
        "daily_profit_factor": float(wins.sum() / -losses.sum()) if len(losses) and losses.sum() < 0 else float("nan"),
        "best_month": float(months.max()) if len(months) else float("nan"),
        "worst_month": float(months.min()) if len(months) else float("nan"),
        "positive_months": float((months > 0).mean()) if len(months) else float("nan"),
        "ulcer_index": float(math.sqrt(float(np.mean((dd.to_numpy() * 100) ** 2)))),
        "bars": float(len(equity)),
    }


def trade_metrics(trades: TradeStats) -> dict[str, float]:
    """Round-trip figures: count, win rate, profit factor, average win and loss, payoff ratio."""
    pnl = np.asarray(trades.pnl, dtype=float)
    wins, losses = pnl[pnl > 0], pnl[pnl < 0]
    return {
        "trades": float(len(pnl)),
        "win_rate": float(len(wins) / len(pnl)) if len(pnl) else float("nan"),
        "profit_factor": float(wins.sum() / -losses.sum()) if losses.sum() < 0 else float("nan"),
        "avg_win": float(wins.mean()) if len(wins) else float("nan"),
        "avg_loss": float(losses.mean()) if len(losses) else float("nan"),
        "payoff_ratio": float(wins.mean() / -losses.mean()) if len(wins) and len(losses) else float("nan"),
        "largest_win": float(wins.max()) if len(wins) else float("nan"),
        "largest_loss": float(losses.min()) if len(losses) else float("nan"),
    }


def relative_metrics(equity: pd.Series, benchmark: pd.Series) -> dict[str, float]:
    """Figures against the benchmark: beta, annualised alpha, correlation, information ratio, PSR against its Sharpe."""
    r = returns_from_equity(equity)
    b = returns_from_equity(benchmark).reindex(r.index)
    mask = np.isfinite(r.to_numpy()) & np.isfinite(b.to_numpy())
    rv, bv = r.to_numpy()[mask], b.to_numpy()[mask]
    if len(rv) < 3 or np.var(bv) == 0 or np.var(rv) == 0:
        return {"beta": float("nan"), "alpha_ann": float("nan"), "correlation": float("nan"),
                "information_ratio": float("nan"), "psr_vs_benchmark": float("nan")}
    beta = float(np.cov(rv, bv, ddof=1)[0, 1] / np.var(bv, ddof=1))
    alpha = float((np.mean(rv) - beta * np.mean(bv)) * PERIODS_PER_YEAR)
    active = rv - bv
    te = float(np.std(active, ddof=1))
    return {
        "beta": beta,
        "alpha_ann": alpha,
        "correlation": float(np.corrcoef(rv, bv)[0, 1]),
        "information_ratio": float(np.mean(active) / te * math.sqrt(PERIODS_PER_YEAR)) if te > 0 else float("nan"),
        "psr_vs_benchmark": probabilistic_sharpe_ratio(rv, per_period_sharpe(bv)),
    }


def newey_west_se(x: np.ndarray, lags: int | None = None) -> float:
    """HAC (Newey-West, Bartlett weights) standard error of the mean of ``x``; ``lags`` defaults to
    floor(4 (n / 100)^(2/9))."""
    n = len(x)
    if n < 3:
        return float("nan")
    lags = int(4 * (n / 100.0) ** (2.0 / 9.0)) if lags is None else lags
    e = x - x.mean()
    var = float(e @ e) / n
    for k in range(1, min(lags, n - 1) + 1):
        var += 2.0 * (1.0 - k / (lags + 1.0)) * float(e[k:] @ e[:-k]) / n
    return math.sqrt(max(var, 0.0) / n)


def active_test(equity: pd.Series, base: pd.Series) -> dict[str, float]:
    """Alpha, beta and information ratio against a baseline curve, and a two-sided HAC t-test of the mean active
    return (strategy minus baseline, daily): ``t`` and ``p``. A small p says the difference is unlikely to be
    noise; alpha is the annualised intercept of the strategy's returns regressed on the baseline's."""
    r = returns_from_equity(equity)
    b = returns_from_equity(base).reindex(r.index)
    mask = np.isfinite(r.to_numpy()) & np.isfinite(b.to_numpy())
    rv, bv = r.to_numpy()[mask], b.to_numpy()[mask]
    nan = float("nan")
    if len(rv) < 3 or np.var(bv) == 0:
        return {"alpha_ann": nan, "beta": nan, "information_ratio": nan, "active_t": nan, "active_p": nan}
    beta = float(np.cov(rv, bv, ddof=1)[0, 1] / np.var(bv, ddof=1))
    active = rv - bv
    te = float(np.std(active, ddof=1))
    se = newey_west_se(active)
    t = float(np.mean(active) / se) if se > 0 else nan
    return {
        "alpha_ann": float((np.mean(rv) - beta * np.mean(bv)) * PERIODS_PER_YEAR),
        "beta": beta,
        "information_ratio": float(np.mean(active) / te * math.sqrt(PERIODS_PER_YEAR)) if te > 0 else nan,
        "active_t": t,
        "active_p": float(2 * stats.norm.sf(abs(t))) if math.isfinite(t) else nan,
    }


def position_metrics(exposure: pd.Series, traded_value: pd.Series, equity: pd.Series) -> dict[str, float]:
    """Exposure (share of bars holding a position, and mean gross exposure) and annualised turnover."""
    years = max(len(equity) / PERIODS_PER_YEAR, 1e-9)
    mean_equity = float(equity.mean())
    return {
        "exposure_time": float((exposure.abs() > 1e-9).mean()) if len(exposure) else float("nan"),
        "exposure_mean": float(exposure.abs().mean()) if len(exposure) else float("nan"),
        "turnover_ann": float(traded_value.sum() / mean_equity / years) if mean_equity > 0 else float("nan"),
    }


def buy_and_hold_equity(close: pd.Series, start_value: float) -> pd.Series:
    """The benchmark: all capital in the asset at the first close, held to the end, no costs."""
    return close / close.iloc[0] * start_value
