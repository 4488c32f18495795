"""Self-contained HTML reports: metrics side by side, charts embedded, tables escaped; no network needed to open."""
from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

# Metrics shown as percentages; everything else is printed as a plain number.
PERCENT_METRICS = frozenset(
    {
        "total_return", "cagr", "volatility_ann", "max_drawdown", "var_95_daily", "cvar_95_daily", "best_day",
        "worst_day", "daily_win_rate", "avg_up_day", "avg_down_day", "best_month", "worst_month", "positive_months",
        "win_rate", "exposure_time", "exposure_mean", "alpha_ann", "probabilistic_sharpe", "psr_vs_benchmark",
        "deflated_sharpe",
    }
)

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px;color:#222;max-width:1200px}
h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:12px;margin:8px 0;display:block;overflow-x:auto;max-width:100%}td,th{border:1px solid #ddd;padding:3px 7px;text-align:right}
th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}.note{color:#555;font-size:12px}
.pass{color:#137333;font-weight:bold}.fail{color:#b3261e;font-weight:bold}img{max-width:100%}
"""


@dataclass(frozen=True)
class ReportPart:
    """One titled section of a report; its html is trusted (built by this package, with values escaped)."""

    title: str
    html: str


def fmt_value(name: str, value: object) -> str:
    """Human form of one metric value (percent for return-like metrics, 3 decimals otherwise)."""
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        if name in PERCENT_METRICS:
            return f"{value * 100:.2f}%"
        return f"{value:,.3f}" if abs(value) < 1e6 else f"{value:,.0f}"
    return html.escape(str(value))


def metrics_table(columns: Mapping[str, Mapping[str, object]]) -> str:
    """Metrics side by side: one row per metric, one column per run or strategy."""
    names: list[str] = []
    for col in columns.values():
        names.extend(k for k in col if k not in names)
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    rows = []
    for name in names:
        cells = "".join(f"<td>{fmt_value(name, col.get(name, float('nan')))}</td>" for col in columns.values())
        rows.append(f"<tr><td>{html.escape(name)}</td>{cells}</tr>")
    return f"<table><tr><th>metric</th>{head}</tr>{''.join(rows)}</table>"


def frame_table(frame: pd.DataFrame, max_rows: int = 500, float_format: str = "{:,.4f}") -> str:
    """An escaped HTML table of a frame; long frames are cut with a note saying where the rest is."""
    shown = frame.head(max_rows)
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in [shown.index.name or "", *shown.columns])
    body = []
    for idx, row in shown.iterrows():
        label = idx.date() if isinstance(idx, pd.Timestamp) and idx == idx.normalize() else idx
        cells = [html.escape(str(label))]
        for v in row.tolist():
            if isinstance(v, float):
                cells.append("-" if math.isnan(v) else float_format.format(v))
            else:
                cells.append(html.escape(str(v)))
        body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    note = (
        f'<p class="note">{len(frame) - max_rows} more rows in the CSV file.</p>' if len(frame) > max_rows else ""
    )
    return f"<table><tr>{head}</tr>{''.join(body)}</table>{note}"


def monthly_heatmap(table: pd.DataFrame) -> str:
    """Monthly returns as a colour-coded table (green up, red down), one row per year."""
    months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    head = "<tr><th>year</th>" + "".join(f"<th>{m}</th>" for m in months) + "<th>year</th></tr>"
    rows = []
    for year, values in table.iterrows():
        cells = []
        for v in values.tolist():
            if pd.isna(v):
                cells.append("<td></td>")
                continue
            alpha = min(abs(v) / 0.15, 1.0) * 0.8 + 0.1
            colour = f"rgba(19,115,51,{alpha:.2f})" if v >= 0 else f"rgba(179,38,30,{alpha:.2f})"
            cells.append(f'<td style="background:{colour}">{v * 100:.1f}%</td>')
        yearly = float((1 + values.dropna()).prod() - 1)
        rows.append(f"<tr><td>{year}</td>{''.join(cells)}<td><b>{yearly * 100:.1f}%</b></td></tr>")
    return f"<table>{head}{''.join(rows)}</table>"


def render_page(title: str, summary: Sequence[str], parts: Sequence[ReportPart]) -> str:
    """The whole page: title, summary lines, then each part in order."""
    summary_html = "".join(f"<li>{html.escape(line)}</li>" for line in summary)
    body = "".join(f"<h2>{html.escape(p.title)}</h2>{p.html}" for p in parts)
    return (
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1><ul>{summary_html}</ul>{body}</body></html>"
    )
