"""Golden values for the metrics module: hand-computed cases and quantstats as an independent reference."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

from backtests.report import metrics as m


@pytest.fixture(scope="module")
def qs():
    """quantstats, imported with its known third-party warnings silenced for the import only."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import quantstats

    return quantstats


def fixed_returns(n: int = 500, seed: int = 3) -> pd.Series:
    rng = np.random.default_rng(seed)
    r = rng.normal(0.0006, 0.018, n)
    r[0] = 0.01  # a positive first return: both conventions then see the same first peak
    return pd.Series(r, index=pd.bdate_range("2020-01-01", periods=n))


def equity_of(returns: pd.Series, start: float = 100.0) -> pd.Series:
    first = returns.index[0] - pd.offsets.BDay(1)
    values = np.concatenate([[start], start * np.cumprod(1 + returns.to_numpy())])
    return pd.Series(values, index=pd.DatetimeIndex([first, *returns.index]))


HAND = pd.Series(
    [100.0, 110.0, 99.0, 108.9, 121.0, 121.0],
    index=pd.to_datetime(["2021-01-04", "2021-01-05", "2021-01-06", "2021-02-01", "2021-03-01", "2021-03-02"]),
)


def test_hand_computed_curve_values() -> None:
    got = m.curve_metrics(HAND)
    assert got["total_return"] == pytest.approx(0.21)
    assert got["max_drawdown"] == pytest.approx(-0.1)
    assert got["max_drawdown_bars"] == 3  # peak 2021-01-05, regained 2021-03-01
    assert got["max_drawdown_days"] == 55
    r = np.array([0.1, -0.1, 0.1, 121 / 108.9 - 1, 0.0])
    assert got["sharpe"] == pytest.approx(r.mean() / r.std(ddof=1) * math.sqrt(252))
    assert got["sortino"] == pytest.approx(r.mean() / math.sqrt(0.01 / 5) * math.sqrt(252))
    assert got["daily_win_rate"] == pytest.approx(3 / 4)  # the flat day counts neither way
    years = (HAND.index[-1] - HAND.index[0]).days / 365.25
    assert got["cagr"] == pytest.approx(1.21 ** (1 / years) - 1)
    assert got["calmar"] == pytest.approx(got["cagr"] / 0.1)


def test_monthly_returns_compound_within_month() -> None:
    table = m.monthly_returns(HAND)
    assert table.loc[2021, 1] == pytest.approx(99 / 100 - 1)
    assert table.loc[2021, 2] == pytest.approx(108.9 / 99 - 1)
    assert table.loc[2021, 3] == pytest.approx(121 / 108.9 - 1)
    assert np.isnan(table.loc[2021, 4])


def test_trade_metrics_table() -> None:
    got = m.trade_metrics(m.TradeStats((100.0, -50.0, 30.0, -10.0)))
    assert got["trades"] == 4
    assert got["win_rate"] == pytest.approx(0.5)
    assert got["profit_factor"] == pytest.approx(130 / 60)
    assert got["payoff_ratio"] == pytest.approx(65 / 30)
    assert got["largest_loss"] == -50.0
    empty = m.trade_metrics(m.TradeStats(()))
    assert empty["trades"] == 0 and math.isnan(empty["win_rate"])


def test_against_quantstats(qs) -> None:
    r = fixed_returns()
    equity = equity_of(r)
    got = m.curve_metrics(equity)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert got["sharpe"] == pytest.approx(qs.stats.sharpe(r), rel=1e-9)
        assert got["sortino"] == pytest.approx(qs.stats.sortino(r), rel=1e-9)
        assert got["volatility_ann"] == pytest.approx(qs.stats.volatility(r), rel=1e-9)
        assert got["max_drawdown"] == pytest.approx(qs.stats.max_drawdown(r), rel=1e-9)
        assert got["probabilistic_sharpe"] == pytest.approx(qs.stats.probabilistic_sharpe_ratio(r), rel=1e-6)
        assert got["best_day"] == pytest.approx(qs.stats.best(r, aggregate="day"), rel=1e-9)
        assert got["worst_day"] == pytest.approx(qs.stats.worst(r, aggregate="day"), rel=1e-9)


