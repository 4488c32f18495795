"""Charts for reports, rendered headless with matplotlib and embedded as base64 PNG so pages open offline.

Every chart has axis labels and a legend, and a strategy has one colour in every report and comparison: the
colour comes from its name (a fixed table for the project's strategies, a hash into a palette for others).
"""
from __future__ import annotations

import base64
import hashlib
import io
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

logging.getLogger("matplotlib").setLevel(logging.WARNING)  # font-cache chatter is not a report's business

BENCHMARK_NAMES = ("benchmark", "buy-and-hold benchmark")
STRATEGY_COLOURS = {
    "hybrid": "#d62728", "gm": "#9467bd", "sentiment": "#8c564b", "buyhold": "#1f77b4", "sma": "#2ca02c",
    "benchmark": "#7f7f7f", "buy-and-hold benchmark": "#7f7f7f",
}
PALETTE = ("#ff7f0e", "#17becf", "#bcbd22", "#e377c2", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173")
LINESTYLES = ("-", "--", ":", "-.")


def base_name(label: str) -> str:
    """The strategy a label is about: ``"hybrid (volatility-matched)"`` -> ``"hybrid"``."""
    return label if label in STRATEGY_COLOURS else label.split(" ")[0]


def colour_for(name: str) -> str:
    """The colour of a strategy (or the benchmark), the same in every chart of every report."""
    name = base_name(name)
    if name in STRATEGY_COLOURS:
        return STRATEGY_COLOURS[name]
    index = int(hashlib.sha256(name.encode("utf-8")).hexdigest()[:8], 16) % len(PALETTE)
    return PALETTE[index]


def run_colours(runs: Sequence[tuple[str, str]]) -> dict[str, tuple[str, str]]:
    """(colour, line style) per run id from its strategy: runs of the same strategy share the colour and differ by
    line style."""
    seen: dict[str, int] = {}
    out = {}
    for run_id, strategy in runs:
        n = seen.get(strategy, 0)
        seen[strategy] = n + 1
        out[run_id] = (colour_for(strategy), LINESTYLES[n % len(LINESTYLES)])
    return out


def figure_to_img(fig: plt.Figure, alt: str) -> str:
    """An <img> tag holding the figure as an embedded PNG; the figure is closed."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, bbox_inches="tight")
    plt.close(fig)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img alt="{alt}" src="data:image/png;base64,{data}">'


def _style(name: str, colours: Mapping[str, tuple[str, str]] | None, used: dict[str, int] | None = None
           ) -> dict[str, Any]:
    if colours and name in colours:
        colour, line = colours[name]
        return {"color": colour, "linestyle": line}
    colour = colour_for(base_name(name))
    n = 0
    if used is not None:
        n = used.get(colour, 0)
        used[colour] = n + 1
    line = "--" if name in BENCHMARK_NAMES and n == 0 else LINESTYLES[n % len(LINESTYLES)]
    return {"color": colour, "linestyle": line}


def equity_chart(
    curves: Mapping[str, pd.Series],
    title: str = "Equity",
    *,
    colours: Mapping[str, tuple[str, str]] | None = None,
    shade: Sequence[tuple[pd.Timestamp, pd.Timestamp]] = (),
    ylabel: str = "portfolio value (log scale)",
) -> str:
    """Equity curves on a log scale; ``shade`` marks periods (the worst drawdowns) as grey bands."""
    fig, ax = plt.subplots(figsize=(10, 4))
    used: dict[str, int] = {}
    for name, curve in curves.items():
        ax.plot(curve.index, curve.to_numpy(), label=name, linewidth=1.2, **_style(name, colours, used))
    for i, (start, end) in enumerate(shade):
        ax.axvspan(start, end, color="#b3261e", alpha=0.12, label="top-5 drawdown periods" if i == 0 else None)
    ax.set_yscale("log")
    ax.set_title(title)
    ax.set_xlabel("date")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    return figure_to_img(fig, title)


def lines_chart(series: Mapping[str, pd.Series], title: str, ylabel: str, *, percent: bool = False,
                zero: bool = True) -> str:
    """Several time series on one axis (rolling figures, cumulative returns), coloured by name."""
    fig, ax = plt.subplots(figsize=(10, 2.8))
    scale = 100.0 if percent else 1.0
    used: dict[str, int] = {}
    for name, s in series.items():
        ax.plot(s.index, s.to_numpy() * scale, label=name, linewidth=1.0, **_style(name, None, used))
    if zero:
        ax.axhline(0, color="black", linewidth=0.6)
    ax.set_title(title)
    ax.set_xlabel("date")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    return figure_to_img(fig, title)


def drawdown_chart(drawdowns: Mapping[str, pd.Series]) -> str:
    """Drawdown below the running peak, in percent."""
    fig, ax = plt.subplots(figsize=(10, 2.6))
    for name, dd in drawdowns.items():
        ax.fill_between(dd.index, dd.to_numpy() * 100, 0, alpha=0.35, label=name, color=colour_for(name))
    ax.set_xlabel("date")
    ax.set_ylabel("drawdown (%)")
    ax.set_title("Drawdown")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize=8)
    return figure_to_img(fig, "Drawdown")


def reliability_chart(bins: pd.DataFrame, title: str = "Calibration (reliability)") -> str:
    """Predicted probability against observed frequency per bin; the diagonal is perfect calibration.

    ``bins`` has columns ``predicted``, ``observed``, ``count`` and optionally ``series`` to draw several curves.
    """
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="perfect calibration")
    groups = bins.groupby("series") if "series" in bins.columns else [("model", bins)]
    for name, part in groups:
        part = part[part["count"] > 0]
        ax.plot(part["predicted"], part["observed"], marker="o", label=str(name) or "model")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("predicted probability of an up move")
    ax.set_ylabel("observed frequency")
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)
    return figure_to_img(fig, title)


def bar_chart(values: pd.Series, title: str, ylabel: str = "", xlabel: str = "", label: str | None = None) -> str:
    """A simple bar chart (for example news items per month)."""
    fig, ax = plt.subplots(figsize=(10, 2.6))
    ax.bar(np.arange(len(values)), values.to_numpy(), label=label or str(values.name or ylabel or "value"))
    step = max(1, len(values) // 12)
    ax.set_xticks(np.arange(len(values))[::step], [str(i) for i in values.index[::step]], rotation=45, fontsize=7)
    ax.set_title(title)
    ax.set_xlabel(xlabel or str(values.index.name or ""))
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3, axis="y")
    ax.legend(loc="upper left", fontsize=8)
    return figure_to_img(fig, title)
