"""Self-contained HTML reports: metrics side by side, charts embedded, tables escaped; no network needed to open."""
from __future__ import annotations

import html
import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

# Metrics shown as percentages; everything else is printed as a plain number.
PERCENT_METRICS = frozenset(
    {
        "total_return", "cagr", "volatility_ann", "max_drawdown", "var_95_daily", "cvar_95_daily", "best_day",
        "worst_day", "daily_win_rate", "avg_up_day", "avg_down_day", "best_month", "worst_month", "positive_months",
        "win_rate", "exposure_time", "exposure_mean", "alpha_ann", "probabilistic_sharpe", "psr_vs_benchmark",
        "deflated_sharpe", "mtd", "ytd", "one_year", "three_year_ann", "best_year", "worst_year", "avg_drawdown",
        "benchmark_return",
    }
)

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:20px;color:#222;max-width:1340px}
h1{font-size:21px;margin:0 0 6px}h2{font-size:16px;margin-top:26px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:12px;margin:8px 0;display:block;overflow-x:auto;max-width:100%}
td,th{border:1px solid #ddd;padding:3px 6px;text-align:right;white-space:nowrap;max-width:26em;overflow:hidden;
text-overflow:ellipsis}th{background:#f4f4f4;position:sticky;top:0}td:first-child,th:first-child{text-align:left}
.note{color:#555;font-size:12px}abbr{text-decoration:none;border-bottom:1px dotted #888;cursor:help}
.pass{color:#137333;font-weight:bold}.fail{color:#b3261e;font-weight:bold}img{max-width:100%}
.summary{background:#fafafa;border:1px solid #e3e3e3;border-radius:6px;padding:10px 14px}
.summary ul{margin:4px 0 8px;padding-left:18px}.summary li{margin:2px 0}
.key{display:flex;gap:16px;flex-wrap:wrap;align-items:flex-start}.key table{font-size:13px}
"""


@dataclass(frozen=True)
class ReportPart:
    """One titled section of a report; its html is trusted (built by this package, with values escaped)."""

    title: str
    html: str


# Metrics that count things: printed as integers.
COUNT_METRICS = frozenset({"trades", "n", "bars", "folds", "items", "round_trips", "trials", "fills", "orders_not_filled",
                           "dsr_trials"})
COUNT_SUFFIXES = ("_days", "_bars", "_count", "_trades", "_n")


def is_count(name: str) -> bool:
    """True for metrics that count (trades, days, bars): they print without decimals."""
    return name in COUNT_METRICS or name.endswith(COUNT_SUFFIXES) or name.startswith("n_")


def fmt_value(name: str, value: object) -> str:
    """Human form of one metric value: percent for return-like metrics, integers for counts, 3 decimals otherwise,
    and "-" for a missing value (never "None" or "nan")."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,d}"
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        if name in PERCENT_METRICS:
            return f"{value * 100:.2f}%"
        if is_count(name) and value.is_integer():
            return f"{value:,.0f}"
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


def frame_table(frame: pd.DataFrame, max_rows: int = 500, float_format: str = "{:,.4f}",
                ids: Collection[str] = ()) -> str:
    """An escaped HTML table of a frame; long frames are cut with a note saying where the rest is. Columns named in
    ``ids`` hold long identifiers, shown short with the full id on hover."""
    shown = frame.head(max_rows)
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in [shown.index.name or "", *shown.columns])
    counts = {c for c in shown.columns if _integral(shown[c])}
    body = []
    for idx, row in shown.iterrows():
        label = idx.date() if isinstance(idx, pd.Timestamp) and idx == idx.normalize() else idx
        cells = [html.escape(str(label))]
        for col, v in zip(shown.columns, row.tolist()):
            if col in ids and isinstance(v, str) and v:
                cells.append(short_id(v))
            else:
                cells.append(_cell(v, "{:,.0f}" if col in counts else float_format))
        body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    note = (
        f'<p class="note">{len(frame) - max_rows} more rows in the CSV file.</p>' if len(frame) > max_rows else ""
    )
    return f"<table><tr>{head}</tr>{''.join(body)}</table>{note}"


def _integral(column: pd.Series) -> bool:
    """A column of counts: numbers that are all whole (stored as floats by pandas), not booleans."""
    if not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        return False
    values = column.dropna().to_numpy(dtype=float)
    return len(values) > 0 and bool(((values % 1) == 0).all()) and bool((abs(values) >= 1).any())


def _cell(value: object, float_format: str) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return "-" if math.isnan(value) else float_format.format(value)
    if isinstance(value, pd.Timestamp):
        return html.escape(str(value.date()) if value == value.normalize() else str(value))
    return html.escape(str(value))


def short_id(full: str, keep: int = 8) -> str:
    """A long model id shown short with the full id on hover (``GM/gm-nvda/3f2a...`` -> ``gm-nvda/3f2a19c0``)."""
    parts = full.strip("/").split("/")
    tail = "/".join([*parts[-2:-1], parts[-1][:keep]]) if parts else full
    return f'<abbr title="{html.escape(full)}">{html.escape(tail)}</abbr>'


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


def render_page(title: str, summary: Sequence[str], parts: Sequence[ReportPart], lead: str = "") -> str:
    """The whole page: title, a summary box (the lines, then ``lead``: trusted html such as the key metrics and the
    equity chart), then each part in order."""
    summary_html = "".join(f"<li>{html.escape(line)}</li>" for line in summary)
    body = "".join(f"<h2>{html.escape(p.title)}</h2>{p.html}" for p in parts)
    return (
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<meta name='viewport' content='width=device-width, initial-scale=1'><title>{html.escape(title)}</title>"
        f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>"
        f"<div class='summary'><ul>{summary_html}</ul>{lead}</div>{body}</body></html>"
    )
