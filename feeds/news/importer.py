"""Historical news from CSV or JSONL into the archive, validated in full before anything is written.

Columns (CSV header / JSONL keys):
  required  published  a date with an offset ("2024-01-04T10:00:00-05:00", RFC 822, "2024年1月4日 10:00");
                       without an offset it is taken in --tz (default UTC; Chinese formats: UTC+8)
            title      headline (HTML is reduced to plain text)
  optional  summary    text (HTML is reduced to plain text)
            source     publisher name (default: the --source option, else "import")
            link       http(s) URL of the article
            lang       en, zh, ... (default: detected from the text)
            symbols    tickers, separated by spaces, commas or semicolons (JSONL: a list is fine);
                       configured ticker and company-name matching adds to them
            id         the source's own id (default: derived from link, else source + title + published)

An imported item counts as seen when it was published (there is no fetch history for old news); an item
dated after the import time counts as seen at import time and waits for its date like any future-dated item.
The archive also records the import time as the item's first-seen time and marks its timestamp as the
vendor's claim, so a report can say how much of its news rests on timestamps nobody here observed.
"""
from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone, tzinfo
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from feeds.news.archive import AddResult, NewsArchive
from feeds.news.dates import UnreliableDateError, parse_date
from feeds.news.items import NewsItem, make_item_id
from feeds.news.parse import MAX_SUMMARY_CHARS, MAX_TITLE_CHARS
from feeds.news.sanitize import to_plain_text
from feeds.news.symbols import SymbolMatcher
from ground.choices import choice_hint
from ground.errors import DataError
from ground.lang import detect_language

REQUIRED = ("published", "title")
OPTIONAL = ("summary", "source", "link", "lang", "symbols", "id")
COLUMNS = REQUIRED + OPTIONAL
_SYMBOL = re.compile(r"^[A-Z0-9][A-Z0-9.\-^=]{0,19}$")
_LANG = re.compile(r"^[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$")
_SPLIT = re.compile(r"[\s,;]+")
_SHOWN_BAD_ROWS = 5


@dataclass(frozen=True)
class BadRow:
    """A row that cannot be imported: its line number in the file and why."""

    line: int
    reason: str


@dataclass(frozen=True)
class ImportReport:
    """What an import did: rows read, what the archive made of the good ones, and the bad rows."""

    rows: int
    added: AddResult
    bad: tuple[BadRow, ...]


class ImportValidationError(DataError):
    """Bad rows were found and nothing was written; `bad` lists them all."""

    def __init__(self, path: Path, bad: list[BadRow]) -> None:
        self.bad = tuple(bad)
        shown = "; ".join(f"line {b.line}: {b.reason}" for b in bad[:_SHOWN_BAD_ROWS])
        more = f"; and {len(bad) - _SHOWN_BAD_ROWS} more" if len(bad) > _SHOWN_BAD_ROWS else ""
        super().__init__(f"{len(bad)} bad row(s), nothing imported: {shown}{more}", where=str(path),
                         fix="fix those rows or pass --skip-bad to import the good rows only")


def _check_columns(names: list[str], path: Path, line: int) -> None:
    for name in names:
        if name not in COLUMNS:
            raise DataError(f"unknown column {name!r}", where=f"{path}:{line}", fix=choice_hint(name, COLUMNS))
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise DataError(f"missing required column(s) {', '.join(missing)}", where=f"{path}:{line}",
                        fix=f"the header needs at least: {', '.join(REQUIRED)}")


def _read_csv(path: Path, text: str) -> Iterator[tuple[int, Mapping[str, Any] | BadRow]]:
    reader = csv.reader(text.splitlines(keepends=True))
    try:
        header = next(reader, None)
        if header is None:
            raise DataError("file is empty", where=str(path), fix="add a header line: published,title,...")
        names = [h.strip() for h in header]
        _check_columns(names, path, 1)
        line = reader.line_num + 1
        for record in reader:
            if record:
                if len(record) != len(names):
                    yield line, BadRow(line, f"expected {len(names)} fields, got {len(record)}")
                else:
                    yield line, dict(zip(names, record, strict=True))
            line = reader.line_num + 1
    except csv.Error as exc:
        raise DataError(f"malformed CSV: {exc}", where=f"{path}:{reader.line_num}") from None


def _read_jsonl(path: Path, text: str) -> Iterator[tuple[int, Mapping[str, Any] | BadRow]]:
    for line, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except json.JSONDecodeError as exc:
            yield line, BadRow(line, f"not valid JSON: {exc.msg}")
            continue
        if not isinstance(record, dict):
            yield line, BadRow(line, "a line must be a JSON object")
            continue
        unknown = [k for k in record if k not in COLUMNS]
        if unknown:
            yield line, BadRow(line, f"unknown key {unknown[0]!r} ({choice_hint(unknown[0], COLUMNS)})")
            continue
        yield line, record


