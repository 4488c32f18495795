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


@main.command()
@click.option("--reports-dir", default="reports", show_default=True, type=click.Path(),
              help="The reports folder whose trial ledger (beside it: <folder>-trials.sqlite) to read.")
@click.option("--add", "add_files", multiple=True, type=click.Path(),
              help="CSV of trials made elsewhere to add first (columns run_id, strategy, symbols, start, end, "
                   "config_hash, sharpe, skew, kurtosis, n; sharpe per day). Repeatable.")
@click.option("--symbol", "symbols", multiple=True, help="Count distinct configurations on these symbols ...")
@click.option("--from", "start", help="... over a period overlapping this start (YYYY-MM-DD) ...")
@click.option("--to", "end", help="... and this end (YYYY-MM-DD).")
@user_errors
def trials(reports_dir: str, add_files: tuple[str, ...], symbols: tuple[str, ...], start: str | None,
           end: str | None) -> None:
    """List the trial ledger: every run recorded, which the Deflated Sharpe Ratio counts."""
    from backtests.report.trials import TrialLedger, ledger_path

    ledger = TrialLedger(ledger_path(Path(reports_dir)))
    for name in add_files:
        click.echo(f"added {ledger.import_file(Path(name))} new trials from {name}")
    rows = ledger.all()
    if not rows:
        click.echo(f"no trials recorded in {ledger.path}")
        return
    click.echo(f"{'run_id':<40} {'strategy':<10} {'symbols':<12} {'period':<23} {'config':<16} "
               f"{'sharpe_ann':>10} {'n':>6} source")
    for t in rows:
        click.echo(f"{t.run_id:<40} {t.strategy:<10} {t.symbols:<12} {t.start + '..' + t.end:<23} "
                   f"{t.config_hash:<16} {t.sharpe * 252 ** 0.5:>10.2f} {t.n:>6} {t.source}")
    if symbols or start or end:
        count = ledger.count(symbols or {s for t in rows for s in t.symbols.split(",")}, start or "0000",
                             end or "9999")
        click.echo(f"\n{count.text()}")
