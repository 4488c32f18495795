"""Near-duplicate decision on labelled headline pairs: precision, recall and F1 at the shipped rules, and speed.

Reads a CSV ``id,lang,text_a,text_b,same_story`` (lang ``en``, ``zh`` or ``en-zh``; same_story 1 or 0), embeds
every distinct text with the similarity encoder, and decides each pair with ``ml.sentiment.stories`` at the
shipped ``StoryRules``. Prints precision, recall and F1 per language and overall, beside cosine alone at the same
thresholds (no fact checks) for comparison, and pairs per second end to end (encoding included; the model is
loaded before timing).

``--tune`` instead searches the two cosine thresholds that maximise F1 on the file and prints them; run it on
the tuning file only (bench/data/news_pairs_tune.csv), never on the file whose figures are reported.

    python bench/news_similarity.py --data bench/data/news_pairs_heldout.csv
    python bench/news_similarity.py --data bench/data/news_pairs_tune.csv --tune --no-append
"""
from __future__ import annotations

import argparse
import csv
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from common import markdown_table, report  # bench/ is on sys.path when a script here runs

from ground.errors import UserInputError
from ml.sentiment.embeddings import DEFAULT_ENCODER, embedding_encoder
from ml.sentiment.facts import FactExtractor, conflicts
from ml.sentiment.stories import DEFAULT_RULES, StoryRules

LANGS = ("en", "zh", "en-zh")


@dataclass(frozen=True)
class Pair:
    id: str
    lang: str
    text_a: str
    text_b: str
    same: bool


def load_pairs(path: Path) -> list[Pair]:
    """The pairs of a CSV file; any malformed row is one clear error naming its line."""
    if not path.is_file():
        raise UserInputError("no such file", where=str(path), fix="pass a CSV with id,lang,text_a,text_b,same_story")
    pairs = []
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        missing = {"id", "lang", "text_a", "text_b", "same_story"} - set(reader.fieldnames or ())
        if missing:
            raise UserInputError(f"missing columns {', '.join(sorted(missing))}", where=str(path),
                                 fix="the header must be id,lang,text_a,text_b,same_story")
        for line, row in enumerate(reader, start=2):
            if row["lang"] not in LANGS or row["same_story"] not in ("0", "1") or not row["text_a"].strip() \
                    or not row["text_b"].strip():
                raise UserInputError("bad row (lang must be en, zh or en-zh; same_story 0 or 1; texts non-empty)",
                                     where=f"{path}:{line}", fix="correct or remove the row")
            pairs.append(Pair(row["id"], row["lang"], row["text_a"], row["text_b"], row["same_story"] == "1"))
    if not pairs:
        raise UserInputError("no pairs in file", where=str(path), fix="add rows below the header")
    return pairs


def _langs(pair: Pair) -> tuple[str, str]:
    return ("en", "zh") if pair.lang == "en-zh" else (pair.lang, pair.lang)


def decide(pairs: list[Pair], cosines: np.ndarray, conflicted: np.ndarray, rules: StoryRules,
           use_facts: bool = True) -> np.ndarray:
    """The duplicate decision per pair under ``rules`` (cosine threshold per language pair, then no conflict)."""
    thresholds = np.array([rules.threshold(*_langs(p)) for p in pairs])
    same = cosines >= thresholds
    return same & ~conflicted if use_facts else same


def prf(truth: np.ndarray, guess: np.ndarray) -> tuple[float, float, float]:
    tp = float(np.sum(truth & guess))
    precision = tp / max(float(np.sum(guess)), 1.0)
    recall = tp / max(float(np.sum(truth)), 1.0)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def tune(pairs: list[Pair], cosines: np.ndarray, conflicted: np.ndarray) -> StoryRules:
    """The thresholds with the best overall F1 on these pairs; on a plateau of equal F1, its middle.

    The middle of the plateau, rather than its edge, leaves the most room on both sides for unseen pairs.
    """
    truth = np.array([p.same for p in pairs])
    grid = np.round(np.arange(0.70, 0.995, 0.005), 3)
    scores = {}
    for same_lang in grid:
        for cross in grid:
            rules = replace(DEFAULT_RULES, same_language=float(same_lang), cross_language=float(cross))
            scores[(float(same_lang), float(cross))] = prf(truth, decide(pairs, cosines, conflicted, rules))[2]
    best = max(scores.values())
    top = [key for key, f1 in scores.items() if f1 >= best - 1e-12]
    same_lang = float(np.median(sorted({s for s, _ in top})))
    same_lang = min((s for s, _ in top), key=lambda s: abs(s - same_lang))
    crosses = sorted(c for s, c in top if s == same_lang)
    return replace(DEFAULT_RULES, same_language=same_lang, cross_language=crosses[len(crosses) // 2])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="CSV id,lang,text_a,text_b,same_story")
    parser.add_argument("--encoder", default=DEFAULT_ENCODER, help="similarity encoder (default %(default)s)")
    parser.add_argument("--tune", action="store_true", help="print the best thresholds on this file (tuning only)")
    parser.add_argument("--no-append", action="store_true", help="do not append to docs/benchmarks.md")
    args = parser.parse_args(argv)
    try:
        pairs = load_pairs(args.data)
        encoder = embedding_encoder(args.encoder)
    except UserInputError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    texts = list(dict.fromkeys(t for p in pairs for t in (p.text_a, p.text_b)))
    encoder.encode(texts[:2])  # load the model before timing
    start = time.perf_counter()
    vectors = dict(zip(texts, encoder.encode(texts), strict=True))
    extractor = FactExtractor()
    facts = {t: extractor.extract(t) for t in texts}
    cosines = np.array([float(vectors[p.text_a] @ vectors[p.text_b]) for p in pairs])
    conflicted = np.array([bool(conflicts(facts[p.text_a], facts[p.text_b])) for p in pairs])
    guess = decide(pairs, cosines, conflicted, DEFAULT_RULES)
    elapsed = time.perf_counter() - start
    rules = DEFAULT_RULES
    if args.tune:
        rules = tune(pairs, cosines, conflicted)
        guess = decide(pairs, cosines, conflicted, rules)
    if args.tune:
        print(f"best on {args.data}: same_language={rules.same_language} cross_language={rules.cross_language}")
    truth = np.array([p.same for p in pairs])
    cosine_only = decide(pairs, cosines, conflicted, rules, use_facts=False)
    rows = []
    for lang in (*LANGS, "all"):
        mask = np.array([lang in ("all", p.lang) for p in pairs])
        if not mask.any():
            continue
        p, r, f = prf(truth[mask], guess[mask])
        f_cos = prf(truth[mask], cosine_only[mask])[2]
        rows.append([lang, int(mask.sum()), int(truth[mask].sum()), p, r, f, f_cos])
    body = (
        f"Data: `{args.data.name}` ({len(pairs)} pairs, {len(texts)} distinct headlines). Encoder "
        f"`{encoder.id}`. Rules: cosine >= {rules.same_language} (one language) / {rules.cross_language} "
        f"(English-Chinese), window {rules.window}, and no conflicting fact.\n\n"
        + markdown_table(["lang", "pairs", "same", "precision", "recall", "F1", "F1 cosine only"], rows)
        + f"\n\nSpeed: {len(pairs) / elapsed:.0f} pairs/s end to end ({len(texts)} headlines encoded, "
        f"{len(texts) / elapsed:.0f} headlines/s; facts and decisions included).\n"
    )
    report("News near-duplicate decision", body, append=not (args.no_append or args.tune))
    return 0


if __name__ == "__main__":
    sys.exit(main())