def read_records(path: Path) -> Iterator[tuple[int, Mapping[str, Any] | BadRow]]:
    """(line, record or BadRow) for each row; file-level problems raise DataError."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DataError("import file not found", where=str(path)) from None
    except UnicodeDecodeError as exc:
        raise DataError(f"file is not UTF-8 (byte {exc.start})", where=str(path),
                        fix="re-save the file as UTF-8") from None
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _read_csv(path, text)
    if suffix in {".jsonl", ".ndjson"}:
        return _read_jsonl(path, text)
    raise DataError(f"unknown import format {suffix or '(no extension)'!r}", where=str(path),
                    fix="use a .csv file with a header, or .jsonl with one JSON object per line")


def _field(record: Mapping[str, Any], name: str) -> str:
    value = record.get(name, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"{name} must be text, got {type(value).__name__}")
    return value.strip()


def _symbols(record: Mapping[str, Any]) -> tuple[str, ...]:
    value = record.get("symbols", "")
    parts = value if isinstance(value, list) else _SPLIT.split(value if isinstance(value, str) else "")
    symbols = []
    for part in parts:
        symbol = str(part).strip().upper()
        if symbol and not _SYMBOL.match(symbol):
            raise ValueError(f"symbol {part!r} is not a ticker")
        if symbol:
            symbols.append(symbol)
    return tuple(symbols)


def _item(
    record: Mapping[str, Any], *, source: str, tz: tzinfo | None, matcher: SymbolMatcher | None,
    imported_at: datetime,
) -> NewsItem:
    """One validated item, or ValueError / UnreliableDateError with the reason."""
    try:
        published = parse_date(_field(record, "published"), tz)
    except UnreliableDateError as exc:
        raise ValueError(f"published: {exc}") from None
    title = to_plain_text(_field(record, "title"), MAX_TITLE_CHARS)
    if not title:
        raise ValueError("title is empty")
    summary = to_plain_text(_field(record, "summary"), MAX_SUMMARY_CHARS)
    link = _field(record, "link")
    if link and (urlparse(link).scheme not in {"http", "https"} or not urlparse(link).netloc):
        raise ValueError(f"link {link[:60]!r} is not an http(s) URL")
    lang = _field(record, "lang").lower()
    if lang and not _LANG.match(lang):
        raise ValueError(f"lang {lang!r} is not a language code such as en or zh")
    item_source = _field(record, "source") or source
    symbols = _symbols(record) + (matcher.match(f"{title} {summary}") if matcher is not None else ())
    return NewsItem(
        id=make_item_id(guid=_field(record, "id"), link=link, source=item_source, title=title,
                        published=published),
        published=published, title=title, summary=summary, source=item_source, link=link,
        lang=lang or detect_language(f"{title} {summary}"), symbols=symbols,
        fetched_at=min(published, imported_at), first_seen=imported_at, vendor_time=True,
    )


def validate(
    path: Path, *, source: str = "import", tz: tzinfo | None = None, matcher: SymbolMatcher | None = None,
    imported_at: datetime,
) -> tuple[list[NewsItem], list[BadRow], int]:
    """Read and check every row: (good items, bad rows, rows read). Writes nothing."""
    items: list[NewsItem] = []
    bad: list[BadRow] = []
    first_line: dict[str, int] = {}
    rows = 0
    for line, record in read_records(path):
        rows += 1
        if isinstance(record, BadRow):
            bad.append(record)
            continue
        try:
            item = _item(record, source=source, tz=tz, matcher=matcher, imported_at=imported_at)
        except ValueError as exc:
            bad.append(BadRow(line, str(exc)))
            continue
        if item.id in first_line:
            bad.append(BadRow(line, f"duplicate of the item on line {first_line[item.id]}"))
            continue
        first_line[item.id] = line
        items.append(item)
    return items, bad, rows


def import_file(
    path: str | Path, archive: NewsArchive, *, skip_bad: bool = False, source: str = "import",
    tz: tzinfo | None = None, matcher: SymbolMatcher | None = None, imported_at: datetime | None = None,
) -> ImportReport:
    """Import a CSV/JSONL file in one transaction; with bad rows, raise ImportValidationError unless skip_bad."""
    path = Path(path)
    items, bad, rows = validate(path, source=source, tz=tz, matcher=matcher,
                                imported_at=imported_at or datetime.now(timezone.utc))
    if bad and not skip_bad:
        raise ImportValidationError(path, bad)
    return ImportReport(rows, archive.add(items), tuple(bad))
