"""``bt-report``: list run folders, show one run's metrics, or compare runs side by side."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import click

from backtests.cli.common import examples, group, setup_logging, user_errors
from ground.errors import UserInputError

_reports_dir = click.option("--reports-dir", default="reports", type=click.Path(file_okay=False),
                            help="Where run folders live.")


@group(epilog=examples(
    "bt-report list",
    "bt-report show 20261201-101500-sma-1a2b3c-9f0e",
    "bt-report compare 20261201-101500-sma 20261201-101620-buyhold   # unique prefixes are enough",
))
def main() -> None:
    """List, show and compare run folders under reports/."""
    setup_logging()


@main.command("list", epilog=examples("bt-report list", "bt-report list --reports-dir /data/reports --last 5"))
@_reports_dir
@click.option("--last", type=click.IntRange(min=1), default=None, help="Only the newest N runs.  [default: all]")
def list_cmd(reports_dir: str, last: int | None) -> None:
    """One line per finished run: id, strategy, test period and headline metrics (oldest first)."""
    from backtests.report.compare import run_rows
    from backtests.report.folder import run_folders

    folders = run_folders(Path(reports_dir))
    if not folders:
        click.echo(f"no runs in {reports_dir}")
        return
    rows = run_rows(folders[-last:] if last else folders)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for i, row in enumerate(rows):
        click.echo("  ".join(c.ljust(w) if j < 3 else c.rjust(w) for j, (c, w) in enumerate(zip(row, widths))).rstrip())
        if i == 0:
            click.echo("  ".join("-" * w for w in widths))


@main.command(epilog=examples("bt-report show 20261201-101500-sma-1a2b3c-9f0e", "bt-report show reports/<run-id>"))
@click.argument("run")
@_reports_dir
def show(run: str, reports_dir: str) -> None:
    """Print the metrics table of RUN (a run id, a unique prefix of one, or a path to a run folder)."""
    from backtests.report.folder import load_json, resolve_run
    from backtests.report.writer import metrics_text

    path = resolve_run(run, Path(reports_dir))
    click.echo(metrics_text(load_json(path / "metrics.json")))
    click.echo(f"\nreport: {path / 'report.html'}")


@main.command(epilog=examples(
    "bt-report compare RUN_A RUN_B",
    "bt-report compare RUN_A RUN_B RUN_C --out cmp.html",
))
@click.argument("runs", nargs=-1)
@_reports_dir
@click.option("--out", type=click.Path(dir_okay=False),
              help="HTML file to write.  [default: <reports-dir>/compare-<time>.html]")
def compare(runs: tuple[str, ...], reports_dir: str, out: str | None) -> None:
    """Compare two or more RUNS: each metric side by side with its difference from the first run, warnings when
    periods, symbols, costs or data sources differ, model versions and config keys that differ."""
    from backtests.report.compare import compare_html, compare_text, load_run
    from backtests.report.folder import atomic_write, resolve_run

    if len(runs) < 2:
        raise UserInputError("compare needs at least two runs", "bt-report compare", "give two or more run ids")
    loaded = [load_run(resolve_run(r, Path(reports_dir))) for r in runs]
    click.echo(compare_text(loaded))
    target = Path(out) if out else Path(reports_dir) / f"compare-{datetime.now(timezone.utc):%Y%m%d-%H%M%S}.html"
    try:
        atomic_write(target, compare_html(loaded))
    except OSError as exc:
        raise UserInputError(f"cannot write the comparison: {exc.strerror}", str(target), "choose another --out") from None
    click.echo(f"\ncomparison: {target}")


@main.command(epilog=examples("bt-report trials", "bt-report trials --symbol NVDA --from 2020-01-01 --to 2025-02-14",
                              "bt-report trials --add other-machine-trials.csv"))
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
