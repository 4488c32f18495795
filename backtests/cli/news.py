"""`bt-news`: collect RSS/Atom feeds, import historical news, list what the archive holds, embed and search it.

The archive is, in order of precedence: --archive, $BT_HYBRID_NEWS_DB, `archive` in the feeds config,
$XDG_DATA_HOME/bt-hybrid/news.sqlite (default ~/.local/share/bt-hybrid/news.sqlite).
"""
from __future__ import annotations

import os
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click

from backtests.cli.common import examples, group, setup_logging, user_errors
from feeds.news.config import DEFAULT_CONFIG, NewsConfig, load_config
from ground.errors import UserInputError

if TYPE_CHECKING:
    from feeds.news.collect import CollectReport, FeedReport
    from feeds.news.vectors import VectorEntry, VectorStore
    from ml.sentiment.embeddings import VectorIndex

# Mirrors of feeds.news.archive.ARCHIVE_ENV, feeds.news.importer.COLUMNS and ml.sentiment.embeddings.DEFAULT_ENCODER
# (a test keeps them equal): importing those modules here would load pandas and numpy for every --help.
ARCHIVE_ENV = "BT_HYBRID_NEWS_DB"
IMPORT_COLUMNS = ("published", "title", "summary", "source", "link", "lang", "symbols", "id")
DEFAULT_ENCODER = "e5"
LOCK_WAIT_S = 30.0  # feeds.news.archive.LOCK_WAIT_S


def default_archive_path() -> Path:
    """$XDG_DATA_HOME/bt-hybrid/news.sqlite (see feeds.news.archive)."""
    from feeds.news.archive import default_archive_path as default

    return default()


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


_encoder_option = click.option(
    "--encoder", default=DEFAULT_ENCODER, show_default=True,
    help="Sentence encoder for similarity: e5 (English and Chinese), minilm (English) or a model folder.",
)
_embed_option = click.option("--embed", is_flag=True,
                             help="Also embed the new items for search (as `bt-news embed` would).")


@group(epilog=examples(
    "bt-news collect",
    "bt-news collect --every 15 --max-runs 8 --embed",
    "bt-news import headlines.csv --skip-bad",
    "bt-news list --symbol NVDA --since 2024-01-01",
    "bt-news search \"Nvidia raises guidance\" --symbol NVDA -k 5",
))
@click.option("-v", "--verbose", is_flag=True, help="Log each rejected entry and each retry.")
def main(verbose: bool) -> None:
    """Collect, import and list news in the point-in-time news archive."""
    setup_logging(verbose)


