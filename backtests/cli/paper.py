"""``bt-paper``: trade a signal strategy on live prices and news with the paper broker; ``status`` and ``export``
read the session's journal."""
from __future__ import annotations

import signal
import sys
from datetime import datetime, timezone
from pathlib import Path
from types import FrameType
from typing import Any

import click
import pandas as pd

from backtests.cli.common import setup_logging, user_errors
from backtests.cli.options import overrides_from_flags
from backtests.presets.config import load_config
from feeds.live.sessions import INTERVALS
from ground.errors import UserInputError


def default_journal(symbol: str, strategy: str, interval: str) -> Path:
    return Path("paper") / f"{symbol.lower().lstrip('^')}-{strategy}-{interval}.sqlite"


def _stop_on_term(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # SIGTERM stops like Ctrl-C: the session records why and exits cleanly


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--strategy", default="hybrid", show_default=True, help="Signal strategy: hybrid, gm or sentiment.")
@click.option("--symbol", default="NVDA", show_default=True, help="Symbol to trade.")
@click.option("--interval", default="1d", show_default=True, help=f"Bar interval: {', '.join(INTERVALS)}.")
@click.option("--exchange", default="XNYS", show_default=True, help="exchange_calendars code of its sessions.")
@click.option("--cash", type=float, help="Starting cash of a new session (a resumed one keeps its journal's).")
@click.option("--journal", type=click.Path(), help="Journal file (default paper/<symbol>-<strategy>-<interval>.sqlite).")
@click.option("--config", "config", default="default", show_default=True, help="Preset name or TOML path.")
@click.option("--data", help="Warm-up history source for daily bars: auto, cache, yfinance, bundled, csv.")
@click.option("--offline", is_flag=True, default=None, help="Warm-up history without the network.")
@click.option("--commission-bps", type=float, help="Commission in basis points of traded value.")
@click.option("--slippage-bps", type=float, help="Slippage in basis points against each fill.")
@click.option("--models-dir", help="Model store folder (default models_saved).")
@click.option("--news", "news_config", type=click.Path(exists=True, dir_okay=False),
              help="News feeds TOML to collect live into the archive (default: no live collection).")
@click.option("--news-every", type=float, default=900.0, show_default=True, help="Seconds between news collections.")
@click.option("--give-up-after", type=float, help="Stop after this many seconds of source failures "
              "(default: keep trying with backoff).")
@click.option("--until", help="Stop at this UTC time (ISO 8601), e.g. 2025-01-31T21:30.")
@click.option("--no-retrain", is_flag=True, help="Keep the starting model version (no background retraining).")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override any config key.")
@click.pass_context
@user_errors
def main(ctx: click.Context, config: str, **flags: Any) -> None:
    """Paper-trade STRATEGY on SYMBOL: warm up from history, then trade each new bar; Ctrl-C stops, and the same
    command resumes from the journal."""
    setup_logging()
    if ctx.invoked_subcommand is not None:
        return
    from backtests.paper.session import (
        PaperSession,
        SessionSettings,
        intraday_history,
        paper_strategy,
        unfinished_tail,
    )
    from backtests.run.runner import load_frames
    from feeds.live.sessions import ExchangeSessions
    from feeds.live.source import YahooChartSource
    from feeds.news.config import load_config as load_news

    symbol, interval = flags["symbol"].upper(), flags["interval"]
    run_flags = {k: flags[k] for k in ("strategy", "cash", "data", "offline", "commission_bps", "slippage_bps",
                                       "models_dir")}
    overrides = ("run.start=''", *flags["overrides"])
    cfg = load_config(config, *overrides_from_flags(symbol=(symbol,), overrides=overrides, **run_flags))
    paper_strategy(cfg.run.strategy)  # before any download: a wrong strategy is one line at once
    sessions = ExchangeSessions(flags["exchange"], interval)
    until = _parse_until(flags["until"])
    now = datetime.now(timezone.utc)
    source = YahooChartSource(symbol, interval)
    if sessions.daily:
        history = load_frames(cfg, warmup_bars=None)[symbol].frame
    else:
        history = intraday_history(source, sessions, now)
    history = history.iloc[: len(history) - unfinished_tail(history.index, sessions, now)]
    journal = Path(flags["journal"]) if flags["journal"] else default_journal(symbol, cfg.run.strategy, interval)
    settings = SessionSettings(symbol, journal, interval=interval, exchange=flags["exchange"], until=until,
                               give_up_s=flags["give_up_after"],
                               news=load_news(flags["news_config"]) if flags["news_config"] else None,
                               news_every_s=flags["news_every"])
    session = PaperSession(cfg, settings, source=source, history=history, retrain=not flags["no_retrain"])
    signal.signal(signal.SIGTERM, _stop_on_term)
    click.echo(f"paper session {symbol} {cfg.run.strategy} {interval}; journal {journal}; Ctrl-C stops it", err=True)
    result = session.run()
    click.echo(f"stopped: {result.reason}")
    click.echo(f"cash {result.cash:,.2f}; positions "
               + (", ".join(f"{s} {z:g} @ {p:.4f}" for s, (z, p) in result.positions.items() if z) or "none")
               + f"; {result.decisions} decisions in {journal}")
    if result.failed:
        sys.exit(1)


def _parse_until(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        ts = pd.Timestamp(text)
    except ValueError:
        raise UserInputError(f"bad time '{text}'", "--until", "write an ISO 8601 time, e.g. 2025-01-31T21:30") from None
    return (ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")).to_pydatetime()


@main.command()
@click.option("--journal", type=click.Path(), help="Journal file (default paper/nvda-hybrid-1d.sqlite).")
@click.option("--last", type=int, default=5, show_default=True, help="How many recent signals to show.")
@user_errors
def status(journal: str | None, last: int) -> None:
    """Positions, P&L, the last signals, the model versions in use and the feed state of a session."""
    from backtests.paper.status import open_existing, status_text

    with open_existing(journal or default_journal("NVDA", "hybrid", "1d")) as j:
        click.echo(status_text(j, last))


@main.command()
@click.option("--journal", type=click.Path(), help="Journal file (default paper/nvda-hybrid-1d.sqlite).")
@click.option("--reports-dir", default="reports", show_default=True, type=click.Path(), help="Where to write it.")
@user_errors
def export(journal: str | None, reports_dir: str) -> None:
    """Write the session as a run folder (marked paper, with the backtest of the same bars beside it) for
    bt-report show and bt-report compare."""
    from backtests.paper.export import export_session

    path = export_session(journal or default_journal("NVDA", "hybrid", "1d"), reports_dir)
    click.echo(f"run folder: {path}\nreport: {path / 'report.html'}")


if __name__ == "__main__":
    main()
