"""One entry point for prices: pick a source, slice the asked range, and say what was actually served.

``source="auto"`` tries, in order, the local cache (when it covers the range), Yahoo Finance (unless
offline; what it returns is cached) and the bundled demo data. The first source that covers the range
serves it; when none does, the one with the most bars in the range serves it, and the shortfall is logged
as a warning and recorded in ``PriceLoad.notes`` (run reports show them).

Coverage is judged on weekdays with one day of slack at each end for a holiday: a range starting on
New Year's Day is covered by data whose first bar is January 2nd. An open end (``end=None``) means today.

The cache lives in ``~/.cache/bt-hybrid/prices``; set the ``BT_HYBRID_CACHE`` environment variable to move
the project's cache root (prices then go to ``$BT_HYBRID_CACHE/prices``).
"""
from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from feeds.bundled import find_bundled, load_bundled
from feeds.csv_source import read_price_csv
from feeds.price_cache import PriceCache
from feeds.ticker import check_symbol
from feeds.validate import JUMP_THRESHOLD, PriceJump, PriceJumpError, find_jumps
from feeds.yahoo import fetch_yahoo
from ground.choices import choice_hint
from ground.errors import DataError, SourceUnavailableError, UserInputError

logger = logging.getLogger(__name__)

SOURCES = ("auto", "cache", "yfinance", "bundled", "csv")
CACHE_ENV = "BT_HYBRID_CACHE"


@dataclass(frozen=True, eq=False)
class PriceLoad:
    """The bars served for one symbol and where they came from (recorded in run.json)."""

    symbol: str
    frame: pd.DataFrame
    source: str
    first: date
    last: date
    fetched_at: datetime | None
    fully_covered: bool
    notes: tuple[str, ...]
    #: One-day close moves past the validator's threshold in the served bars, present only when the caller
    #: accepted them (``load_prices(accept_jumps=True)``); also described in ``notes``.
    jumps: tuple[PriceJump, ...] = ()


@dataclass(frozen=True)
class _Request:
    symbol: str
    start: date | None
    end: date | None
    warmup_bars: int
    accept_jumps: bool = False

    @property
    def end_or_today(self) -> date:
        return self.end or datetime.now(timezone.utc).date()


@dataclass(frozen=True, eq=False)
class _Candidate:
    source: str
    full: pd.DataFrame
    fetched_at: datetime | None
    origin: str


def default_cache_dir() -> Path:
    """``$BT_HYBRID_CACHE/prices`` when the variable is set, else ``~/.cache/bt-hybrid/prices``."""
    root = os.environ.get(CACHE_ENV)
    return (Path(root).expanduser() if root else Path.home() / ".cache" / "bt-hybrid") / "prices"


def load_prices(
    symbol: str,
    *,
    start: date | None = None,
    end: date | None = None,
    source: str = "auto",
    csv_path: Path | None = None,
    cache_dir: Path | None = None,
    session: Any = None,
    offline: bool = False,
    warmup_bars: int = 0,
    accept_jumps: bool = False,
) -> PriceLoad:
    """Validated bars of ``symbol`` in [start, end] plus ``warmup_bars`` bars before ``start`` (history
    that models train on); ``PriceLoad.first`` is the first bar actually served, warm-up included.

    ``csv_path`` selects the CSV source (with ``source`` "auto" or "csv"). ``session`` is passed to
    yfinance; ``offline`` skips the network entirely.

    A one-day close move past the validator's threshold in the served bars (usually an unadjusted split) is
    a ``PriceJumpError`` naming the dates, unless ``accept_jumps``: then the moves are served, listed in
    ``PriceLoad.jumps`` and described in ``PriceLoad.notes``. Moves outside the served range do not count.
    """
    req = _check_request(symbol, start, end, source, csv_path, warmup_bars, accept_jumps)
    if csv_path is not None:
        frame = read_price_csv(Path(csv_path), symbol=req.symbol, jumps="skip")
        return _serve(req, _Candidate("csv", frame, None, str(csv_path)), [])
    cache = PriceCache(cache_dir if cache_dir is not None else default_cache_dir())
    if source == "cache":
        return _serve(req, _from_cache(req, cache), [])
    if source == "yfinance":
        if offline:
            raise SourceUnavailableError(f"{req.symbol}: offline mode, Yahoo Finance not asked", where="--data yfinance",
                                         fix="drop --offline, or use --data bundled / cache / csv")
        notes: list[str] = []
        return _serve(req, _from_yahoo(req, cache, None, session, notes), notes)
    if source == "bundled":
        return _serve(req, _from_bundled(req), [])
    return _auto(req, cache, session, offline)


