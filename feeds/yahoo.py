"""Daily bars from Yahoo Finance through yfinance, with a quick offline check, timeouts and retries.

yfinance reports most failures by logging and returning an empty frame rather than raising, so an empty
answer is treated as a failure here, and its logged reason is kept for the error message. Without
network it can still spend seconds on a hard-coded 10 s timezone lookup, so when no session is supplied
a TCP connection to Yahoo's host (or the configured HTTPS proxy) is tried first with a short timeout.
"""
from __future__ import annotations

import logging
import socket
import threading
import time
import urllib.parse
import urllib.request
from datetime import date, timedelta
from typing import Any

import pandas as pd
import yfinance as yf

from ground.errors import SourceUnavailableError
from feeds.validate import JumpPolicy, validate_prices

logger = logging.getLogger(__name__)

#: Host and port the offline check connects to (the host yfinance's chart requests go to).
YAHOO_PROBE = ("query2.finance.yahoo.com", 443)
PROBE_TIMEOUT_S = 1.5
OFFLINE = "offline: cannot reach Yahoo Finance"
_FIX = "check the network connection, or use --data bundled (demo data) or --data csv"


def probe_yahoo(timeout: float = PROBE_TIMEOUT_S, target: tuple[str, int] | None = None) -> None:
    """Raise SourceUnavailableError within about ``timeout`` seconds when Yahoo cannot be reached.

    Name resolution has no timeout of its own, so the connection is tried in a daemon thread and
    abandoned when it takes too long. Behind an HTTPS proxy the proxy is what must be reachable.
    """
    host, port = target or _probe_target()
    outcome: list[BaseException | None] = []

    def connect() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                outcome.append(None)
        except OSError as exc:
            outcome.append(exc)

    worker = threading.Thread(target=connect, name="yahoo-probe", daemon=True)
    started = time.monotonic()
    worker.start()
    worker.join(timeout + 0.25)
    if not outcome or outcome[0] is not None:
        reason = outcome[0] if outcome else f"no answer within {timeout:g} s"
        logger.info("Yahoo probe of %s:%d failed after %.2f s: %s", host, port, time.monotonic() - started, reason)
        raise SourceUnavailableError(f"{OFFLINE} ({reason})", where=f"{host}:{port}", fix=_FIX)


def fetch_yahoo(
    symbol: str,
    start: date | None,
    end: date | None,
    *,
    session: Any = None,
    timeout: float = 10,
    retries: int = 2,
    backoff: float = 0.5,
    jumps: JumpPolicy = "refuse",
) -> pd.DataFrame:
    """Validated, split- and dividend-adjusted daily bars of ``symbol`` for [start, end] (both inclusive).

    ``start=None`` asks for the whole history. ``session`` (a requests or curl_cffi Session) is handed to
    yfinance as is and skips the offline check, which is how tests point yfinance at a local server.
    A failed or empty answer is retried ``retries`` times, waiting ``backoff`` seconds, doubled each time.
    Note that yfinance looks up the symbol's timezone with its own fixed 10 s timeout.
    """
    if session is None:
        probe_yahoo(min(timeout, PROBE_TIMEOUT_S))
    stop = None if end is None else end + timedelta(days=1)  # yfinance's end is exclusive
    reason = "no answer"
    for attempt in range(retries + 1):
        if attempt:
            _forget_responses()
            time.sleep(backoff * 2 ** (attempt - 1))
        raw, reason = _history(symbol, start, stop, session, timeout)
        if raw is not None and not raw.empty:
            frame = raw.rename(columns=str.lower)[["open", "high", "low", "close", "volume"]]
            return validate_prices(frame, symbol=symbol, origin="yfinance", jumps=jumps)
        logger.warning("%s: Yahoo Finance attempt %d of %d failed: %s", symbol, attempt + 1, retries + 1, reason)
    span = f"{start or 'first trade'} to {end or 'today'}"
    raise SourceUnavailableError(
        f"{symbol}: Yahoo Finance returned no prices for {span} after {retries + 1} attempts ({reason})",
        where="yfinance",
        fix="check the symbol as Yahoo spells it (e.g. ^GSPC, BRK-B) and the dates, or use --data bundled",
    )


def _history(
    symbol: str, start: date | None, stop: date | None, session: Any, timeout: float
) -> tuple[pd.DataFrame | None, str]:
    """One yfinance request: the frame (None on an exception) and the reason yfinance gave for a failure."""
    errors = _ErrorRecords()
    yf_logger = logging.getLogger("yfinance")
    yf_logger.addHandler(errors)
    try:
        ticker = yf.Ticker(symbol, session=session)
        if start is None:
            raw = ticker.history(period="max", end=stop, interval="1d", auto_adjust=True, timeout=timeout)
        else:
            raw = ticker.history(start=start, end=stop, interval="1d", auto_adjust=True, timeout=timeout)
    except Exception as exc:  # yfinance raises many unrelated types (curl, JSON, its own); all mean "no data"
        return None, f"{type(exc).__name__}: {exc}"
    finally:
        yf_logger.removeHandler(errors)
    return raw, "; ".join(errors.messages) or "empty answer"


def _forget_responses() -> None:
    """Drop yfinance's in-process response cache, so that a retry asks Yahoo again instead of being
    served the failed answer (it caches whole responses for past date ranges, errors included)."""
    cache_get = getattr(getattr(yf, "data", None), "YfData", None)
    cache_get = getattr(cache_get, "cache_get", None)
    if cache_get is not None and hasattr(cache_get, "cache_clear"):
        cache_get.cache_clear()


def _probe_target() -> tuple[str, int]:
    """Yahoo's host, or the HTTPS proxy's host and port when one is configured."""
    proxy = urllib.request.getproxies().get("https")
    if proxy:
        parts = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        if parts.hostname:
            return parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
    return YAHOO_PROBE


class _ErrorRecords(logging.Handler):
    """Collects the error messages yfinance logs during one request."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())
