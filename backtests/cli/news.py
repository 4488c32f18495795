"""`bt-news`: collect RSS/Atom feeds, import historical news, list what the archive holds.

The archive is, in order of precedence: --archive, $BT_HYBRID_NEWS_DB, `archive` in the feeds config,
$XDG_DATA_HOME/bt-hybrid/news.sqlite (default ~/.local/share/bt-hybrid/news.sqlite).
"""
from __future__ import annotations

import os
import sys
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click

from backtests.cli.common import setup_logging, user_errors
from feeds.news.archive import ARCHIVE_ENV, LOCK_WAIT_S, NewsArchive, default_archive_path
from feeds.news.collect import CollectReport, FeedReport, collect_every, collect_once
from feeds.news.config import NewsConfig, load_config
from feeds.news.fetch import Fetcher
from feeds.news.importer import COLUMNS, ImportValidationError, import_file
from ground.errors import UserInputError

DEFAULT_CONFIG = Path(__file__).resolve().parents[1] / "feeds.toml"


def resolve_archive_path(option: Path | None, config: NewsConfig | None) -> Path:
    """--archive, then $BT_HYBRID_NEWS_DB, then the config's `archive`, then the default."""
    if option is not None:
        return option
    if os.environ.get(ARCHIVE_ENV):
        return Path(os.environ[ARCHIVE_ENV]).expanduser()
    if config is not None and config.archive is not None:
        return config.archive
    return default_archive_path()


def _cli_time(value: str, option: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise UserInputError(f"{option} {value!r} is not a date", where=option,
                             fix="use YYYY-MM-DD or an ISO 8601 time such as 2024-01-04T16:00:00-05:00") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=timezone.utc)


_config_option = click.option(
    "--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), default=DEFAULT_CONFIG,
    show_default=True, help="Feeds config (TOML): feeds, symbol names, optional archive path.",
)
_archive_option = click.option(
    "--archive", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help=f"News archive (SQLite). Default: ${ARCHIVE_ENV} or ~/.local/share/bt-hybrid/news.sqlite.",
)
_lock_wait_option = click.option(
    "--lock-wait", type=click.FloatRange(min=0), default=LOCK_WAIT_S, show_default=True,
    help="Seconds to wait while another process is writing the archive before giving up.",
)


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log each rejected entry and each retry.")
def main(verbose: bool) -> None:
    """Collect, import and list news in the point-in-time news archive."""
    setup_logging(verbose)