@main.command(epilog=examples("bt-news collect", "bt-news collect --every 15 --max-runs 8 --embed"))
@_config_option
@_archive_option
@click.option("--every", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Collect again every MINUTES (start to start) instead of once.")
@click.option("--max-runs", type=click.IntRange(min=1), default=None, help="Stop after N runs (with --every).")
@_lock_wait_option
@_embed_option
@user_errors
def collect(config_path: Path, archive: Path | None, every: float | None, max_runs: int | None,
            lock_wait: float, embed: bool) -> None:
    """Fetch the configured feeds and store new items and new versions.

    Prints one line per feed as it finishes: fetched / new / updated / unchanged / rejected (with reasons),
    undated items (stamped with the fetch time), items recovered from an ill-formed document, or "not
    modified" when the server answered 304. Exits 1 when every feed of the last run failed, and 2 when the
    archive stayed locked by another process for longer than --lock-wait.
    """
    from feeds.news.archive import NewsArchive
    from feeds.news.collect import collect_every, collect_once
    from feeds.news.fetch import Fetcher

    if max_runs is not None and every is None:
        raise UserInputError("--max-runs needs --every", where="--max-runs", fix="add --every MINUTES")
    config = load_config(config_path)
    if not config.feeds:
        raise UserInputError("the config lists no feeds", where=str(config_path), fix="add [[feeds]] entries")
    last: list[CollectReport] = []
    path = resolve_archive_path(archive, config)
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
        elif embed:
            _embed_pending(path, DEFAULT_ENCODER)

    with NewsArchive(path, lock_wait_s=lock_wait) as store, Fetcher(retries=config.retries) as fetcher:
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


@main.command(name="import", epilog=examples(
    "bt-news import headlines.csv", "bt-news import cn.jsonl --tz Asia/Shanghai --skip-bad",
    f"(columns: {', '.join(IMPORT_COLUMNS)}; published and title required)"))
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--skip-bad", is_flag=True, help="Import the good rows and report the bad ones.")
@click.option("--source", default="import", show_default=True, help="Source name for rows without one.")
@click.option("--tz", "tz_name", default="", help="Zone of dates without an offset (default UTC; Chinese: UTC+8).")
@_config_option
@_archive_option
@_lock_wait_option
@_embed_option
@user_errors
def import_(file: Path, skip_bad: bool, source: str, tz_name: str, config_path: Path, archive: Path | None,
            lock_wait: float, embed: bool) -> None:
    """Import historical news from FILE (.csv with a header, or .jsonl), all rows or none.

    Every row is checked first; any bad row (reported with its line number) means nothing is written,
    unless --skip-bad. Symbols come from the `symbols` column plus ticker and name matching from the feeds config.
    While another process writes the archive this waits (and says so) up to --lock-wait seconds, then
    exits 2 having written nothing.
    """
    from feeds.news.archive import NewsArchive
    from feeds.news.importer import ImportValidationError, import_file

    try:
        tz = ZoneInfo(tz_name) if tz_name else None
    except (ZoneInfoNotFoundError, ValueError):
        raise UserInputError(f"unknown time zone {tz_name!r}", where="--tz", fix="use an IANA name") from None
    config = load_config(config_path)
    path = resolve_archive_path(archive, config)
    with NewsArchive(path, lock_wait_s=lock_wait) as store:
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
    if embed:
        _embed_pending(path, DEFAULT_ENCODER)


@main.command(name="list", epilog=examples("bt-news list --symbol NVDA --since 2024-01-01",
                                            "bt-news list --symbol NVDA --since 2024-01 --until 2024-03-01 --limit 20"))
@click.option("--symbol", required=True, help="Ticker, e.g. NVDA.")
@click.option("--since", required=True, help="Earliest published date (YYYY-MM-DD or ISO time; UTC if naive).")
@click.option("--until", default=None, help="Point in time to view the archive at (default: now).")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True, help="Newest N items.")
@_config_option
@_archive_option
@user_errors
def list_(symbol: str, since: str, until: str | None, limit: int, config_path: Path, archive: Path | None) -> None:
    """Print the items about SYMBOL known at --until, newest first (tab-separated)."""
    from feeds.news.archive import NewsArchive

    config = load_config(config_path)
    cutoff = _cli_time(until, "--until") if until else datetime.now(timezone.utc)
    with NewsArchive(resolve_archive_path(archive, config)) as store:
        items = store.items_for(symbol, until=cutoff, since=_cli_time(since, "--since"))
    for item in reversed(items[-limit:]):
        click.echo("\t".join([item.published.isoformat(timespec="seconds"), item.source, item.lang,
                              " ".join(item.symbols), item.title, item.link]))
    click.echo(f"{len(items)} item(s) about {symbol.upper()} since {since}; showing {min(limit, len(items))}",
               err=True)


def _embed_pending(path: Path, encoder_spec: str, *, force: bool = False, batch: int = 256) -> None:
    """Embed the item versions that have no vector under the encoder's current version; each batch commits."""
    from feeds.news.vectors import VectorStore
    from ml.sentiment.embeddings import embedding_encoder, item_text, to_bytes

    encoder = embedding_encoder(encoder_spec)
    with VectorStore(path) as store:
        pending = store.pending(encoder.id, include_embedded=force)
        for start in range(0, len(pending), batch):
            chunk = pending[start:start + batch]
            vectors = encoder.encode([item_text(p.title, p.summary) for p in chunk])
            store.put(encoder.id, encoder.dim,
                      [(p.id, p.version, to_bytes(v)) for p, v in zip(chunk, vectors, strict=True)])
            click.echo(f"embedded {start + len(chunk)}/{len(pending)}", err=True)
        embedded, total = store.counts(encoder.id)
    click.echo(f"embedded {len(pending)} item version(s) with {encoder.id}; {embedded} of {total} have vectors")


@main.command(epilog=examples("bt-news embed", "bt-news embed --encoder minilm --force"))
@_encoder_option
@click.option("--force", is_flag=True, help="Re-embed versions that already have a vector.")
@click.option("--batch", type=click.IntRange(min=1), default=256, show_default=True, help="Texts per commit.")
@_config_option
@_archive_option
@user_errors
def embed(encoder: str, force: bool, batch: int, config_path: Path, archive: Path | None) -> None:
    """Compute sentence vectors for archived items that lack one (backfill; safe to stop and re-run).

    Vectors are stored per encoder version; after an encoder changes, this embeds everything again under the
    new version and searches use only the new vectors.
    """
    _embed_pending(resolve_archive_path(archive, load_config(config_path)), encoder, force=force, batch=batch)


