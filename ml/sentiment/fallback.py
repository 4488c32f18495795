"""The fallback sentiment model: an MLP over hashed word and character n-grams, no transformer needed.

It works where the encoders are not installed and handles both languages by script rather than by a language
tag: runs of Latin letters become words (unigrams and bigrams), runs of Chinese characters become character
1-3 grams (Chinese has no spaces; its sentiment words are one to three characters: 增长, 亏损收窄, 不及预期).
Negation is made explicit: the few words after "not", "fails", "no" ... are marked (``beat`` vs ``not_beat``),
and likewise the characters after 不/未/没/无/非, because a bag of words cannot otherwise tell "fails to beat"
from "beats". Features are hashed with crc32 (stable across processes, unlike Python's ``hash``) into buckets
of an ``EmbeddingBag``, fastText style.
"""
from __future__ import annotations

import re
import unicodedata
import zlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from ground.lang import HAN
from ml.sentiment.head import MLPHead
from ml.sentiment.labels import LABELS

_TOKEN = re.compile(
    r"[\u3400-\u4dbf\u4e00-\u9fff]+"  # a run of Chinese characters
    r"|[a-z][a-z0-9]*(?:'[a-z]+)?"  # a word (q3 and h1 included)
    r"|\d+(?:[.,]\d+)*%?"  # a number, maybe a percentage
    r"|[.,;:!?()\[\]\"|/，。；：！？（）【】「」、]"  # a clause break
)
_CLAUSE_BREAK = frozenset(".,;:!?()[]\"|/，。；：！？（）【】「」、")
_EN_NEGATORS = frozenset(
    {"not", "no", "never", "without", "fails", "fail", "failed", "failing", "unable", "cannot", "nor", "lacks",
     "lack", "misses", "miss", "missed", "unlikely"}
)
_ZH_NEGATORS = frozenset("不未没无非")
_SUFFIXES = (("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", ""), ("ly", ""))


def _stem(word: str) -> str:
    """Crude suffix stripping so that "tumbles", "tumbled" and "tumbling" share a feature."""
    for suffix, repl in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)] + repl
    return word


@dataclass(frozen=True)
class HasherConfig:
    """How texts become bucket ids. ``negation_scope`` is how many following tokens a negator marks."""

    buckets: int = 1 << 16
    word_ngrams: int = 2
    char_ngrams: int = 3
    negation_scope: int = 3

    def __post_init__(self) -> None:
        if self.buckets < 2 or self.word_ngrams < 1 or self.char_ngrams < 1 or self.negation_scope < 0:
            raise ValueError("HasherConfig: need buckets >= 2, n-gram sizes >= 1 and negation_scope >= 0")


class NgramHasher:
    """Text -> sorted unique bucket ids of its n-gram features (both languages, mixed text included)."""

    def __init__(self, config: HasherConfig = HasherConfig()) -> None:
        self.config = config

    def features(self, text: str) -> list[str]:
        """The readable features of one text, before hashing (useful to see what the model sees)."""
        norm = unicodedata.normalize("NFKC", text).lower().replace("n't", " not")
        feats = ["<bias>"]
        clause: list[str] = []
        for tok in [*_TOKEN.findall(norm), "."]:
            if tok in _CLAUSE_BREAK:
                feats.extend(self._clause_features(clause))
                clause = []
            elif HAN.match(tok):
                clause.extend(tok)  # one token per character
            else:
                clause.append("<pct>" if tok.endswith("%") else "<num>" if tok[0].isdigit() else tok)
        return feats

    def _clause_features(self, tokens: list[str]) -> list[str]:
        cfg = self.config
        marked: list[str] = []
        scope = 0
        for tok in tokens:
            is_cjk = bool(HAN.match(tok))
            marked.append(f"not_{tok}" if scope > 0 else tok)
            scope = max(scope - 1, 0)
            if tok in _EN_NEGATORS or (is_cjk and tok in _ZH_NEGATORS):
                scope = cfg.negation_scope if not is_cjk else min(cfg.negation_scope, 2)
        feats: list[str] = []
        words = [t for t in marked if not HAN.search(t)]
        for n in range(1, cfg.word_ngrams + 1):
            feats.extend(" ".join(words[i : i + n]) for i in range(len(words) - n + 1))
        feats.extend(f"~{_stem(w)}" for w in words if _stem(w) != w)
        run: list[str] = []
        for tok, raw in [*zip(marked, tokens, strict=True), ("", "")]:
            if raw and HAN.match(raw):
                run.append(raw)
                if tok != raw:
                    feats.append(tok)  # the negated character itself
                continue
            for n in range(1, cfg.char_ngrams + 1):
                feats.extend("".join(run[i : i + n]) for i in range(len(run) - n + 1))
            run = []
        return feats

    def ids(self, text: str) -> np.ndarray:
        """Unique bucket ids (int64) of a text's features."""
        buckets = self.config.buckets
        return np.unique(np.fromiter((zlib.crc32(f.encode("utf-8")) % buckets for f in self.features(text)), np.int64))