@main.command()
@_config_option
@_archive_option
@click.option("--every", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Collect again every MINUTES (start to start) instead of once.")
@click.option("--max-runs", type=click.IntRange(min=1), default=None, help="Stop after N runs (with --every).")
@_lock_wait_option
@user_errors
def collect(config_path: Path, archive: Path | None, every: float | None, max_runs: int | None,
            lock_wait: float) -> None:
    """Fetch the configured feeds and store new items and new versions.

    Prints one line per feed as it finishes: fetched / new / updated / unchanged / rejected (with reasons),
    undated items (stamped with the fetch time), items recovered from an ill-formed document, or "not
    modified" when the server answered 304. Exits 1 when every feed of the last run failed, and 2 when the
    archive stayed locked by another process for longer than --lock-wait.
    """
    if max_runs is not None and every is None:
        raise UserInputError("--max-runs needs --every", where="--max-runs", fix="add --every MINUTES")
    config = load_config(config_path)
    if not config.feeds:
        raise UserInputError("the config lists no feeds", where=str(config_path), fix="add [[feeds]] entries")
    last: list[CollectReport] = []
    indent = "  " if every is not None else ""
    headed: list[int] = []  # runs whose header line is out

    def on_feed(feed: FeedReport) -> None:
        run = len(last) + 1
        if every is not None and run not in headed:
            headed.append(run)
            click.echo(f"run {run} at {datetime.now(timezone.utc).isoformat(timespec='seconds')}")
        click.echo(indent + feed.line())

    def on_report(report: CollectReport) -> None:
        last.append(report)
        if report.archive_locked:
            click.echo(f"Error: {report.archive_locked}", err=True)

    with (NewsArchive(resolve_archive_path(archive, config), lock_wait_s=lock_wait) as store,
          Fetcher(retries=config.retries) as fetcher):
        if every is None:
            on_report(collect_once(config, store, fetcher, on_feed=on_feed))
        else:
            try:
                collect_every(config, store, fetcher, every_s=every * 60.0, max_runs=max_runs, on_report=on_report,
                              on_feed=on_feed)
            except KeyboardInterrupt:  # each feed's items were committed as it finished: nothing to undo
                click.echo(f"stopped after {len(last)} run(s)", err=True)
    if last and last[-1].archive_locked:
        sys.exit(2)
    if last and last[-1].all_failed:
        sys.exit(1)


@main.command(name="import", epilog=f"Columns: {', '.join(COLUMNS)} (published and title required).")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--skip-bad", is_flag=True, help="Import the good rows and report the bad ones.")
@click.option("--source", default="import", show_default=True, help="Source name for rows without one.")
@click.option("--tz", "tz_name", default="", help="Zone of dates without an offset (default UTC; Chinese: UTC+8).")
@_config_option
@_archive_option
@_lock_wait_option
@user_errors
def import_(file: Path, skip_bad: bool, source: str, tz_name: str, config_path: Path, archive: Path | None,
            lock_wait: float) -> None:
    """Import historical news from FILE (.csv with a header, or .jsonl), all rows or none.

    Every row is checked first; any bad row (reported with its line number) means nothing is written,
    unless --skip-bad. Symbols come from the `symbols` column plus ticker and name matching from --config.
    While another process writes the archive this waits (and says so) up to --lock-wait seconds, then
    exits 2 having written nothing.
    """
    try:
        tz = ZoneInfo(tz_name) if tz_name else None
    except (ZoneInfoNotFoundError, ValueError):
        raise UserInputError(f"unknown time zone {tz_name!r}", where="--tz", fix="use an IANA name") from None
    config = load_config(config_path)
    with NewsArchive(resolve_archive_path(archive, config), lock_wait_s=lock_wait) as store:
        try:
            report = import_file(file, store, skip_bad=skip_bad, source=source, tz=tz, matcher=config.matcher())
        except ImportValidationError as exc:
            for bad in exc.bad:
                click.echo(f"{file}:{bad.line}: {bad.reason}", err=True)
            raise
    for bad in report.bad:
        click.echo(f"{file}:{bad.line}: skipped: {bad.reason}", err=True)
    added = report.added
    click.echo(f"{file}: rows={report.rows} new={added.new} updated={added.updated} unchanged={added.unchanged} "
               f"skipped={len(report.bad)}")


@main.command(name="list")
@click.option("--symbol", required=True, help="Ticker, e.g. NVDA.")
@click.option("--since", required=True, help="Earliest published date (YYYY-MM-DD or ISO time; UTC if naive).")
@click.option("--until", default=None, help="Point in time to view the archive at (default: now).")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True, help="Newest N items.")
@_config_option
@_archive_option
@user_errors
def list_(symbol: str, since: str, until: str | None, limit: int, config_path: Path, archive: Path | None) -> None:
    """Print the items about SYMBOL known at --until, newest first (tab-separated)."""
    config = load_config(config_path)
    cutoff = _cli_time(until, "--until") if until else datetime.now(timezone.utc)
    with NewsArchive(resolve_archive_path(archive, config)) as store:
        items = store.items_for(symbol, until=cutoff, since=_cli_time(since, "--since"))
    for item in reversed(items[-limit:]):
        click.echo("\t".join([item.published.isoformat(timespec="seconds"), item.source, item.lang,
                              " ".join(item.symbols), item.title, item.link]))
    click.echo(f"{len(items)} item(s) about {symbol.upper()} since {since}; showing {min(limit, len(items))}",
               err=True)
