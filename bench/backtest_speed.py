"""Backtest speed: our runner's whole run against plain backtrader with the analyzers a user would add.

Times buy-and-hold and SMA crossover on 5,000 and 50,000 synthetic daily bars (a geometric random walk), in the same
process, median of several repeats. Ours includes CSV reading, validation, the run, metrics and the report folder
(HTML with charts); plain backtrader includes building the feed from the same frame, the run and its standard
analyzers (TimeReturn, DrawDown, SharpeRatio, TradeAnalyzer, Transactions, Returns).

    python bench/backtest_speed.py [--repeats 3] [--bars 5000 50000] [--no-append]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import backtrader as bt
import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from backtests.presets.config import load_config  # noqa: E402
from backtests.run.runner import execute  # noqa: E402
from bench.common import markdown_table, report  # noqa: E402
from strategies.baselines import BuyHold, SmaCross  # noqa: E402


def synthetic_prices(bars: int, seed: int = 1) -> pd.DataFrame:
    """A daily OHLCV random walk with consistent OHLC, on business days."""
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0.0003, 0.012, bars)))
    open_ = np.concatenate([[close[0]], close[:-1]]) * np.exp(rng.normal(0, 0.002, bars))
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.01, bars))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.01, bars))
    index = pd.bdate_range("1900-01-01", periods=bars, name="date")
    return pd.DataFrame(
        {"open": open_, "high": high, "low": low, "close": close, "volume": rng.integers(1e5, 1e6, bars).astype(float)},
        index=index,
    )


def plain_backtrader(frame: pd.DataFrame, strategy: str) -> float:
    """Seconds for plain backtrader: feed, strategy, standard analyzers, run."""
    t0 = time.perf_counter()
    cerebro = bt.Cerebro()
    cerebro.broker.setcash(100_000)
    cerebro.broker.setcommission(commission=0.0005)
    cerebro.adddata(bt.feeds.PandasData(dataname=frame, openinterest=None))
    if strategy == "sma":
        cerebro.addstrategy(SmaCross, fast=20, slow=100)
    else:
        cerebro.addstrategy(BuyHold)
    for analyzer in (bt.analyzers.TimeReturn, bt.analyzers.DrawDown, bt.analyzers.SharpeRatio,
                     bt.analyzers.TradeAnalyzer, bt.analyzers.Transactions, bt.analyzers.Returns):
        cerebro.addanalyzer(analyzer)
    cerebro.run()
    return time.perf_counter() - t0


def ours(csv_path: Path, strategy: str, reports: Path) -> float:
    """Seconds for our runner's whole run: CSV read + validation, Cerebro, metrics, run folder with report.html."""
    t0 = time.perf_counter()
    cfg = load_config("default", {
        "run.strategy": strategy, "run.symbols": ["SYN"], "run.data": "csv", "run.csv": [str(csv_path)],
        "run.reports_dir": str(reports), "report.baselines": [],
    })
    execute(cfg)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--bars", type=int, nargs="+", default=[5_000, 50_000])
    parser.add_argument("--no-append", action="store_true", help="print only; do not append to docs/benchmarks.md")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for bars in args.bars:
            frame = synthetic_prices(bars)
            csv_path = Path(tmp) / f"syn{bars}.csv"
            frame.to_csv(csv_path)
            for strategy in ("buyhold", "sma"):
                plain = statistics.median(plain_backtrader(frame, strategy) for _ in range(args.repeats))
                mine = statistics.median(ours(csv_path, strategy, Path(tmp) / "reports") for _ in range(args.repeats))
                rows.append([f"{bars:,}", strategy, f"{plain:.2f}", f"{bars / plain:,.0f}", f"{mine:.2f}",
                             f"{bars / mine:,.0f}", f"{mine / plain:.2f}x"])
    headers = ["bars", "strategy", "plain bt s", "plain bars/s", "ours s", "ours bars/s", "ours / plain"]
    body = markdown_table(headers, rows) + (
        f"\n\nMedian of {args.repeats} runs each, same process. Target: ours within 1.5x of plain backtrader on "
        "50,000 bars (whole run: CSV read and validation, analyzers, metrics, report folder with charts)."
    )
    report("Backtest speed: our runner against plain backtrader", body, append=not args.no_append)


if __name__ == "__main__":
    main()
