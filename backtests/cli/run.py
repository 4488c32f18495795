"""``bt-run``: one backtest from a preset plus flags, with a summary on stdout and the run folder on disk.

Only click is imported at module level: ``bt-run --help`` must answer in well under a second, and a baseline run
must never import torch (the ML signal producer is imported only for ML strategies).
"""
from __future__ import annotations

from typing import Any

import click

from backtests.cli.common import command, examples, setup_logging
from backtests.cli.progress import LogProgress

# The registry (strategies.registry.STRATEGIES) is the source of truth; a test keeps this help list equal to it,
# since importing the registry here would import backtrader for every --help.
STRATEGY_NAMES = ("buyhold", "sma", "exposure", "hybrid", "gm", "sentiment")
DEVICE_NAMES = ("auto", "cpu", "cuda", "mps")
DATA_NAMES = ("auto", "cache", "yfinance", "bundled", "csv")


@command(epilog=examples(
    "bt-run                                        # buy-and-hold of NVDA with the default preset",
    "bt-run --strategy sma --from 2020 --to 2023   # SMA crossover against buy-and-hold",
    "bt-run --strategy hybrid --from 2022 --symbol NVDA --device cpu",
    "bt-run --strategy sma --set sma.fast=10 --set sma.slow=50 --offline",
    "bt-run --symbol ACME --csv prices/acme.csv    # your own OHLCV file",
))
@click.option("--strategy", metavar="NAME",
              help=f"Strategy to run: {', '.join(STRATEGY_NAMES)}.  [default: from the config, buyhold]")
@click.option("--from", "start", metavar="DATE", help="First trading date: YYYY, YYYY-MM or YYYY-MM-DD.  "
              "[default: from the config]")
@click.option("--to", "end", metavar="DATE", help="Last trading date.  [default: the end of the data]")
@click.option("--symbol", multiple=True, help="Symbol to trade; repeat for several.  [default: NVDA]")
@click.option("--config", "config", default="default",
              help="Preset name in backtests/presets (default, adr, ...) or a path to a TOML file.")
@click.option("--data", metavar="SOURCE", help=f"Price source: {', '.join(DATA_NAMES)} (auto: cache, then Yahoo "
              "Finance, then bundled).  [default: auto]")
@click.option("--csv", multiple=True, type=click.Path(), help="CSV file per --symbol (implies --data csv).")
@click.option("--offline", is_flag=True, default=None, help="Never try the network (auto then means cache, then bundled).")
@click.option("--accept-jumps", is_flag=True, default=None,
              help="Serve one-day close moves past 50% (e.g. an unadjusted split) instead of refusing the data; "
                   "each accepted move is listed in run.json and the report.")
@click.option("--cash", type=float, help="Starting cash.  [default: 100000]")
@click.option("--commission-bps", type=float, help="Commission in basis points of traded value.  [default: 5]")
@click.option("--slippage-bps", type=float, help="Slippage in basis points against each fill.  [default: 5]")
@click.option("--device", metavar="DEVICE", help=f"Training device for ML strategies: {', '.join(DEVICE_NAMES)}.  "
              "[default: auto]")
@click.option("--seed", type=int, help="Random seed for model training.  [default: 7]")
@click.option("--reports-dir", help="Folder that receives the run folder.  [default: reports]")
@click.option("--models-dir", help="Model store folder.  [default: models_saved]")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override any config key, e.g. --set sma.fast=10 --set buyhold.invest_fraction=0.9.")
@click.option("-v", "--verbose", is_flag=True, help="More progress detail on stderr (epochs, retries).")
def main(config: str, verbose: bool, **flags: Any) -> None:
    """Run a backtest and write reports/<run-id>/ (report.html, metrics.json, trades.csv, equity.csv, ...).

    The run folder appears only when complete; Ctrl-C leaves nothing behind.
    """
    setup_logging(verbose)
    from backtests.cli.options import overrides_from_flags, parse_date
    from backtests.presets.config import load_config

    if flags.get("start"):
        flags["start"] = parse_date(flags["start"], "--from")
    if flags.get("end"):
        flags["end"] = parse_date(flags["end"], "--to", end=True)
    if flags.get("csv"):
        flags["data"] = "csv"
    cfg = load_config(config, *overrides_from_flags(**flags))
    from backtests.report.writer import SUMMARY_KEYS, metrics_text
    from backtests.run.runner import execute
    from backtests.signals import producer_for

    producer = producer_for(cfg.run.strategy)  # ML strategies only: baseline runs never import torch
    # The producer gives the walk-forward runner no progress callback: its fold lines drive the display instead.
    with LogProgress("ml.gm.runner", "walk-forward", unit="fold", restart=r"^walk-forward schedule",
                     phase_logger="backtests.signals.producer",
                     phases={r"walk-forward GM training": "walk-forward", r"leakage audit": "leakage audit (re-run)"}):
        result = execute(cfg, signal_producer=producer)
    for line in result.metrics.get("headline", []):  # verdicts and caveats first, as at the top of the report
        click.echo(line)
    click.echo(metrics_text(result.metrics, SUMMARY_KEYS))
    click.echo(f"\nreport: {result.path / 'report.html'}")
