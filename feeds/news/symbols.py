"""Which tickers a news text is about: cashtags, bare tickers and company names (English and Chinese).

Only symbols the configuration knows are matched, so an all-caps word ("CEO", "AI") is never taken for a ticker
unless someone listed it. Latin names and bare tickers match case-sensitively on word boundaries (list each
spelling: "Nvidia", "NVIDIA"); Chinese names match as substrings since Chinese has no spaces between words.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from ground.lang import HAN

_EDGE_BEFORE = r"(?<![A-Za-z0-9_])"
_EDGE_AFTER = r"(?![A-Za-z0-9_])"
# Single-letter tickers (F, T, C) are ordinary words and initials: they match only as cashtags ($F).
_MIN_BARE_TICKER = 2


class SymbolMatcher:
    """Maps text to the set of configured symbols it mentions."""

    def __init__(self, names: Mapping[str, Iterable[str]], extra_symbols: Iterable[str] = ()) -> None:
        self._patterns: list[tuple[str, re.Pattern[str]]] = []
        self._substrings: list[tuple[str, str]] = []
        symbols = {s.upper(): list(ns) for s, ns in names.items()}
        for s in extra_symbols:
            symbols.setdefault(s.upper(), [])
        for symbol, aliases in sorted(symbols.items()):
            cashtag = re.compile(_EDGE_BEFORE + r"\$" + re.escape(symbol) + _EDGE_AFTER, re.IGNORECASE)
            self._patterns.append((symbol, cashtag))
            latin = [a for a in aliases if a.strip() and not HAN.search(a)]
            if len(symbol) >= _MIN_BARE_TICKER:
                latin.append(symbol)
            if latin:
                alternatives = sorted({re.escape(a.strip()) for a in latin}, key=len, reverse=True)
                self._patterns.append(
                    (symbol, re.compile(_EDGE_BEFORE + "(?:" + "|".join(alternatives) + ")" + _EDGE_AFTER))
                )
            self._substrings.extend((symbol, a.strip()) for a in aliases if HAN.search(a))

    def match(self, text: str) -> tuple[str, ...]:
        """Sorted symbols mentioned in `text`."""
        found = {symbol for symbol, pattern in self._patterns if pattern.search(text)}
        found.update(symbol for symbol, name in self._substrings if name in text)
        return tuple(sorted(found))
