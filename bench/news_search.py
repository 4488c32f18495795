"""Semantic search latency over a large news archive: top-k by exact cosine (numpy) over stored vectors.

Builds a real archive file (``NewsArchive`` + ``VectorStore``) with N items spread over 12 symbols and 5 years,
whose vectors are SYNTHETIC: random unit vectors of the e5 width (384), since embedding 100,000 headlines would
take about 20 minutes here and the search cost does not depend on what the vectors mean. Measures, median of
repeated runs: reading the vectors out of SQLite into an index (what each `bt-news search` call pays), one top-k
query on the loaded index, the same with a symbol filter (a twelfth of the items), and encoding the query text
with the real e5 encoder.

    python bench/news_search.py                  # 100,000 items, k=10
    python bench/news_search.py --items 20000 --no-append
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
from common import markdown_table, report  # bench/ is on sys.path when a script here runs

from feeds.news.archive import NewsArchive
from feeds.news.items import NewsItem
from feeds.news.vectors import VectorStore
from ml.sentiment.embeddings import VectorIndex, embedding_encoder, to_bytes

SYMBOLS = ("NVDA", "AAPL", "MSFT", "TSLA", "AMZN", "GOOGL", "META", "AMD", "TSM", "BABA", "0700.HK", "600519.SS")
DIM = 384
ENCODER_ID = "bench:synthetic-384"


def build(path: Path, n: int, seed: int = 0) -> None:
    """An archive of ``n`` items with synthetic unit vectors under ENCODER_ID."""
    rng = np.random.default_rng(seed)
    start = datetime(2020, 1, 1, tzinfo=timezone.utc)
    minutes = rng.integers(0, 5 * 365 * 24 * 60, size=n)
    items = [NewsItem(id=f"item{i:07d}", published=start + timedelta(minutes=int(m)), title=f"headline {i}",
                      summary="", source="bench", link="", lang="en" if i % 3 else "zh",
                      symbols=(SYMBOLS[i % len(SYMBOLS)],), fetched_at=start + timedelta(minutes=int(m)))
             for i, m in enumerate(minutes)]
    with NewsArchive(path) as archive:
        archive.add(items)
    vectors = rng.standard_normal((n, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    with VectorStore(path) as store:
        store.put(ENCODER_ID, DIM, [(it.id, 1, to_bytes(v)) for it, v in zip(items, vectors, strict=True)])


def median_ms(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1000 * statistics.median(times)


def load_index(path: Path, symbol: str | None = None) -> VectorIndex:
    """What `bt-news search` does before its query: read the matching vectors and build the index."""
    with VectorStore(path) as store:
        stored = store.vectors(ENCODER_ID, symbol=symbol)
    return VectorIndex.from_blobs(stored.blobs, stored.dim)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=100_000, help="archive size (default %(default)s)")
    parser.add_argument("-k", type=int, default=10, help="results per query (default %(default)s)")
    parser.add_argument("--repeats", type=int, default=20, help="query repetitions (default %(default)s)")
    parser.add_argument("--no-append", action="store_true", help="do not append to docs/benchmarks.md")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(1)
    queries = rng.standard_normal((args.repeats, DIM)).astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "news.sqlite"
        t = time.perf_counter()
        build(path, args.items)
        build_s = time.perf_counter() - t
        size_mb = path.stat().st_size / 2**20
        load_ms = median_ms(lambda: load_index(path), 3)
        index = load_index(path)
        it = iter(queries)
        query_ms = median_ms(lambda: index.search(next(it), args.k), args.repeats)
        load_sym_ms = median_ms(lambda: load_index(path, "NVDA"), 3)
        small = load_index(path, "NVDA")
        it = iter(queries)
        query_sym_ms = median_ms(lambda: small.search(next(it), args.k), args.repeats)
    encoder = embedding_encoder("e5")
    encoder.encode(["warm up"])
    encode_ms = median_ms(lambda: encoder.encode(["Nvidia raises full-year revenue guidance"]), 5)
    rows = [
        ["all items", len(index), load_ms, query_ms],
        ["--symbol NVDA", len(small), load_sym_ms, query_sym_ms],
    ]
    body = (
        f"{args.items:,} archived items with SYNTHETIC random unit vectors ({DIM} floats, the e5 width), k={args.k}; "
        f"exact cosine with numpy. Archive built in {build_s:.1f} s, {size_mb:.0f} MiB on disk. Medians of "
        f"{args.repeats} queries (3 loads).\n\n"
        + markdown_table(["search over", "vectors", "load from SQLite (ms)", f"top-{args.k} query (ms)"], rows)
        + f"\n\nEncoding the query text with e5: {encode_ms:.0f} ms. A `bt-news search` call pays load + encode + "
        f"query (plus starting Python and loading the model).\n"
    )
    report("News semantic search latency", body, append=not args.no_append)
    return 0


if __name__ == "__main__":
    sys.exit(main())
