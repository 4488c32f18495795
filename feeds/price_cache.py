"""Local cache of downloaded bars: one Parquet file per symbol, with the source and the UTC fetch time.

The metadata lives in the Parquet schema, so bars and provenance cannot drift apart. A write replaces the
whole file (temp file + rename, so a crash never leaves half a file): adjusted prices are rescaled by
every new dividend or split, so bars fetched at different times must not be mixed. A file that cannot be
read, or that no longer passes the validator, is reported and treated as absent.
"""
from __future__ import annotations

import json
import logging
import os
import tempfile
import urllib.parse
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from feeds.ticker import check_symbol
from feeds.validate import validate_prices
from ground.errors import DataError

logger = logging.getLogger(__name__)

_META_KEY = b"bt_hybrid.prices"
SCHEMA_VERSION = 1


@dataclass(frozen=True, eq=False)
class CachedPrices:
    """Bars read back from the cache, with where and when they were fetched."""

    symbol: str
    frame: pd.DataFrame
    source: str
    fetched_at: datetime
    path: Path


class PriceCache:
    """Parquet files under ``root``, one per symbol (the file name is the URL-quoted symbol)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path_for(self, symbol: str) -> Path:
        """Where ``symbol`` is stored; quoting keeps ``^GSPC`` or ``EURUSD=X`` safe as a file name.

        A symbol that is not a ticker (a path separator, "..", NUL, a drive prefix) is refused first
        (BadSymbolError), so user text never reaches the file system as a path.
        """
        name = urllib.parse.quote(check_symbol(symbol, where="price cache"), safe="-._")
        return self.root / f"{name}.parquet"

    def get(self, symbol: str) -> CachedPrices | None:
        """The cached bars of ``symbol``, or None when there are none or the file is unusable."""
        path = self.path_for(symbol)
        if not path.is_file():
            return None
        try:
            table = pq.read_table(path)
            meta = json.loads((table.schema.metadata or {})[_META_KEY])
            if meta["schema"] != SCHEMA_VERSION or meta["symbol"] != symbol.upper():
                raise ValueError(f"holds {meta['symbol']!r} in schema {meta['schema']}")
            fetched_at = datetime.fromisoformat(meta["fetched_at"])
            frame = validate_prices(table.to_pandas(), symbol=symbol, origin=str(path), jumps="skip")
        except (OSError, ValueError, KeyError, TypeError, pa.ArrowException, DataError) as exc:
            logger.warning("ignoring unreadable price cache file %s (%s: %s)", path, type(exc).__name__, exc)
            return None
        return CachedPrices(symbol=symbol.upper(), frame=frame, source=meta["source"], fetched_at=fetched_at, path=path)

    def put(
        self, symbol: str, frame: pd.DataFrame, source: str, *, fetched_at: datetime | None = None
    ) -> CachedPrices:
        """Store ``frame`` as the bars of ``symbol``, replacing what was there. Raises OSError when the
        folder cannot be written; the caller decides whether a cache miss matters."""
        path = self.path_for(symbol)
        fetched_at = (fetched_at or datetime.now(timezone.utc)).astimezone(timezone.utc)
        frame = validate_prices(frame, symbol=symbol, origin=f"price cache write {path}", jumps="skip")
        meta = {"schema": SCHEMA_VERSION, "symbol": symbol.upper(), "source": source,
                "fetched_at": fetched_at.isoformat()}
        table = pa.Table.from_pandas(frame, preserve_index=True)
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), _META_KEY: json.dumps(meta).encode()})
        self.root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=f".{path.stem}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                pq.write_table(table, fh)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        logger.info("cached %d bars of %s from %s in %s", len(frame), symbol, source, path)
        return CachedPrices(symbol=symbol.upper(), frame=frame, source=source, fetched_at=fetched_at, path=path)
