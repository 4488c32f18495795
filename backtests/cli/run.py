"""``bt-run``: one backtest from a preset plus flags, with a summary on stdout and the run folder on disk."""
from __future__ import annotations

from typing import Any

import click

from backtests.cli.common import setup_logging, user_errors
from backtests.cli.options import overrides_from_flags, parse_date
from backtests.presets.config import load_config
from backtests.report.writer import SUMMARY_KEYS, metrics_text
from backtests.run.runner import execute
from backtests.signals import producer_for
from strategies.registry import STRATEGIES


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--strategy", help=f"Strategy to run: {', '.join(STRATEGIES)} (default from the config: buyhold).")
@click.option("--from", "start", metavar="DATE", help="First trading date: YYYY, YYYY-MM or YYYY-MM-DD.")
@click.option("--to", "end", metavar="DATE", help="Last trading date (default: the end of the data).")
@click.option("--symbol", multiple=True, help="Symbol to trade; repeat for several (default NVDA).")
@click.option("--config", "config", default="default", show_default=True,
              help="Preset name in backtests/ (default, adr, ...) or a path to a TOML file.")
@click.option("--data", help="Price source: auto (cache, then Yahoo Finance, then bundled), cache, yfinance, bundled, csv.")
@click.option("--csv", multiple=True, type=click.Path(), help="CSV file per --symbol (implies --data csv).")
@click.option("--offline", is_flag=True, default=None, help="Never try the network (auto then means cache, then bundled).")
@click.option("--accept-jumps", is_flag=True, default=None,
              help="Serve one-day close moves past 50% (e.g. an unadjusted split) instead of refusing the data; "
                   "each accepted move is listed in run.json and the report.")
@click.option("--cash", type=float, help="Starting cash.")
@click.option("--commission-bps", type=float, help="Commission in basis points of traded value.")
@click.option("--slippage-bps", type=float, help="Slippage in basis points against each fill.")
@click.option("--device", help="Training device for ML strategies: auto, cpu, cuda, mps.")
@click.option("--seed", type=int, help="Random seed for model training.")
@click.option("--reports-dir", help="Folder that receives the run folder (default reports).")
@click.option("--models-dir", help="Model store folder (default models_saved).")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override any config key, e.g. --set sma.fast=10 --set buyhold.invest_fraction=0.9.")
@click.option("-v", "--verbose", is_flag=True, help="More progress detail on stderr.")
@user_errors
def main(config: str, verbose: bool, **flags: Any) -> None:
    """Run a backtest and write reports/<run-id>/ (report.html, metrics.json, trades.csv, equity.csv, ...)."""
    setup_logging(verbose)
    if flags.get("start"):
        flags["start"] = parse_date(flags["start"], "--from")
    if flags.get("end"):
        flags["end"] = parse_date(flags["end"], "--to", end=True)
    if flags.get("csv"):
        flags["data"] = "csv"
    cfg = load_config(config, *overrides_from_flags(**flags))
    result = execute(cfg, signal_producer=producer_for(cfg.run.strategy))
    click.echo(metrics_text(result.metrics, SUMMARY_KEYS))
    click.echo(f"\nreport: {result.path / 'report.html'}")
