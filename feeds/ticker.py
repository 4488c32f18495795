"""What a price symbol may look like, checked before it names a cache file or goes into a URL.

A symbol comes from the command line, a config or a file, and ends up as a file name in the price cache
and as part of a request path to Yahoo. Tickers as exchanges and Yahoo spell them ("NVDA", "BRK-B",
"^GSPC", "EURUSD=X", "600519.SS", "ES=F") fit a short pattern; anything with a path separator, "..", a NUL,
a drive prefix, spaces or control characters is refused with one clear error instead.
"""
from __future__ import annotations

import re

from ground.errors import UserInputError

_TICKER = re.compile(r"[A-Za-z0-9^][A-Za-z0-9.^=_&-]{0,31}")


class BadSymbolError(UserInputError):
    """A symbol that cannot be a ticker (and must not become a path or a URL part)."""


def check_symbol(symbol: str, where: str = "--symbol") -> str:
    """``symbol`` stripped and upper-cased when it is a plausible ticker, else BadSymbolError."""
    text = symbol.strip().upper() if isinstance(symbol, str) else ""
    if not _TICKER.fullmatch(text) or ".." in text:
        raise BadSymbolError(
            f"{symbol!r} is not a ticker symbol", where=where,
            fix="use the symbol as Yahoo spells it: letters, digits and . - ^ = _ & (e.g. NVDA, BRK-B, ^GSPC)",
        )
    return text
