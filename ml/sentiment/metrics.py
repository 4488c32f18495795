"""Classification metrics for sentiment, overall and per language: accuracy, macro-F1 and the confusion matrix.

Macro-F1 weighs the three classes equally, so a model that calls everything neutral cannot hide behind accuracy.
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ml.sentiment.labels import LABELS


@dataclass(frozen=True)
class Metrics:
    """Scores of one evaluation slice; ``confusion[i][j]`` counts true class i predicted as class j."""

    n: int
    accuracy: float
    macro_f1: float
    confusion: tuple[tuple[int, ...], ...]

    def to_dict(self) -> dict[str, object]:
        return {"n": self.n, "accuracy": self.accuracy, "macro_f1": self.macro_f1,
                "confusion": [list(row) for row in self.confusion], "labels": list(LABELS)}


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> Metrics:
    """Accuracy, macro-F1 (a class with no support and no predictions is left out) and the confusion matrix."""
    t, p = np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)
    k = len(LABELS)
    conf = np.bincount(t * k + p, minlength=k * k).reshape(k, k)  # [k*k] -> [k, k]
    tp = np.diag(conf).astype(np.float64)
    support, predicted = conf.sum(axis=1), conf.sum(axis=0)
    present = (support + predicted) > 0
    f1 = np.divide(2 * tp, support + predicted, out=np.zeros(k), where=present)
    return Metrics(
        n=int(t.size),
        accuracy=float(tp.sum() / t.size) if t.size else float("nan"),
        macro_f1=float(f1[present].mean()) if present.any() else float("nan"),
        confusion=tuple(tuple(int(v) for v in row) for row in conf),
    )


def metrics_by_language(y_true: np.ndarray, y_pred: np.ndarray, langs: Sequence[str]) -> dict[str, Metrics]:
    """Metrics for ``all`` rows and for each language present, languages in sorted order."""
    lang_arr = np.asarray(langs)
    out = {"all": classification_metrics(y_true, y_pred)}
    for lang in sorted(set(lang_arr.tolist())):
        mask = lang_arr == lang
        out[lang] = classification_metrics(np.asarray(y_true)[mask], np.asarray(y_pred)[mask])
    return out


def format_table(rows: Mapping[str, Mapping[str, Metrics]]) -> str:
    """A plain-text table: one line per (model, language) with n, accuracy and macro-F1."""
    lines = [f"{'model':<34} {'lang':<5} {'n':>5} {'accuracy':>9} {'macro-F1':>9}"]
    for model, by_lang in rows.items():
        for lang, m in by_lang.items():
            lines.append(f"{model:<34} {lang:<5} {m.n:>5} {m.accuracy:>9.3f} {m.macro_f1:>9.3f}")
    return "\n".join(lines)


def format_confusion(m: Metrics) -> str:
    """The confusion matrix with class names (rows: true, columns: predicted)."""
    head = " " * 10 + "".join(f"{lab[:8]:>9}" for lab in LABELS)
    body = [f"{lab[:8]:<10}" + "".join(f"{v:>9d}" for v in row) for lab, row in zip(LABELS, m.confusion, strict=True)]
    return "\n".join([head, *body])


# Cues of the phrasings that flip a naive reading: negation, contrast, and results judged against expectations or
# against a worse past ("loss narrower", "beats lowered guidance", "rises despite", "减亏", "好于预期"). Fixed before
# any evaluation was run, so the "hard" slice of a report is not chosen by the results.
_HARD_EN = re.compile(
    r"\b(?:not|no|never|without|fails?|failed|despite|although|though|but|yet|however|while|even as|"
    r"narrow(?:er|ed|s)?|smaller|less than (?:feared|expected)|better than (?:feared|expected)|"
    r"worse than (?:feared|expected)|lowered|reduced|trimmed|tempered|eases?|offsets?|shrugs?|"
    r"mixed|in line|only|still|fewer)\b|n't",
    re.IGNORECASE)
_HARD_ZH = re.compile(r"不|未|没|非|无|虽|但|尽管|却|仍|收窄|减亏|好于|不及|低于预期|难掩|抵消|拖累|喜忧参半|"
                      r"利空出尽|靴子落地|仅|只")


def is_hard_phrasing(text: str, lang: str) -> bool:
    """Whether a headline has a cue of the phrasings that trip sentiment models (negation, contrast, a result
    against expectations); Chinese cues for ``zh``, English cues otherwise."""
    pattern = _HARD_ZH if lang == "zh" else _HARD_EN
    return pattern.search(text) is not None
