"""``bt-report``: show one run's metrics, or compare runs side by side."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import click

from backtests.cli.common import setup_logging, user_errors
from backtests.report.compare import compare_html, config_differences, load_run
from backtests.report.folder import atomic_write, load_json, resolve_run
from backtests.report.writer import metrics_text
from ground.errors import UserInputError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Read and compare run folders under reports/."""
    setup_logging()


@main.command()
@click.argument("run")
@click.option("--reports-dir", default="reports", show_default=True, type=click.Path(), help="Where run folders live.")
@user_errors
def show(run: str, reports_dir: str) -> None:
    """Print the metrics table of RUN (a run id, a unique prefix of one, or a path)."""
    path = resolve_run(run, Path(reports_dir))
    click.echo(metrics_text(load_json(path / "metrics.json")))
    click.echo(f"\nreport: {path / 'report.html'}")


@main.command()
@click.argument("runs", nargs=-1)
@click.option("--reports-dir", default="reports", show_default=True, type=click.Path(), help="Where run folders live.")
@click.option("--out", type=click.Path(), help="HTML file to write (default reports/compare-<time>.html).")
@user_errors
def compare(runs: tuple[str, ...], reports_dir: str, out: str | None) -> None:
    """Compare two or more RUNS: metrics side by side, equity overlaid, model versions, differing config keys."""
    if len(runs) < 2:
        raise UserInputError("compare needs at least two runs", "bt-report compare", "give two or more run ids")
    loaded = [load_run(resolve_run(r, Path(reports_dir))) for r in runs]
    columns = {r.run_id: r.metrics for r in loaded}
    click.echo(metrics_text({"metrics": columns}))
    diffs = config_differences(loaded)
    click.echo("\nconfig keys that differ:" if len(diffs) else "\nconfig: identical")
    if len(diffs):
        click.echo(diffs.to_string())
    for r in loaded:
        click.echo(f"models of {r.run_id}: {', '.join(r.model_versions) or '(none)'}")
    target = Path(out) if out else Path(reports_dir) / f"compare-{datetime.now(timezone.utc):%Y%m%d-%H%M%S}.html"
    atomic_write(target, compare_html(loaded))
    click.echo(f"\ncomparison: {target}")
