from __future__ import annotations

import pytest

from feeds.news.symbols import SymbolMatcher

MATCHER = SymbolMatcher(
    {"NVDA": ["Nvidia", "NVIDIA", "英伟达"], "AAPL": ["Apple", "苹果公司"], "F": ["Ford Motor"],
     "600519.SS": ["贵州茅台", "600519"]},
    extra_symbols=["AMD"],
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$NVDA rallies", ("NVDA",)),
        ("$nvda rallies", ("NVDA",)),
        ("NVDA, AMD slip", ("AMD", "NVDA")),
        ("AMD's new chip", ("AMD",)),
        ("NVDAX fund and ANVDA", ()),  # word boundaries
        ("nvda in lower case is not a ticker", ()),
        ("英伟达股价大涨", ("NVDA",)),
        ("Apple and 苹果公司", ("AAPL",)),
        ("Pineapple prices", ()),
        ("F shares", ()),  # one-letter tickers only as cashtags
        ("$F rises; Ford Motor recall", ("F",)),
        ("贵州茅台(600519)公告", ("600519.SS",)),
        ("CEO says AI demand is strong", ()),  # unlisted all-caps words are not tickers
    ],
)
def test_match(text: str, expected: tuple[str, ...]) -> None:
    assert MATCHER.match(text) == expected
