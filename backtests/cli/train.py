"""``bt-train``: train models outside a backtest and store them as versions (``gm`` and ``sentiment``)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from backtests.cli.common import examples, group, setup_logging
from backtests.cli.progress import Progress
from backtests.cli.train_sentiment import sentiment


@group(epilog=examples(
    "bt-train gm --symbol NVDA --to 2024-06-30",
    "bt-train sentiment --fallback",
))
@click.option("-v", "--verbose", is_flag=True, help="Per-epoch lines and other detail on stderr.")
def main(verbose: bool) -> None:
    """Train the GM ensemble or the sentiment model and save it to the model store."""
    setup_logging(verbose)


@main.command(epilog=examples(
    "bt-train gm                                   # NVDA, all history",
    "bt-train gm --symbol NVDA --to 2024-06-30 --device cpu",
    "bt-train gm --set gm.members=['tsmixer','nbeats'] --set gm.train.max_epochs=5",
))
@click.option("--symbol", default="NVDA", help="Symbol whose history the ensemble learns.")
@click.option("--to", "end", metavar="DATE", help="Last bar of history to use.  [default: the end of the data]")
@click.option("--config", "config", default="default", help="Preset name or TOML path.")
@click.option("--data", metavar="SOURCE", help="Price source: auto, cache, yfinance, bundled, csv.  [default: auto]")
@click.option("--device", metavar="DEVICE", help="Training device: auto, cpu, cuda, mps.  [default: auto]")
@click.option("--models-dir", help="Model store folder.  [default: models_saved]")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override any config key.")
def gm(symbol: str, end: str | None, config: str, **flags: Any) -> None:
    """Train the GM ensemble on all history up to --to, for forecasting the next bar (paper trading).

    The model is the one the walk-forward schedule would use for a decision at the last bar: trained on data that
    ends an embargo before it, with the validation tail used for early stopping and calibration.
    """
    from backtests.cli.options import overrides_from_flags, parse_date
    from backtests.presets.config import load_config
    from backtests.run.runner import load_frames
    from backtests.signals.producer import gm_model_name
    from ml.gm.runner import run_gm_walk_forward
    from ml.store import ModelStore

    flags["symbol"] = (symbol,)
    flags["overrides"] = ("run.start=''", *flags.get("overrides", ()))  # all history: no preset start applies
    if end:
        flags["end"] = parse_date(end, "--to", end=True)
    cfg = load_config(config, *overrides_from_flags(**flags))
    frame = load_frames(cfg, warmup_bars=None)[symbol].frame
    last = frame.index[-1]
    progress = Progress("walk-forward", unit="fold")
    try:
        result = run_gm_walk_forward(
            frame, test_start=last, test_end=last, wf=cfg.walkforward, ens=cfg.effective_gm(),
            store=ModelStore(Path(cfg.run.models_dir)), model_name=gm_model_name(symbol), progress=progress,
        )
    finally:
        progress.close()
    row = result.folds.iloc[-1]
    click.echo(f"trained {result.versions[-1]} on {row['train_start'].date()}..{row['train_end'].date()}; "
               f"validation MSE {row['val_mse']:.4g}, directional accuracy {row['val_dir_acc']:.3f}")


main.add_command(sentiment)
