"""The tearsheet: the figures and charts a researcher expects from quantstats, computed on the test period.

Metrics follow quantstats' definitions (golden-tested against it in tests/backtests/test_tearsheet.py), with a
zero risk-free rate and 252 periods a year; rolling figures use a 126-bar (six-month) window, as quantstats does.
Where a window is longer than the history (a 3-year return over one year of data) the figure is NaN, shown "-".
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from backtests.report import charts
from backtests.report.html import ReportPart, frame_table

PERIODS_PER_YEAR = 252
ROLLING_WINDOW = 126
TOP_DRAWDOWNS = 5


def daily_returns(equity: pd.Series) -> pd.Series:
    return equity.pct_change().iloc[1:]


def omega(returns: pd.Series, threshold: float = 0.0) -> float:
    """Gains above the threshold over losses below it (quantstats ``omega`` with required_return 0)."""
    excess = returns - threshold
    losses = -float(excess[excess < 0].sum())
    return float(excess[excess > 0].sum()) / losses if losses > 0 else math.nan


def tail_ratio(returns: pd.Series, cutoff: float = 0.95) -> float:
    """|95th percentile / 5th percentile| of daily returns: how much fatter the right tail is than the left."""
    low = float(returns.quantile(1 - cutoff))
    return abs(float(returns.quantile(cutoff)) / low) if low != 0 else math.nan


def drawdown_periods(equity: pd.Series) -> pd.DataFrame:
    """Every spell under water: start (first day below the peak), valley, end (last day below, or the last bar),
    length in calendar days (end - start + 1, as quantstats counts) and its depth (a negative fraction)."""
    dd = equity / equity.cummax() - 1.0
    under = dd < 0
    rows = []
    start = None
    for i, (day, flag) in enumerate(under.items()):
        if flag and start is None:
            start = i
        if start is not None and (not flag or i == len(under) - 1):
            end = i - 1 if not flag else i
            spell = dd.iloc[start : end + 1]
            rows.append((spell.index[0], spell.idxmin(), spell.index[-1],
                         (spell.index[-1] - spell.index[0]).days + 1, float(spell.min())))
            start = None
    return pd.DataFrame(rows, columns=["start", "valley", "end", "days", "max_drawdown"])


def period_return(equity: pd.Series, since: pd.Timestamp, *, partial: bool = False) -> float:
    """Compounded return of the bars dated ``since`` or later.

    When the history starts after ``since`` the window is not covered: NaN, unless ``partial`` (month and year to
    date count from the first bar, as quantstats does).
    """
    before = equity[equity.index < since]
    if len(before):
        return float(equity.iloc[-1] / before.iloc[-1] - 1.0)
    return float(equity.iloc[-1] / equity.iloc[0] - 1.0) if partial else math.nan


def yearly_returns(equity: pd.Series) -> pd.Series:
    """Compounded return of each calendar year (the first and last may be partial)."""
    r = daily_returns(equity)
    years = (1 + r).groupby(r.index.year).prod() - 1
    years.index.name = "year"
    return years


def tearsheet_metrics(equity: pd.Series) -> dict[str, float]:
    """The figures quantstats shows that the base metrics lack, for one equity curve over the test period."""
    r = daily_returns(equity)
    last = equity.index[-1]
    years = yearly_returns(equity)
    periods = drawdown_periods(equity)
    mdd = float((equity / equity.cummax() - 1.0).min())
    since3 = last - pd.DateOffset(years=3)
    three = period_return(equity, since3)
    span3 = (last - equity[equity.index >= since3].index[0]).days / 365.0
    return {
        "omega": omega(r),
        "tail_ratio": tail_ratio(r),
        "recovery_factor": float(equity.iloc[-1] / equity.iloc[0] - 1.0) / abs(mdd) if mdd < 0 else math.nan,
        "mtd": period_return(equity, pd.Timestamp(last.year, last.month, 1), partial=True),
        "ytd": period_return(equity, pd.Timestamp(last.year, 1, 1), partial=True),
        "one_year": period_return(equity, last - pd.DateOffset(years=1)),
        "three_year_ann": (1 + three) ** (1 / span3) - 1 if not math.isnan(three) and span3 > 0 else math.nan,
        "best_year": float(years.max()) if len(years) else math.nan,
        "worst_year": float(years.min()) if len(years) else math.nan,
        "avg_drawdown": float(periods["max_drawdown"].mean()) if len(periods) else 0.0,
        "avg_drawdown_days": float(periods["days"].mean()) if len(periods) else 0.0,
        "drawdown_periods_count": float(len(periods)),
    }


def rolling_sharpe(r: pd.Series, window: int = ROLLING_WINDOW) -> pd.Series:
    return r.rolling(window).mean() / r.rolling(window).std() * math.sqrt(PERIODS_PER_YEAR)


def rolling_sortino(r: pd.Series, window: int = ROLLING_WINDOW) -> pd.Series:
    downside = (r.clip(upper=0) ** 2).rolling(window).sum() / window
    return r.rolling(window).mean() / np.sqrt(downside) * math.sqrt(PERIODS_PER_YEAR)


def rolling_volatility(r: pd.Series, window: int = ROLLING_WINDOW) -> pd.Series:
    return r.rolling(window).std() * math.sqrt(PERIODS_PER_YEAR)


def rolling_beta(r: pd.Series, bench: pd.Series, window: int = ROLLING_WINDOW) -> pd.Series:
    both = pd.concat([r, bench], axis=1, keys=["r", "b"]).dropna()
    return both["r"].rolling(window).cov(both["b"]) / both["b"].rolling(window).var()


def volatility_matched(r: pd.Series, bench: pd.Series) -> pd.Series:
    """The strategy's daily returns scaled to the benchmark's volatility: returns compared at equal risk."""
    sd = float(r.std())
    return r * (float(bench.std()) / sd) if sd > 0 else r * math.nan


def _finish(fig: Any, ax: Any, title: str, xlabel: str, ylabel: str, axis: str = "both") -> str:
    """Title, axis labels, grid and legend every tearsheet chart carries; the figure as an embedded image."""
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3, axis=axis)
    ax.legend(loc="upper left", fontsize=8)
    return charts.figure_to_img(fig, title)


def _quantile_box(r: pd.Series, bench: pd.Series, main: str) -> str:
    """Box plots of returns per horizon (day, week, month, quarter, year), strategy beside the benchmark."""
    import matplotlib.pyplot as plt

    horizons = {"daily": None, "weekly": "W", "monthly": "ME", "quarterly": "QE", "yearly": "YE"}
    fig, ax = plt.subplots(figsize=(10, 3.2))
    for offset, (name, series) in enumerate(((main, r), (charts.BENCHMARK_NAMES[0], bench))):
        data = [(series if rule is None else (1 + series).resample(rule).prod() - 1).dropna().to_numpy() * 100
                for rule in horizons.values()]
        pos = np.arange(len(horizons)) * 3 + offset
        box = ax.boxplot(data, positions=pos, widths=0.8, patch_artist=True, showfliers=False)
        for patch in box["boxes"]:
            patch.set_facecolor(charts.colour_for(name))
            patch.set_alpha(0.6)
        box["boxes"][0].set_label(name)
    ax.set_xticks(np.arange(len(horizons)) * 3 + 0.5, list(horizons))
    ax.axhline(0, color="black", linewidth=0.6)
    return _finish(fig, ax, "Return quantiles", "horizon", "return (%)", axis="y")


def _yearly_bars(years: Mapping[str, pd.Series]) -> str:
    import matplotlib.pyplot as plt

    frame = pd.DataFrame(years)
    fig, ax = plt.subplots(figsize=(10, 2.8))
    width = 0.8 / max(1, frame.shape[1])
    x = np.arange(len(frame))
    for i, name in enumerate(frame.columns):
        ax.bar(x + i * width, frame[name].to_numpy() * 100, width, label=name, color=charts.colour_for(name))
    ax.set_xticks(x + width * (frame.shape[1] - 1) / 2, [str(y) for y in frame.index])
    ax.axhline(0, color="black", linewidth=0.6)
    return _finish(fig, ax, "End-of-year returns", "year", "return (%)", axis="y")


def _histogram(series: Mapping[str, pd.Series], title: str, xlabel: str) -> str:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 2.8))
    values = [s.dropna().to_numpy() * 100 for s in series.values()]
    bins: list[float] | int = list(np.histogram_bin_edges(np.concatenate(values), bins=30)) if sum(len(v) for v in values) else 10
    for (name, _), v in zip(series.items(), values):
        ax.hist(v, bins=bins, alpha=0.5, label=name, color=charts.colour_for(name))
    return _finish(fig, ax, title, xlabel, "count")


def _daily_bars(r: pd.Series, name: str) -> str:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 2.6))
    ax.bar(r.index, r.to_numpy() * 100, width=1.5, color=charts.colour_for(name), label=name)
    ax.axhline(0, color="black", linewidth=0.6)
    return _finish(fig, ax, "Daily returns", "date", "return (%)")


def top_drawdowns(equity: pd.Series, n: int = TOP_DRAWDOWNS) -> pd.DataFrame:
    """The ``n`` deepest drawdown periods, deepest first."""
    return drawdown_periods(equity).sort_values("max_drawdown").head(n).reset_index(drop=True)


def tearsheet_parts(main: str, equity: pd.Series, bench: pd.Series) -> list[ReportPart]:
    """The tearsheet sections of a report: worst drawdowns, yearly and monthly distributions, rolling figures."""
    bench_name = charts.BENCHMARK_NAMES[0]
    r, b = daily_returns(equity), daily_returns(bench.reindex(equity.index).ffill())
    worst = top_drawdowns(equity)
    table = worst.assign(max_drawdown=worst["max_drawdown"] * 100).rename(columns={"max_drawdown": "depth %"})
    table.index = table.index + 1
    table.index.name = "rank"
    monthly = {n: (1 + s).resample("ME").prod() - 1 for n, s in ((main, r), (bench_name, b))}
    vm = volatility_matched(r, b)
    return [
        ReportPart(f"Worst {TOP_DRAWDOWNS} drawdowns ({main})", frame_table(table, float_format="{:,.2f}")),
        ReportPart("Returns at equal volatility", charts.lines_chart(
            {f"{main} (volatility-matched)": (1 + vm).cumprod() - 1, bench_name: (1 + b).cumprod() - 1},
            "Cumulative returns, strategy scaled to the benchmark's volatility", "cumulative return (%)",
            percent=True)),
        ReportPart("End-of-year returns", _yearly_bars({main: yearly_returns(equity),
                                                        bench_name: yearly_returns(bench.reindex(equity.index))})),
        ReportPart("Monthly return distribution", _histogram(monthly, "Distribution of monthly returns",
                                                             "monthly return (%)")),
        ReportPart("Daily returns", _daily_bars(r, main)),
        ReportPart("Return quantiles", _quantile_box(r, b, main)),
        ReportPart("Rolling Sharpe (6 months)", charts.lines_chart(
            {main: rolling_sharpe(r), bench_name: rolling_sharpe(b)}, "Rolling Sharpe, 126 bars", "Sharpe")),
        ReportPart("Rolling Sortino (6 months)", charts.lines_chart(
            {main: rolling_sortino(r), bench_name: rolling_sortino(b)}, "Rolling Sortino, 126 bars", "Sortino")),
        ReportPart("Rolling volatility (6 months)", charts.lines_chart(
            {main: rolling_volatility(r), bench_name: rolling_volatility(b)}, "Rolling volatility, 126 bars",
            "annualised volatility (%)", percent=True, zero=False)),
        ReportPart("Rolling beta to the benchmark", charts.lines_chart(
            {f"{main} 6 months": rolling_beta(r, b), f"{main} 12 months": rolling_beta(r, b, 2 * ROLLING_WINDOW)},
            "Rolling beta against buy-and-hold", "beta")),
    ]
