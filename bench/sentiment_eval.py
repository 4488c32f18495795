"""Sentiment accuracy on a labeled file, beside VADER (English) and SnowNLP (Chinese), and encoder throughput.

The models are trained here from the project's own files (``ml/sentiment/data/*.csv``) with the same seed as
``bt-train sentiment``, so they are the default models; nothing scored is trained on. Protocol for the shared
seed file (fixed before any tuning): ``ml.sentiment.train.holdout_split`` halves it by a hash of each row's id,
per language and label; the selection half is the only one that data, routing or settings were chosen on, and
the evaluation half is the figure of record (the default when ``--data`` is the seed file). Any other file is
scored whole. Accuracy and macro-F1 are printed overall, per language, and on each language's hard phrasings
(negation, contrast, results against expectations: ``ml.sentiment.metrics.is_hard_phrasing``, a rule fixed
before any result was seen). Baselines: VADER's compound score with its authors' thresholds (>= 0.05 positive,
<= -0.05 negative, else neutral); SnowNLP's positive probability with a symmetric neutral band (>= 0.6 positive,
<= 0.4 negative). Throughput: headlines per second for each encoder on the scored English headlines, cold
(nothing cached, model already loaded; best of 3) and for cache hits (SQLite embedding cache; best of 3); and
the fallback end to end.

    python bench/sentiment_eval.py                          # evaluation half of the seed file
    python bench/sentiment_eval.py --part selection --errors errors.csv --no-append   # for choosing things
    python bench/sentiment_eval.py --data my_labeled.csv --no-append                   # any lang,text,label CSV
    python bench/sentiment_eval.py --routings ensemble,per-language-ft                 # more routings
"""
from __future__ import annotations

import argparse
import importlib.util
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from common import REPO, SHARED_DATA, markdown_table, report  # bench/ is on sys.path when a script here runs

from ground.errors import UserInputError
from ml.sentiment.encoders import CachedEncoder, EmbeddingCache, TextEncoder, build_encoder
from ml.sentiment.finetune import FineTunedEncoder, FineTunedHead
from ml.sentiment.labels import LABELS, NEGATIVE, NEUTRAL, POSITIVE
from ml.sentiment.metrics import Metrics, classification_metrics, is_hard_phrasing, metrics_by_language
from ml.sentiment.model import DEFAULT_ROUTING, ROUTINGS
from ml.sentiment.train import (
    HOLDOUT_SALT,
    LabeledSet,
    TrainConfig,
    default_training_files,
    fallback_config,
    holdout_split,
    load_labeled,
    load_training,
    train_sentiment,
)

log = logging.getLogger("bench.sentiment_eval")
REPEATS = 3
SEED_FILE = SHARED_DATA / "sentiment" / "headlines_seed.csv"


def _threshold(values: Sequence[float], low: float, high: float) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    return np.where(v >= high, POSITIVE, np.where(v <= low, NEGATIVE, NEUTRAL))


def vader_labels(texts: Sequence[str]) -> np.ndarray:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()
    return _threshold([analyzer.polarity_scores(t)["compound"] for t in texts], -0.05, 0.05)


def snownlp_labels(texts: Sequence[str]) -> np.ndarray:
    from snownlp import SnowNLP

    return _threshold([SnowNLP(t).sentiments for t in texts], 0.4, 0.6)


def best_rate(n: int, run: Callable[[], object]) -> float:
    """Items per second of the fastest of ``REPEATS`` runs (the machine is shared; the best run is the least
    disturbed one)."""
    best = float("inf")
    for _ in range(REPEATS):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return n / best