def _index(store: VectorStore, encoder_id: str, symbol: str | None = None, since: datetime | None = None,
           until: datetime | None = None, skip: str | None = None) -> tuple[list[str], VectorIndex]:
    """The ids and the search index of the embedded items that match the filters (``skip``: an id left out)."""
    from ml.sentiment.embeddings import VectorIndex

    stored = store.vectors(encoder_id, symbol=symbol, since=since, until=until)
    keep = [i for i, (item_id, _) in enumerate(stored.keys) if item_id != skip]
    if not keep:
        raise UserInputError("no embedded items match", where=str(store.path),
                             fix="run `bt-news embed` (with the same --encoder), or widen --symbol/--from/--to")
    if stored.missing:
        click.echo(f"{stored.missing} matching item(s) have no vector yet: run `bt-news embed`", err=True)
    return ([stored.keys[i][0] for i in keep],
            VectorIndex.from_blobs([stored.blobs[i] for i in keep], stored.dim))


def _print_hit(score: float, entry: VectorEntry, marker: str = "") -> None:
    click.echo("\t".join([f"{score:.3f}" + marker, entry.published.isoformat(timespec="seconds"), entry.lang,
                          " ".join(entry.symbols), entry.title, entry.id]))


@main.command(epilog=examples('bt-news search "Nvidia raises guidance" --symbol NVDA -k 5',
                              'bt-news search "芯片出口限制" --from 2024-01-01'))
@click.argument("text")
@click.option("--symbol", default=None, help="Only items about this ticker.")
@click.option("--from", "since", default=None, help="Earliest published date (YYYY-MM-DD or ISO time; UTC if naive).")
@click.option("--to", "until", default=None, help="Point in time to search the archive at (default: now).")
@click.option("-k", "k", type=click.IntRange(min=1), default=10, show_default=True, help="How many results.")
@_encoder_option
@_config_option
@_archive_option
@user_errors
def search(text: str, symbol: str | None, since: str | None, until: str | None, k: int, encoder: str,
           config_path: Path, archive: Path | None) -> None:
    """Items closest in meaning to TEXT (any language with e5), best first.

    Prints cosine, published time, language, symbols, title and id (tab-separated); pass the id to `similar`.
    """
    from feeds.news.vectors import VectorStore
    from ml.sentiment.embeddings import embedding_encoder

    if not text.strip():
        raise UserInputError("empty search text", where="TEXT", fix='give a phrase, e.g. "Nvidia raises guidance"')
    lower = _cli_time(since, "--from") if since else None
    upper = _cli_time(until, "--to") if until else datetime.now(timezone.utc)
    if lower and lower > upper:
        raise UserInputError("--from is after --to", where="--from/--to", fix="swap the two dates")
    model = embedding_encoder(encoder)
    with VectorStore(resolve_archive_path(archive, load_config(config_path))) as store:
        ids, index = _index(store, model.id, symbol, lower, upper)
        for hit in index.search(model.encode([text])[0], k):
            _print_hit(hit.score, store.entries(model.id, item_id=ids[hit.row], until=upper)[0])


@main.command(epilog=examples("bt-news similar <item-id> -k 5"))
@click.argument("item_id")
@click.option("-k", "k", type=click.IntRange(min=1), default=10, show_default=True, help="How many results.")
@_encoder_option
@_config_option
@_archive_option
@user_errors
def similar(item_id: str, k: int, encoder: str, config_path: Path, archive: Path | None) -> None:
    """Items closest in meaning to the item ITEM_ID (its id or a unique prefix), best first.

    Results judged the same story (close enough and no contradicting company, event, direction, period or
    figure) are marked with `*` after the cosine.
    """
    from feeds.news.vectors import VectorStore
    from ml.sentiment.embeddings import embedding_encoder, from_bytes
    from ml.sentiment.facts import FactExtractor
    from ml.sentiment.stories import is_same_story

    model = embedding_encoder(encoder)
    with VectorStore(resolve_archive_path(archive, load_config(config_path))) as store:
        matches = store.ids_with_prefix(item_id.strip())
        matches = [item_id.strip()] if item_id.strip() in matches else matches
        if len(matches) != 1:
            raise UserInputError(f"{'no' if not matches else len(matches)} item(s) with id {item_id!r}",
                                 where="ITEM_ID", fix="copy an id (or a longer prefix) from `bt-news search` or list")
        target = store.entries(model.id, item_id=matches[0])[0]
        ids, index = _index(store, model.id, skip=target.id)
        query = from_bytes(target.vector, target.dim) if target.vector is not None else model.encode([target.title])[0]
        extractor = FactExtractor()
        facts = extractor.extract(target.title, target.symbols)
        _print_hit(1.0, target, " (item)")
        for hit in index.search(query, k):
            entry = store.entries(model.id, item_id=ids[hit.row])[0]
            same = is_same_story(hit.score, target.lang, facts, entry.lang,
                                 extractor.extract(entry.title, entry.symbols))
            _print_hit(hit.score, entry, "*" if same else "")