def _auto(req: _Request, cache: PriceCache, session: Any, offline: bool) -> PriceLoad:
    """Cache, then Yahoo Finance, then bundled: the first that covers the range, else the best partial.

    ``tried`` says what each source answered (for the error when nothing serves); ``notes`` keeps only
    what a user should hear about the data that is served: Yahoo failing, the cache not being written.
    """
    tried: list[str] = []
    notes: list[str] = []
    candidates: list[_Candidate] = []
    cached: _Candidate | None = None
    for step in ("cache", "yfinance", "bundled"):
        if step == "yfinance" and offline:
            tried.append("yfinance: skipped (offline)")
            continue
        try:
            if step == "cache":
                found = cached = _from_cache(req, cache)
            elif step == "yfinance":
                found = _from_yahoo(req, cache, cached, session, notes)
            else:
                found = _from_bundled(req)
        except (SourceUnavailableError, DataError) as exc:  # bad data from one source: try the next
            tried.append(f"{step}: {exc}")
            if step == "yfinance":
                notes.append(f"Yahoo Finance not used: {exc.what}")
            continue
        if _slice(req, found.full).empty:
            tried.append(f"{step}: no bars in the range ({_span(found.full)} available)")
            continue
        if not _shortfalls(req, found.full):
            return _serve(req, found, notes)
        candidates.append(found)
        tried.append(f"{step}: covers only {_span(found.full)}")
    if not candidates:
        raise SourceUnavailableError(
            f"{req.symbol}: no prices for {_asked(req)}; tried " + "; ".join(tried),
            where="--data auto",
            fix="check the symbol, go online, or give a CSV with --data csv",
        )
    best = max(candidates, key=lambda c: len(_slice(req, c.full)))  # max keeps the earliest on ties
    return _serve(req, best, notes)


def _from_cache(req: _Request, cache: PriceCache) -> _Candidate:
    hit = cache.get(req.symbol)
    if hit is None:
        raise SourceUnavailableError(f"no usable cache entry for {req.symbol}", where=str(cache.root),
                                     fix="fetch it once online with --data yfinance or auto")
    return _Candidate("cache", hit.frame, hit.fetched_at, f"{hit.source} via {hit.path}")


def _from_yahoo(
    req: _Request, cache: PriceCache, cached: _Candidate | None, session: Any, notes: list[str]
) -> _Candidate:
    """Fetch the asked range (widened for warm-up and to keep what the cache held) and cache it."""
    start = req.start
    if start is not None and req.warmup_bars:
        start -= timedelta(days=math.ceil(req.warmup_bars * 1.5) + 7)  # ~252 bars a year, plus holidays
    end = req.end
    if cached is not None:
        first, last = cached.full.index[0].date(), cached.full.index[-1].date()
        start = None if start is None else min(start, first)
        end = None if end is None else max(end, last)
    frame = fetch_yahoo(req.symbol, start, end, session=session, jumps="skip")
    fetched_at = datetime.now(timezone.utc)
    try:
        cache.put(req.symbol, frame, "yfinance", fetched_at=fetched_at)
    except OSError as exc:
        notes.append(f"could not write the price cache ({exc})")
        logger.warning("%s: could not write the price cache: %s", req.symbol, exc)
    return _Candidate("yfinance", frame, fetched_at, "Yahoo Finance")


def _from_bundled(req: _Request) -> _Candidate:
    found = find_bundled(req.symbol)
    return _Candidate("bundled", load_bundled(req.symbol, jumps="skip"), None, found.origin if found else "bundled")


