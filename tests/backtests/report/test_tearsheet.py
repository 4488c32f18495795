"""Tearsheet figures golden-tested against quantstats (the reference people know), and the report carrying them."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from backtests.report import charts
from backtests.report.html import fmt_value
from backtests.report.tearsheet import (
    drawdown_periods,
    omega,
    rolling_beta,
    rolling_sharpe,
    rolling_sortino,
    rolling_volatility,
    tail_ratio,
    tearsheet_metrics,
    tearsheet_parts,
    yearly_returns,
)


def _equity(seed: int = 3, bars: int = 1300) -> pd.Series:
    rng = np.random.default_rng(seed)
    r = rng.normal(0.0006, 0.018, bars)
    r[0] = abs(r[0])  # quantstats starts its drawdown at the first return: begin on a gain so both agree
    index = pd.bdate_range("2019-01-02", periods=bars + 1, name="date")
    return pd.Series(100_000 * np.concatenate([[1.0], np.cumprod(1 + r)]), index=index)


@pytest.fixture(scope="module")
def qs():
    """quantstats' stats module (no warnings on this stack for the functions used here; its charts do warn)."""
    import quantstats

    return quantstats


def test_ratios_match_quantstats(qs) -> None:
    eq = _equity()
    r = eq.pct_change().iloc[1:]
    assert omega(r) == pytest.approx(qs.stats.omega(r, rf=0.0, required_return=0.0), rel=1e-9)
    assert tail_ratio(r) == pytest.approx(qs.stats.tail_ratio(r), rel=1e-9)
    ours = tearsheet_metrics(eq)
    assert ours["recovery_factor"] == pytest.approx(
        qs.stats.comp(r) / abs(qs.stats.max_drawdown(r)), rel=1e-9)  # compounded return over the worst drawdown
    assert ours["best_year"] == pytest.approx(qs.stats.best(r, aggregate="YE", compounded=True), rel=1e-9)
    assert ours["worst_year"] == pytest.approx(qs.stats.worst(r, aggregate="YE", compounded=True), rel=1e-9)


def test_drawdown_periods_match_quantstats(qs) -> None:
    eq = _equity()
    r = eq.pct_change().iloc[1:]
    theirs = qs.stats.drawdown_details(qs.stats.to_drawdown_series(r))
    ours = drawdown_periods(eq)
    assert len(ours) == len(theirs)
    assert ours["days"].tolist() == theirs["days"].tolist()
    np.testing.assert_allclose(ours["max_drawdown"].to_numpy() * 100, theirs["max drawdown"].to_numpy(), rtol=1e-9)
    m = tearsheet_metrics(eq)
    assert m["avg_drawdown"] * 100 == pytest.approx(theirs["max drawdown"].mean(), rel=1e-9)
    assert m["avg_drawdown_days"] == pytest.approx(theirs["days"].mean(), rel=1e-9)


def test_period_returns_match_quantstats_definitions(qs) -> None:
    eq = _equity()
    r = eq.pct_change().iloc[1:]
    last = r.index[-1]
    m = tearsheet_metrics(eq)
    assert m["mtd"] == pytest.approx(qs.stats.comp(r[r.index >= pd.Timestamp(last.year, last.month, 1)]), rel=1e-9)
    assert m["ytd"] == pytest.approx(qs.stats.comp(r[r.index >= pd.Timestamp(last.year, 1, 1)]), rel=1e-9)
    assert m["one_year"] == pytest.approx(qs.stats.comp(r[r.index >= last - pd.DateOffset(years=1)]), rel=1e-9)
    three = r[r.index >= last - pd.DateOffset(years=3)]
    years = (three.index[-1] - three.index[0]).days / 365.0
    assert m["three_year_ann"] == pytest.approx((1 + qs.stats.comp(three)) ** (1 / years) - 1, rel=1e-9)
    assert yearly_returns(eq).index.tolist() == sorted(set(r.index.year))


def test_short_history_leaves_long_windows_empty() -> None:
    m = tearsheet_metrics(_equity(bars=200))
    assert math.isnan(m["three_year_ann"]) and math.isnan(m["one_year"]) and not math.isnan(m["ytd"])
    assert fmt_value("three_year_ann", m["three_year_ann"]) == "-"


def test_rolling_figures_match_quantstats(qs) -> None:
    eq, bench = _equity(3), _equity(4)
    r, b = eq.pct_change().iloc[1:], bench.pct_change().iloc[1:]
    pd.testing.assert_series_equal(rolling_sharpe(r), qs.stats.rolling_sharpe(r, rolling_period=126),
                                   check_names=False, rtol=1e-9)
    pd.testing.assert_series_equal(rolling_sortino(r), qs.stats.rolling_sortino(r, rolling_period=126),
                                   check_names=False, rtol=1e-9)
    pd.testing.assert_series_equal(rolling_volatility(r), qs.stats.rolling_volatility(r, rolling_period=126),
                                   check_names=False, rtol=1e-9)
    beta = rolling_beta(r, b).dropna()
    window = slice(len(r) - 126, len(r))
    cov = np.cov(r.iloc[window], b.iloc[window])
    assert beta.iloc[-1] == pytest.approx(cov[0, 1] / cov[1, 1], rel=1e-9)


def test_tearsheet_parts_have_every_chart_and_fixed_colours() -> None:
    eq, bench = _equity(3, 600), _equity(4, 600)
    titles = [p.title for p in tearsheet_parts("sma", eq, bench)]
    for expected in ("Worst 5 drawdowns", "equal volatility", "End-of-year", "Monthly return distribution",
                     "Daily returns", "Return quantiles", "Rolling Sharpe", "Rolling Sortino", "Rolling volatility",
                     "Rolling beta"):
        assert any(expected in t for t in titles), expected
    assert charts.colour_for("sma") == charts.colour_for("sma (volatility-matched)") == "#2ca02c"
    assert charts.colour_for("my-new-strategy") == charts.colour_for("my-new-strategy")
    assert charts.colour_for("benchmark") != charts.colour_for("hybrid")


def test_every_chart_has_axis_labels_and_a_legend(monkeypatch) -> None:
    seen = []
    original = charts.figure_to_img

    def check(fig, alt):
        for ax in fig.axes:
            seen.append((alt, bool(ax.get_xlabel()), bool(ax.get_ylabel()), ax.get_legend() is not None))
        return original(fig, alt)

    monkeypatch.setattr(charts, "figure_to_img", check)
    eq, bench = _equity(3, 600), _equity(4, 600)
    tearsheet_parts("sma", eq, bench)
    charts.equity_chart({"sma": eq, "benchmark": bench}, shade=[(eq.index[10], eq.index[20])])
    charts.drawdown_chart({"sma": eq / eq.cummax() - 1})
    assert len(seen) >= 11 and all(x and y and legend for _, x, y, legend in seen), seen


def test_counts_print_as_integers() -> None:
    assert fmt_value("trades", 1.0) == "1"
    assert fmt_value("max_drawdown_days", 2646.0) == "2,646"
    assert fmt_value("sharpe", 1.0) == "1.000"
    assert fmt_value("anything", None) == "-"
