"""Charts for reports, rendered headless with matplotlib and embedded as base64 PNG so pages open offline."""
from __future__ import annotations

import base64
import io
from collections.abc import Mapping

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def figure_to_img(fig: plt.Figure, alt: str) -> str:
    """An <img> tag holding the figure as an embedded PNG; the figure is closed."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img alt="{alt}" src="data:image/png;base64,{data}">'


def equity_chart(curves: Mapping[str, pd.Series], title: str = "Equity") -> str:
    """Equity curves on a log scale, all starting from the same capital."""
    fig, ax = plt.subplots(figsize=(10, 4))
    for name, curve in curves.items():
        ax.plot(curve.index, curve.to_numpy(), label=name, linewidth=1.1)
    ax.set_yscale("log")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left")
    return figure_to_img(fig, title)


def drawdown_chart(drawdowns: Mapping[str, pd.Series]) -> str:
    """Drawdown below the running peak, in percent."""
    fig, ax = plt.subplots(figsize=(10, 2.6))
    for name, dd in drawdowns.items():
        ax.fill_between(dd.index, dd.to_numpy() * 100, 0, alpha=0.35, label=name)
    ax.set_ylabel("%")
    ax.set_title("Drawdown")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left")
    return figure_to_img(fig, "Drawdown")


def reliability_chart(bins: pd.DataFrame, title: str = "Calibration (reliability)") -> str:
    """Predicted probability against observed frequency per bin; the diagonal is perfect calibration.

    ``bins`` has columns ``predicted``, ``observed``, ``count`` and optionally ``series`` to draw several curves.
    """
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1)
    groups = bins.groupby("series") if "series" in bins.columns else [("", bins)]
    for name, part in groups:
        part = part[part["count"] > 0]
        ax.plot(part["predicted"], part["observed"], marker="o", label=str(name) or None)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("predicted probability of an up move")
    ax.set_ylabel("observed frequency")
    ax.set_title(title)
    if "series" in bins.columns:
        ax.legend(loc="upper left")
    ax.grid(alpha=0.3)
    return figure_to_img(fig, title)


def bar_chart(values: pd.Series, title: str, ylabel: str = "") -> str:
    """A simple bar chart (for example news items per month)."""
    fig, ax = plt.subplots(figsize=(10, 2.6))
    ax.bar(np.arange(len(values)), values.to_numpy())
    step = max(1, len(values) // 12)
    ax.set_xticks(np.arange(len(values))[::step], [str(i) for i in values.index[::step]], rotation=45, fontsize=7)
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3, axis="y")
    return figure_to_img(fig, title)
