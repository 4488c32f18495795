"""Daily bars from Yahoo Finance through yfinance, with a quick offline check, timeouts and retries.

yfinance reports most failures by logging and returning an empty frame rather than raising, so an empty
answer is treated as a failure here, and its logged reason is kept for the error message. Without
network it can still spend seconds on a hard-coded 10 s timezone lookup, so when no session is supplied
a TCP connection to Yahoo's host is tried first with a short timeout; behind an HTTPS proxy the probe asks
the proxy for a tunnel to Yahoo (HTTP CONNECT), so a proxy that accepts connections and never answers is
found in PROBE_TIMEOUT_S instead of after minutes of yfinance's own waits.

Time bound: the whole fetch (every attempt, the waits between them) ends within ``deadline_s`` (default
DEADLINE_S = 45 s). yfinance cannot be interrupted, so each attempt runs in a worker thread that is left to
finish on its own timeouts when the deadline passes. Network failures say so; only an answer from Yahoo
without prices suggests checking the symbol.
"""
from __future__ import annotations

import logging
import socket
import threading
import time
import urllib.parse
import urllib.request
from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd
import yfinance as yf

from feeds.validate import JumpPolicy, validate_prices
from ground.errors import SourceUnavailableError

logger = logging.getLogger(__name__)

#: Host and port the offline check connects to (the host yfinance's chart requests go to).
YAHOO_PROBE = ("query2.finance.yahoo.com", 443)
PROBE_TIMEOUT_S = 1.5
#: Wall-clock bound of one fetch_yahoo call with default settings (seconds).
DEADLINE_S = 45.0
OFFLINE = "offline: cannot reach Yahoo Finance"
_FIX = "check the network connection, or use --data bundled (demo data) or --data csv"
_NET_FIX = "check the network connection and any HTTPS_PROXY setting, or use --data bundled or --data csv"
_NETWORK_WORDS = ("timed out", "timeout", "curl", "connect", "proxy", "resolve", "dns", "ssl", "reset",
                  "network", "unreachable", "refused")


def probe_yahoo(timeout: float = PROBE_TIMEOUT_S, target: tuple[str, int] | None = None) -> None:
    """Raise SourceUnavailableError within about ``timeout`` seconds when Yahoo cannot be reached.

    Name resolution has no timeout of its own, so the connection is tried in a daemon thread and
    abandoned when it takes too long. Behind an HTTPS proxy the proxy is what must be reachable.
    """
    proxied = target is None and _proxy() is not None
    host, port = target or _probe_target()
    outcome: list[BaseException | None] = []

    def connect() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout) as sock:
                if proxied:
                    _tunnel(sock)
                outcome.append(None)
        except OSError as exc:
            outcome.append(exc)

    worker = threading.Thread(target=connect, name="yahoo-probe", daemon=True)
    started = time.monotonic()
    worker.start()
    worker.join(timeout + 0.25)
    if not outcome or outcome[0] is not None:
        reason = outcome[0] if outcome else f"no answer within {timeout:g} s"
        if isinstance(reason, (TimeoutError, socket.timeout)) or not outcome:
            reason = f"no answer within {timeout:g} s"
        via = f" through the HTTPS proxy {host}:{port}" if proxied else ""
        logger.info("Yahoo probe of %s:%d failed after %.2f s: %s", host, port, time.monotonic() - started, reason)
        raise SourceUnavailableError(f"{OFFLINE}{via} ({reason})", where=f"{host}:{port}",
                                     fix=_NET_FIX if proxied else _FIX)


