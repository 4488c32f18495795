"""`bt-train sentiment`: train the news sentiment model on labeled headlines and store it as a version."""
from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import click

from backtests.cli.common import examples, setup_logging, user_errors
from backtests.cli.progress import LogProgress

# Mirrors of ml.sentiment constants (a test keeps them equal): importing those modules here imports torch for --help.
DEFAULT_ROUTING = "ensemble"
ROUTING_NAMES = ("per-language", "per-language-ft", "multilingual", "ensemble")
DEFAULT_CACHE = Path(".cache") / "sentiment-embeddings.sqlite"


@click.command("sentiment", epilog=examples(
    "bt-train sentiment                            # the project's training files, default routing",
    "bt-train sentiment --fallback                 # the n-gram MLP, no transformer",
    "bt-train sentiment --encoder en=minilm-ft,*=e5 --fp32",
    "bt-train sentiment --data my_labels.csv --name my-sentiment",
    "bt-train sentiment --data dated.csv --until 2019-12-31   # out of sample for backtests from 2020",
))
@click.option("--data", type=click.Path(path_type=Path), multiple=True,
              help="Labeled CSV with columns lang,text,label (id and date optional); repeat for several files.  "
                   "[default: the project's training files]")
@click.option("--until", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Train only on rows dated on or before this day (YYYY-MM-DD): a version that is out of sample "
                   "for backtests after it. The cutoff is recorded in the version's meta.json.")
@click.option("--encoder", default=DEFAULT_ROUTING,
              help=f"Routing preset ({', '.join(ROUTING_NAMES)}), one encoder for all languages (minilm, e5, "
                   "or a local Hugging Face model folder; minilm-ft or ft:FOLDER to fine-tune it with the head), "
                   "lang=encoder pairs such as en=minilm-ft,*=e5, or a+b ensembles.  [default: ensemble]")
@click.option("--int8/--fp32", "int8", default=True,
              help="Serve fine-tuned encoders with int8 (dynamic quantization) or fp32 Linear layers.")
@click.option("--fallback", is_flag=True, help="Train the n-gram MLP fallback instead (no transformer).")
@click.option("--models-dir", "--store", "store", type=click.Path(path_type=Path), default=Path("models_saved"),
              help="Root of the model store; the model goes to <store>/LLM/<name>/<version>/.  [default: models_saved]")
@click.option("--name", default=None, help="Model name in the store.  [default: sentiment, or sentiment-fallback]")
@click.option("--seed", type=int, default=0, help="Seed of the split and the initialisation.  [default: 0]")
@click.option("--cache", type=click.Path(path_type=Path), default=DEFAULT_CACHE,
              help="SQLite embedding cache, keyed by encoder and text hash.")
@click.option("-v", "--verbose", is_flag=True, help="Per-epoch lines and other detail on stderr.")
@user_errors
def sentiment(data: tuple[Path, ...], until: datetime | None, encoder: str, int8: bool, fallback: bool, store: Path,
              name: str | None, seed: int, cache: Path, verbose: bool) -> None:
    """Train, print validation metrics per language, and save the model to the store."""
    setup_logging(verbose)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from ml.sentiment.finetune import FineTuneConfig
    from ml.sentiment.train import TrainConfig, fallback_config, train_and_save

    config = fallback_config(seed) if fallback else TrainConfig(
        routing=encoder, seed=seed, finetune=FineTuneConfig(quantize=int8))
    # ml.sentiment.train offers no callback: its step lines (featurising, per-path results) drive the display.
    with LogProgress("ml.sentiment", "sentiment training", unit="step", pattern=r"$^"):
        version, report = train_and_save(list(data) or None, config, store, name, cache,
                                         until.date() if until is not None else None)
    click.echo(report.table())
    cutoff = f", training cutoff {report.cutoff.isoformat()}" if report.cutoff else ", training cutoff unknown"
    click.echo(f"\ntrained {version.ref} in {report.seconds:.0f} s{cutoff}: {version.path}")