class FallbackNet(nn.Module):
    """Mean of the n-gram bucket embeddings -> MLP head -> logits.

    While training, each feature of a text is dropped with probability ``feature_dropout`` (word dropout, as in
    deep averaging networks): the model cannot lean on one telltale n-gram and must use all the cues it has.
    """

    def __init__(self, buckets: int, dim: int = 64, hidden: int = 128, dropout: float = 0.2,
                 feature_dropout: float = 0.5) -> None:
        super().__init__()
        if not 0.0 <= feature_dropout < 1.0:
            raise ValueError("FallbackNet: feature_dropout must be in [0, 1)")
        self.hparams: dict[str, Any] = {"buckets": buckets, "dim": dim, "hidden": hidden, "dropout": dropout,
                                        "feature_dropout": feature_dropout}
        self.feature_dropout = feature_dropout
        self.bag = nn.EmbeddingBag(buckets, dim, mode="sum", sparse=True)  # sparse: a batch touches few rows
        self.head = MLPHead(dim, hidden, dropout, len(LABELS))

    def forward(self, ids: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        """``ids`` ``[total]`` flat bucket ids, ``offsets`` ``[B]`` start of each text -> ``[B, 3]`` logits."""
        lengths = torch.diff(offsets, append=torch.tensor([ids.numel()]))  # [B]
        row = torch.repeat_interleave(torch.arange(offsets.numel()), lengths)  # [total]: text of each id
        keep = torch.ones(ids.numel())
        if self.training and self.feature_dropout > 0:
            keep = (torch.rand(ids.numel()) >= self.feature_dropout).float()
        kept = torch.zeros(offsets.numel()).index_add_(0, row, keep).clamp(min=1.0)  # [B]
        weights = keep / kept[row]  # a weighted sum that is the mean over the kept features
        return self.head(self.bag(ids, offsets, per_sample_weights=weights))  # [total] -> [B, dim] -> [B, 3]


class NgramFallback:
    """The fallback as a route of :class:`~ml.sentiment.model.SentimentModel` (one route for every language)."""

    kind = "ngram_fallback"

    def __init__(self, hasher: NgramHasher, net: FallbackNet) -> None:
        self.hasher, self.module = hasher, net

    @classmethod
    def new(cls, config: HasherConfig = HasherConfig(), dim: int = 64, hidden: int = 128, dropout: float = 0.2,
            feature_dropout: float = 0.5) -> NgramFallback:
        """An untrained fallback."""
        return cls(NgramHasher(config), FallbackNet(config.buckets, dim, hidden, dropout, feature_dropout))

    def featurize(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Bucket ids per text."""
        return [self.hasher.ids(t) for t in texts]

    def prepare(self, features: list[np.ndarray], train_idx: np.ndarray) -> None:
        """Nothing to fit before training: hashed features need no scaler."""

    def logits(self, features: list[np.ndarray], idx: np.ndarray | None = None) -> torch.Tensor:
        """``[n, 3]`` logits for the texts ``idx`` (all when None)."""
        rows = features if idx is None else [features[i] for i in idx]
        lengths = np.fromiter((len(r) for r in rows), np.int64, count=len(rows))
        offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]) if len(rows) else np.zeros(0, np.int64)
        flat = np.concatenate(rows) if rows else np.zeros(0, np.int64)
        return self.module(torch.from_numpy(flat), torch.from_numpy(offsets.astype(np.int64)))

    def describe(self) -> dict[str, Any]:
        """JSON that rebuilds this route."""
        return {"type": self.kind, "hasher": asdict(self.hasher.config), "net": self.module.hparams}

    @classmethod
    def from_description(cls, desc: dict[str, Any], wrap: Any = None) -> NgramFallback:
        """Rebuild an untrained fallback from :meth:`describe` (``wrap`` is unused: there is no encoder)."""
        return cls(NgramHasher(HasherConfig(**desc["hasher"])), FallbackNet(**desc["net"]))