def _tunnel(sock: socket.socket) -> None:
    """Ask the proxy on ``sock`` for a tunnel to Yahoo; OSError unless it answers 2xx in time."""
    host, port = YAHOO_PROBE
    sock.sendall(f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode("ascii"))
    answer = b""
    while b"\r\n" not in answer and len(answer) < 4096:
        chunk = sock.recv(1024)  # the socket's timeout bounds each wait
        if not chunk:
            break
        answer += chunk
    status = answer.split(b"\r\n", 1)[0].decode("latin-1").strip()
    parts = status.split()
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].startswith("2"):
        raise OSError(f"the proxy answered {status!r} to a tunnel request" if status
                      else "the proxy closed the connection without an answer")


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
    deadline_s: float = DEADLINE_S,
) -> pd.DataFrame:
    """Validated, split- and dividend-adjusted daily bars of ``symbol`` for [start, end] (both inclusive).

    ``start=None`` asks for the whole history. ``session`` (a requests or curl_cffi Session) is handed to
    yfinance as is and skips the offline check, which is how tests point yfinance at a local server.
    A failed or empty answer is retried ``retries`` times, waiting ``backoff`` seconds, doubled each time.
    Note that yfinance looks up the symbol's timezone with its own fixed 10 s timeout. The whole call ends
    within ``deadline_s`` seconds (see the module docstring).
    """
    started = time.monotonic()
    if session is None:
        probe_yahoo(min(timeout, PROBE_TIMEOUT_S))
    stop = None if end is None else end + timedelta(days=1)  # yfinance's end is exclusive
    span = f"{start or 'first trade'} to {end or 'today'}"
    reason = "no answer"
    attempts = 0
    for attempt in range(retries + 1):
        if attempt:
            forget_responses()
            wait = backoff * 2 ** (attempt - 1)
            if time.monotonic() - started + wait >= deadline_s:
                break
            time.sleep(wait)
        left = deadline_s - (time.monotonic() - started)
        attempts += 1
        answer = _history_within(symbol, start, stop, session, timeout, left)
        if answer is None:
            raise SourceUnavailableError(
                f"{symbol}: network problem: Yahoo Finance gave no complete answer within the {deadline_s:g} s "
                f"deadline ({attempts} attempt(s); last reason: {reason})",
                where="yfinance", fix=_NET_FIX)
        raw, reason = answer
        if raw is not None and not raw.empty:
            frame = raw.rename(columns=str.lower)[["open", "high", "low", "close", "volume"]]
            return validate_prices(frame, symbol=symbol, origin="yfinance", jumps=jumps)
        logger.warning("%s: Yahoo Finance attempt %d of %d failed: %s", symbol, attempt + 1, retries + 1, reason)
    if any(word in reason.lower() for word in _NETWORK_WORDS):
        raise SourceUnavailableError(
            f"{symbol}: network problem: no prices from Yahoo Finance for {span} after {attempts} attempts ({reason})",
            where="yfinance", fix=_NET_FIX)
    raise SourceUnavailableError(
        f"{symbol}: Yahoo Finance returned no prices for {span} after {attempts} attempts ({reason})",
        where="yfinance",
        fix="check the symbol as Yahoo spells it (e.g. ^GSPC, BRK-B) and the dates, or use --data bundled",
    )


def _history_within(
    symbol: str, start: date | None, stop: date | None, session: Any, timeout: float, seconds: float
) -> tuple[pd.DataFrame | None, str] | None:
    """`yahoo_history` in a worker thread, or None when it has not finished within ``seconds``.

    The worker cannot be stopped; it is a daemon left to end on yfinance's own timeouts.
    """
    result: list[tuple[pd.DataFrame | None, str]] = []
    worker = threading.Thread(target=lambda: result.append(yahoo_history(symbol, start, stop, session, timeout)),
                              name=f"yfinance-{symbol}", daemon=True)
    worker.start()
    worker.join(max(0.0, seconds))
    return result[0] if result else None


def yahoo_history(
    symbol: str, start: date | datetime | None, stop: date | datetime | None, session: Any, timeout: float,
    interval: str = "1d",
) -> tuple[pd.DataFrame | None, str]:
    """One yfinance request for [start, stop) at ``interval``: the adjusted frame as yfinance gives it (None on an
    exception) and the reason yfinance gave for a failure. Datetimes must be timezone-aware."""
    errors = _ErrorRecords()
    yf_logger = logging.getLogger("yfinance")
    yf_logger.addHandler(errors)
    try:
        ticker = yf.Ticker(symbol, session=session)
        if start is None:
            raw = ticker.history(period="max", end=stop, interval=interval, auto_adjust=True, timeout=timeout)
        else:
            raw = ticker.history(start=start, end=stop, interval=interval, auto_adjust=True, timeout=timeout)
    except Exception as exc:  # yfinance raises many unrelated types (curl, JSON, its own); all mean "no data"
        return None, f"{type(exc).__name__}: {exc}"
    finally:
        yf_logger.removeHandler(errors)
    return raw, "; ".join(errors.messages) or "empty answer"


def forget_responses() -> None:
    """Drop yfinance's in-process response cache, so that a retry asks Yahoo again instead of being
    served the failed answer (it caches whole responses for past date ranges, errors included)."""
    cache_get = getattr(getattr(yf, "data", None), "YfData", None)
    cache_get = getattr(cache_get, "cache_get", None)
    if cache_get is not None and hasattr(cache_get, "cache_clear"):
        cache_get.cache_clear()


def _proxy() -> tuple[str, int] | None:
    """The configured HTTPS proxy's host and port, if any."""
    proxy = urllib.request.getproxies().get("https")
    if proxy:
        parts = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        if parts.hostname:
            return parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
    return None


def _probe_target() -> tuple[str, int]:
    """Yahoo's host, or the HTTPS proxy's host and port when one is configured."""
    return _proxy() or YAHOO_PROBE


class _ErrorRecords(logging.Handler):
    """Collects the error messages yfinance logs during one request."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())