def _serve(req: _Request, cand: _Candidate, notes: list[str]) -> PriceLoad:
    frame = _slice(req, cand.full)
    if frame.empty:
        raise SourceUnavailableError(
            f"{req.symbol}: no bars for {_asked(req)} from {cand.source} ({_span(cand.full)} available)",
            where=cand.origin,
            fix="choose dates inside the available range",
        )
    jumps = find_jumps(frame)
    if jumps and not req.accept_jumps:
        raise PriceJumpError(req.symbol, cand.origin, jumps)
    shortfalls = _shortfalls(req, cand.full)
    for text in shortfalls:
        logger.warning("%s: %s (served by %s)", req.symbol, text, cand.source)
    notes = [*notes, *shortfalls]
    if jumps:
        accepted = f"accepted {len(jumps)} one-day close move(s) past {JUMP_THRESHOLD:.0%}: {', '.join(map(str, jumps))}"
        logger.warning("%s: %s (served by %s)", req.symbol, accepted, cand.source)
        notes.append(accepted)
    logger.info("%s: %d bars %s..%s from %s (%s)", req.symbol, len(frame), frame.index[0].date(),
                frame.index[-1].date(), cand.source, cand.origin)
    return PriceLoad(
        symbol=req.symbol,
        frame=frame,
        source=cand.source,
        first=frame.index[0].date(),
        last=frame.index[-1].date(),
        fetched_at=cand.fetched_at,
        fully_covered=not shortfalls,
        notes=tuple(notes),
        jumps=jumps,
    )


def _slice(req: _Request, full: pd.DataFrame) -> pd.DataFrame:
    """Bars in [start, end] plus up to ``warmup_bars`` bars before start."""
    index = full.index
    lo = 0 if req.start is None else max(0, int(index.searchsorted(pd.Timestamp(req.start))) - req.warmup_bars)
    hi = len(index) if req.end is None else int(index.searchsorted(pd.Timestamp(req.end + timedelta(days=1))))
    return full.iloc[lo:hi]


def _shortfalls(req: _Request, full: pd.DataFrame) -> list[str]:
    """How the available bars fall short of the request (empty when fully covered)."""
    out = []
    first, last = full.index[0].date(), full.index[-1].date()
    if req.start is not None:
        latest_first = np.busday_offset(np.datetime64(req.start, "D"), 1, roll="forward").item()
        if first > latest_first:
            out.append(f"range not fully covered: data starts {first}, after the requested start {req.start}")
        elif req.warmup_bars:
            before = int(full.index.searchsorted(pd.Timestamp(req.start)))
            if before < req.warmup_bars:
                out.append(f"only {before} of {req.warmup_bars} warm-up bars before {req.start}")
    earliest_last = np.busday_offset(np.datetime64(req.end_or_today, "D"), -1, roll="backward").item()
    if last < earliest_last:
        out.append(f"range not fully covered: data ends {last}, before the requested end "
                   f"{req.end or f'(today, {req.end_or_today})'}")
    return out


def _check_request(
    symbol: str, start: date | None, end: date | None, source: str, csv_path: Path | None, warmup_bars: int,
    accept_jumps: bool,
) -> _Request:
    if source not in SOURCES:
        raise UserInputError(f"unknown price source {source!r}", where="--data", fix=choice_hint(source, SOURCES))
    if not symbol or not symbol.strip():
        raise UserInputError("empty symbol", where="--symbol", fix="give a ticker such as NVDA")
    if start is not None and end is not None and start > end:
        raise UserInputError(f"start {start} is after end {end}", where="--from/--to", fix="swap the dates")
    if warmup_bars < 0:
        raise UserInputError(f"warm-up of {warmup_bars} bars", where="warmup_bars", fix="use 0 or more bars")
    if source == "csv" and csv_path is None:
        raise UserInputError("--data csv needs a file", where="--csv", fix="give the CSV path with --csv")
    if csv_path is not None and source not in ("auto", "csv"):
        raise UserInputError(f"a CSV file was given with --data {source}", where="--csv",
                             fix="use --data csv (or auto) with --csv, or drop --csv")
    return _Request(check_symbol(symbol), _as_date(start), _as_date(end), warmup_bars, accept_jumps)


def _as_date(value: date | None) -> date | None:
    """Accept datetimes too; only the day matters for daily bars."""
    return value.date() if isinstance(value, datetime) else value


def _span(full: pd.DataFrame) -> str:
    return f"{full.index[0].date()}..{full.index[-1].date()}"


def _asked(req: _Request) -> str:
    return f"{req.start or 'the first bar'}..{req.end or 'today'}"