def throughput(texts: Sequence[str], encoders: Sequence[tuple[str, TextEncoder]]) -> list[list[object]]:
    rows: list[list[object]] = []
    with tempfile.TemporaryDirectory() as tmp, EmbeddingCache(Path(tmp) / "bench.sqlite") as cache:
        for name, encoder in encoders:
            start = time.perf_counter()
            encoder.encode(list(texts[:8]))  # loads the model (or builds the int8 copy)
            load_s = time.perf_counter() - start
            cold = best_rate(len(texts), lambda enc=encoder: enc.encode(list(texts)))
            cached = CachedEncoder(encoder, cache)
            cached.encode(list(texts))  # fill
            hits = best_rate(len(texts), lambda enc=cached: enc.encode(list(texts)))
            rows.append([name, len(texts), f"{load_s:.1f}", f"{cold:.0f}", f"{hits:.0f}"])
    return rows


def _slices(data: LabeledSet, idx: np.ndarray, pred: np.ndarray) -> dict[str, Metrics]:
    """Metrics overall, per language, and on the hard-phrasing rows of each language (fixed cue rule)."""
    langs = [data.langs[i] for i in idx]
    out = metrics_by_language(data.labels[idx], pred, langs)
    for lang in sorted(set(langs)):
        hard = np.asarray([data.langs[i] == lang and is_hard_phrasing(data.texts[i], lang) for i in idx])
        if hard.any():
            out[f"{lang} hard"] = classification_metrics(data.labels[idx][hard], pred[hard])
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=SEED_FILE,
                        help="labeled CSV with columns lang,text,label (default: the shared seed file)")
    parser.add_argument("--part", choices=("auto", "all", "selection", "evaluation"), default="auto",
                        help="rows of --data to score: its fixed hold-out split's selection or evaluation half, or "
                             "all rows (auto: the evaluation half of the seed file, all rows of any other file)")
    parser.add_argument("--train", type=Path, action="append", default=None,
                        help="training CSV (repeatable; default: the project's own files in ml/sentiment/data)")
    parser.add_argument("--routings", default=DEFAULT_ROUTING,
                        help=f"transformer routings to evaluate, comma-separated (default: {DEFAULT_ROUTING}; "
                             f"known: {', '.join(ROUTINGS)})")
    parser.add_argument("--cache", type=Path, default=REPO / ".cache" / "sentiment-embeddings.sqlite")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-speed", action="store_true", help="skip the throughput table")
    parser.add_argument("--errors", type=Path, default=None,
                        help="write the default model's misclassified rows to this CSV (only for --part selection)")
    parser.add_argument("--no-append", action="store_true", help="print only; do not append to docs/benchmarks.md")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    bench_started = time.perf_counter()
    try:
        data = load_labeled(args.data)
        train = load_training(args.train or default_training_files())
    except UserInputError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    part = args.part if args.part != "auto" else (
        "evaluation" if args.data.resolve() == SEED_FILE.resolve() else "all")
    if args.errors is not None and part != "selection":
        print("Error: --errors writes misclassified rows of the selection half only (--part selection): the "
              "evaluation rows must not guide any choice", file=sys.stderr)
        return 2
    selection, evaluation = holdout_split(data.ids, data.labels, data.langs)
    idx = {"all": np.arange(len(data)), "selection": selection, "evaluation": evaluation}[part]
    overlap = len(set(train.texts) & {data.texts[i] for i in idx})
    results: dict[str, dict[str, Metrics]] = {}
    tuned: list[tuple[str, TextEncoder]] = []
    timings: list[str] = []
    texts, langs = [data.texts[i] for i in idx], [data.langs[i] for i in idx]
    with EmbeddingCache(args.cache) as cache:
        for routing in [r.strip() for r in args.routings.split(",") if r.strip()]:
            started = time.perf_counter()
            model, _ = train_sentiment(train, TrainConfig(routing=routing, seed=args.seed), cache)
            timings.append(f"{routing} trained in {time.perf_counter() - started:.0f} s")
            tag = " (default)" if routing == DEFAULT_ROUTING else ""
            fine = [p for p in model.paths.values() if isinstance(p, FineTunedHead)]
            pred = model.predict(texts, langs).probs.argmax(axis=1)
            precision = "" if not fine else f", {'int8' if fine[0].raw.quantize else 'fp32'}"
            results[f"transformer, {routing}{precision}{tag}"] = _slices(data, idx, pred)
            if tag and args.errors is not None:
                wrong = np.flatnonzero(pred != data.labels[idx])
                pd.DataFrame({"lang": [langs[i] for i in wrong], "text": [texts[i] for i in wrong],
                              "label": [LABELS[data.labels[idx][i]] for i in wrong],
                              "predicted": [LABELS[pred[i]] for i in wrong]}).to_csv(args.errors, index=False)
            for p in fine:
                raw = p.raw
                tuned.append((f"{p.spec} ({'int8' if raw.quantize else 'fp32'})",
                              FineTunedEncoder(raw.module, raw.tokenizer, raw.name, raw.max_length, raw.quantize)))
        started = time.perf_counter()
        fallback, _ = train_sentiment(train, fallback_config(args.seed))
        timings.append(f"fallback trained in {time.perf_counter() - started:.0f} s")
        pred = fallback.predict(texts, langs).probs.argmax(axis=1)
        results["fallback (n-gram MLP)"] = _slices(data, idx, pred)
    lang_arr = np.asarray(langs)
    for lang, name, baseline, module in (("en", "VADER", vader_labels, "vaderSentiment"),
                                         ("zh", "SnowNLP", snownlp_labels, "snownlp")):
        mask = lang_arr == lang
        if importlib.util.find_spec(module) is None:
            log.warning("baseline %s skipped: %s is not installed (pip install -e '.[bench]')", name, module)
        elif mask.any():
            results[name] = {lang: classification_metrics(data.labels[idx][mask],
                                                          baseline([t for t, m in zip(texts, mask) if m]))}
    acc_rows = [[model, lang, m.n, m.accuracy, m.macro_f1] for model, by in results.items() for lang, m in by.items()]
    eval_seconds = time.perf_counter() - bench_started
    speed = ""
    if not args.no_speed:
        english = [t for t, lang in zip(texts, langs, strict=True) if lang == "en"] or list(texts)
        speed_rows = throughput(english, [(name, build_encoder(name)) for name in ("minilm", "e5")] + tuned)
        start = time.perf_counter()
        fallback.predict(english, ["en"] * len(english))
        fb_rate = len(english) / (time.perf_counter() - start)
        speed_rows.append(["fallback (no encoder)", len(english), "-", f"{fb_rate:.0f}", "-"])
        speed = ("\n\nThroughput (English headlines scored; headlines/s):\n\n"
                 + markdown_table(["encoder", "n", "load (s)", "cold (no cache)", "cache hits"], speed_rows))
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    counts = ", ".join(f"{lang} {langs.count(lang)}" for lang in sorted(set(langs)))
    body = (
        f"Scored: `{args.data.name}`, {part} rows ({len(idx)} headlines: {counts}; hold-out split "
        f"`{HOLDOUT_SALT}`, half per language and label). Trained on {len(train)} headlines "
        f"({', '.join(sorted({Path(p).name for p in (args.train or default_training_files())}))}), seed "
        f"{args.seed}; {overlap} scored texts also in training. Labels {', '.join(LABELS)}; \"hard\" rows carry a "
        f"negation, contrast or against-expectations cue (`ml.sentiment.metrics.is_hard_phrasing`). "
        f"{'; '.join(timings)}; training and scoring took {eval_seconds:.0f} s in all. Load average: {load} "
        f"(2 shared cores).\n\n"
        + markdown_table(["model", "slice", "n", "accuracy", "macro-F1"], acc_rows) + speed
    )
    report("Sentiment: accuracy and throughput", body, append=not args.no_append)
    return 0


if __name__ == "__main__":
    torch.set_num_threads(min(2, torch.get_num_threads()))
    sys.exit(main())