def test_psr_reduces_to_lo_formula_for_zero_skew() -> None:
    # Symmetric returns (+a, -b pattern mirrored) have zero skew; PSR must then follow the moments formula exactly.
    r = np.tile([0.02, -0.01, 0.015, -0.005, 0.0, 0.01, -0.02, 0.005, -0.015, 0.01], 30)
    sr = r.mean() / r.std(ddof=1)
    from scipy import stats

    g3, g4 = stats.skew(r, bias=False), stats.kurtosis(r, fisher=False, bias=False)
    expected = stats.norm.cdf(sr * math.sqrt(len(r) - 1) / math.sqrt(1 - g3 * sr + (g4 - 1) / 4 * sr**2))
    assert m.probabilistic_sharpe_ratio(r) == pytest.approx(expected)
    assert m.probabilistic_sharpe_ratio(r, benchmark_sr=sr) == pytest.approx(0.5)


def test_deflated_sharpe_is_stricter_with_more_trials() -> None:
    r = fixed_returns().to_numpy()
    few = m.deflated_sharpe_of(r, 2, float(np.var([0.01, 0.02], ddof=1)))
    many = m.deflated_sharpe_of(r, 40, float(np.var(np.linspace(-0.05, 0.08, 40), ddof=1)))
    assert many < few <= m.probabilistic_sharpe_ratio(r)
    # Known threshold: two trials with Sharpe 0 and 0.1 -> sd 0.0707, N = 2.
    sd = np.std([0.0, 0.1], ddof=1)
    from scipy import stats

    want = sd * ((1 - m.EULER_GAMMA) * stats.norm.ppf(0.5) + m.EULER_GAMMA * stats.norm.ppf(1 - 1 / (2 * math.e)))
    assert m.expected_max_sharpe_of(2, float(np.var([0.0, 0.1], ddof=1))) == pytest.approx(want)


def test_relative_metrics_of_a_levered_copy() -> None:
    bench = equity_of(fixed_returns())
    levered = equity_of(fixed_returns() * 2)
    rel = m.relative_metrics(levered, bench)
    assert rel["beta"] == pytest.approx(2.0)
    assert rel["correlation"] == pytest.approx(1.0)
    assert rel["alpha_ann"] == pytest.approx(0.0, abs=1e-12)


def test_position_metrics() -> None:
    idx = pd.bdate_range("2020-01-01", periods=252)
    equity = pd.Series(1000.0, index=idx)
    exposure = pd.Series([0.0] * 126 + [0.5] * 126, index=idx)
    traded = pd.Series([500.0, 500.0], index=idx[[126, 200]])
    got = m.position_metrics(exposure, traded, equity)
    assert got["exposure_time"] == pytest.approx(0.5)
    assert got["exposure_mean"] == pytest.approx(0.25)
    assert got["turnover_ann"] == pytest.approx(1.0)


def test_drawdown_duration_open_at_end() -> None:
    curve = pd.Series([1.0, 2.0, 1.5, 1.8], index=pd.bdate_range("2020-01-01", periods=4))
    assert m.max_drawdown_duration(curve) == (2, 4)  # peak Thu 2020-01-02, still below on Mon 2020-01-06


def test_flat_curve_gives_nan_not_warnings() -> None:
    flat = pd.Series(100.0, index=pd.bdate_range("2020-01-01", periods=30))
    got = m.curve_metrics(flat)
    assert got["total_return"] == 0.0 and got["max_drawdown"] == 0.0
    assert math.isnan(got["sharpe"]) and math.isnan(got["skew"])
    rel = m.relative_metrics(flat, equity_of(fixed_returns(29)))
    assert math.isnan(rel["beta"]) and math.isnan(rel["correlation"])


def test_newey_west_matches_hand_computed_and_active_test() -> None:
    from backtests.report.metrics import active_test, newey_west_se

    x = np.array([1.0, 2.0, 3.0, 4.0])
    # e = [-1.5, -0.5, 0.5, 1.5]; gamma0 = 5/4; gamma1 = (0.75 - 0.25 + 0.75) / 4 = 0.3125; lag 1, weight 1/2
    assert newey_west_se(x, lags=1) == pytest.approx(np.sqrt((1.25 + 2 * 0.5 * 0.3125) / 4))
    rng = np.random.default_rng(0)
    idx = pd.bdate_range("2020-01-01", periods=500)
    base = pd.Series(100 * np.cumprod(1 + rng.normal(0.0005, 0.01, 500)), index=idx)
    same = active_test(base, base * 1.0)
    assert np.isnan(same["active_t"]) or same["active_t"] == 0
    better = pd.Series(base.to_numpy() * np.cumprod(np.full(500, 1.002)), index=idx)
    result = active_test(better, base)
    assert result["active_p"] < 0.01 and result["alpha_ann"] > 0.3 and result["beta"] == pytest.approx(1.0, abs=0.05)
