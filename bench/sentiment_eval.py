"""Sentiment accuracy on a labeled file, beside VADER (English) and SnowNLP (Chinese), and encoder throughput.

The models are trained from the project's own training set (``ml/sentiment/data/headlines_train.csv``) with the
same seed as ``bt-train sentiment``, so they are the default models; the evaluation file is never trained on.
Accuracy and macro-F1 are printed overall and per language; a routing with a fine-tuned encoder is evaluated
serving both int8 (the default) and fp32 Linear layers. Baselines: VADER's compound score with its
authors' thresholds (>= 0.05 positive, <= -0.05 negative, else neutral); SnowNLP's positive probability with a
symmetric neutral band (>= 0.6 positive, <= 0.4 negative). Throughput: headlines per second for each encoder
on the file's English headlines (the fine-tuned one from the trained routing, int8 and fp32), cold (nothing
cached, model already loaded; best of 3) and for cache hits (SQLite embedding cache; best of 3); and the
fallback end to end.

    python bench/sentiment_eval.py                          # ../shared/data/sentiment/headlines_seed.csv
    python bench/sentiment_eval.py --data my_labeled.csv --no-append
    python bench/sentiment_eval.py --routings per-language  # only the per-language transformer routing
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from common import REPO, SHARED_DATA, markdown_table, report  # bench/ is on sys.path when a script here runs

from ground.errors import UserInputError
from ml.sentiment.encoders import CachedEncoder, EmbeddingCache, TextEncoder, build_encoder
from ml.sentiment.finetune import FineTunedEncoder, FineTunedHead
from ml.sentiment.labels import LABELS, NEGATIVE, NEUTRAL, POSITIVE
from ml.sentiment.metrics import Metrics, classification_metrics, metrics_by_language
from ml.sentiment.model import DEFAULT_ROUTING, ROUTINGS
from ml.sentiment.train import TrainConfig, default_training_file, fallback_config, load_labeled, train_sentiment

log = logging.getLogger("bench.sentiment_eval")
REPEATS = 3


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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=SHARED_DATA / "sentiment" / "headlines_seed.csv",
                        help="labeled CSV with columns lang,text,label (default: the shared seed file)")
    parser.add_argument("--train", type=Path, default=default_training_file(), help="training CSV")
    parser.add_argument("--routings", default=",".join(ROUTINGS),
                        help="transformer routings to evaluate, comma-separated "
                             f"(default: all; {DEFAULT_ROUTING} is the default)")
    parser.add_argument("--cache", type=Path, default=REPO / ".cache" / "sentiment-embeddings.sqlite")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-append", action="store_true", help="print only; do not append to docs/benchmarks.md")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        data, train = load_labeled(args.data), load_labeled(args.train)
    except UserInputError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    langs = np.asarray(data.langs)
    results: dict[str, dict[str, Metrics]] = {}
    tuned: list[tuple[str, TextEncoder]] = []
    with EmbeddingCache(args.cache) as cache:
        for routing in [r.strip() for r in args.routings.split(",") if r.strip()]:
            started = time.perf_counter()
            model, _ = train_sentiment(train, TrainConfig(routing=routing, seed=args.seed), cache)
            log.info("routing %s trained in %.0f s", routing, time.perf_counter() - started)
            tag = " (default)" if routing == DEFAULT_ROUTING else ""
            fine = [p for p in model.paths.values() if isinstance(p, FineTunedHead)]
            served = fine[0].raw.quantize if fine else None
            for quantize in [served, not served] if fine else [None]:
                for p in fine:
                    p.set_quantize(bool(quantize))
                pred = model.predict(data.texts, data.langs).probs.argmax(axis=1)
                precision = "" if quantize is None else f", {'int8' if quantize else 'fp32'}"
                name = f"transformer, {routing}{precision}{tag if quantize == served else ''}"
                results[name] = metrics_by_language(data.labels, pred, data.langs)
            for p in fine:
                for quantize in (True, False):
                    raw = p.raw
                    tuned.append((f"{p.spec} ({'int8' if quantize else 'fp32'})",
                                  FineTunedEncoder(raw.module, raw.tokenizer, raw.name, raw.max_length, quantize)))
        fallback, _ = train_sentiment(train, fallback_config(args.seed))
        pred = fallback.predict(data.texts, data.langs).probs.argmax(axis=1)
        results["fallback (n-gram MLP)"] = metrics_by_language(data.labels, pred, data.langs)
    for lang, name, baseline in (("en", "VADER", vader_labels), ("zh", "SnowNLP", snownlp_labels)):
        mask = langs == lang
        if mask.any():
            texts = [t for t, m in zip(data.texts, mask, strict=True) if m]
            results[name] = {lang: classification_metrics(data.labels[mask], baseline(texts))}

    acc_rows = [[model, lang, m.n, m.accuracy, m.macro_f1] for model, by in results.items() for lang, m in by.items()]
    english = [t for t, lang in zip(data.texts, data.langs, strict=True) if lang == "en"] or list(data.texts)
    speed_rows = throughput(english, [(name, build_encoder(name)) for name in ("minilm", "e5")] + tuned)
    start = time.perf_counter()
    fallback.predict(english, ["en"] * len(english))
    fb_rate = len(english) / (time.perf_counter() - start)
    speed_rows.append(["fallback (no encoder)", len(english), "-", f"{fb_rate:.0f}", "-"])
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    body = (
        f"Evaluation file: `{args.data.name}` ({len(data)} headlines: "
        + ", ".join(f"{lang} {int((langs == lang).sum())}" for lang in sorted(set(data.langs)))
        + f"); trained on `{args.train.name}` ({len(train)} headlines), seed {args.seed}. "
        f"Labels {', '.join(LABELS)}. Load average during the run: {load} (2 shared cores).\n\n"
        + markdown_table(["model", "lang", "n", "accuracy", "macro-F1"], acc_rows)
        + "\n\nThroughput (English headlines of the file; headlines/s):\n\n"
        + markdown_table(["encoder", "n", "load (s)", "cold (no cache)", "cache hits"], speed_rows)
    )
    report("Sentiment: accuracy and throughput", body, append=not args.no_append)
    return 0


if __name__ == "__main__":
    torch.set_num_threads(min(2, torch.get_num_threads()))
    sys.exit(main())
