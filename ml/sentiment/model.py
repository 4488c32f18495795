"""The sentiment model: routes each text by language to a trained path and predicts probabilities, score, confidence.

A path (route) is a frozen encoder with its MLP head, an encoder fine-tuned together with its head, or the
n-gram fallback. Routing is a small table from
language code to encoder, with ``*`` for every other language, so "MiniLM for English, E5 for the rest" and "E5
for everything" are the same class with different tables. The model saves through the model store as
safetensors weights plus JSON that names the encoders and hyperparameters, and is rebuilt from that JSON alone.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from ground.choices import choice_hint
from ground.lang import detect_language
from ml.errors import IntegrityError, ModelError
from ml.sentiment.encoders import ENCODERS, TextEncoder
from ml.sentiment.ensemble import EnsembleRoute, is_ensemble_spec, member_specs
from ml.sentiment.fallback import HasherConfig, NgramFallback
from ml.sentiment.finetune import FINETUNABLE, FineTuneConfig, FineTunedHead, is_finetuned_spec
from ml.sentiment.head import EncoderHead
from ml.sentiment.labels import LABELS, confidence_from_probs, score_from_probs

MODEL_KIND = "LLM"  # the model store's folder for sentiment models
MODEL_CLASS = "SentimentModel"
FORMAT_VERSION = 1
DEFAULT_MODEL_NAME = "sentiment"  # the store name that strategies load by default
FALLBACK_MODEL_NAME = "sentiment-fallback"
DEFAULT_ROUTE = "*"
FALLBACK_ROUTE = "fallback"

ROUTINGS: Mapping[str, Mapping[str, str]] = MappingProxyType({
    "per-language": MappingProxyType({"en": "minilm", DEFAULT_ROUTE: "e5"}),
    "per-language-ft": MappingProxyType({"en": "minilm-ft", DEFAULT_ROUTE: "e5"}),
    "multilingual": MappingProxyType({DEFAULT_ROUTE: "e5"}),
    "ensemble": MappingProxyType({DEFAULT_ROUTE: "e5+fallback"}),
})
# Chosen on the selection half of the seed file only (docs/benchmarks.md, ADR 0012): E5's head and the n-gram
# fallback, averaged, beat either alone in both languages; it needs no fine-tuning, so it trains in about a minute.
DEFAULT_ROUTING = "ensemble"


class Route(Protocol):
    """What a trained path offers the model (implemented by EncoderHead, FineTunedHead and NgramFallback)."""

    kind: str

    @property
    def module(self) -> nn.Module:
        """The trainable part, saved with the model's weights."""
        ...

    def featurize(self, texts: Sequence[str]) -> Any: ...

    def prepare(self, features: Any, train_idx: np.ndarray) -> None: ...

    def logits(self, features: Any, idx: np.ndarray | None = None) -> torch.Tensor: ...

    def describe(self) -> dict[str, Any]: ...


def _ensemble_from_description(desc: dict[str, Any], wrap: Any = None) -> Route:
    return EnsembleRoute.from_description(desc, wrap, ROUTE_TYPES)


ROUTE_TYPES: Mapping[str, Callable[..., Route]] = MappingProxyType({
    EncoderHead.kind: EncoderHead.from_description,
    FineTunedHead.kind: FineTunedHead.from_description,
    NgramFallback.kind: NgramFallback.from_description,
    EnsembleRoute.kind: _ensemble_from_description,
})

# the fallback's own defaults when it is a member of an ensemble: its embeddings start from scratch
FALLBACK_HIDDEN, FALLBACK_DROPOUT = 128, 0.3


def new_route(spec: str, wrap: Callable[[TextEncoder], TextEncoder] | None = None, hidden: int = 256,
              dropout: float = 0.1, finetune: FineTuneConfig = FineTuneConfig(),
              hasher: HasherConfig = HasherConfig()) -> Route:
    """An untrained route for one routing entry: a frozen encoder with a head, a fine-tuned encoder, the n-gram
    fallback, or an ensemble of those (``a+b``)."""
    from ml.sentiment.encoders import build_encoder

    if is_ensemble_spec(spec):
        members = member_specs(spec)
        return EnsembleRoute(members, [new_route(m, wrap, hidden, dropout, finetune, hasher) for m in members])
    if spec == FALLBACK_ROUTE:
        return NgramFallback.new(hasher, hidden=FALLBACK_HIDDEN, dropout=FALLBACK_DROPOUT)
    if is_finetuned_spec(spec):
        return FineTunedHead.new(spec, wrap, hidden, dropout, finetune.max_length, finetune.quantize)
    encoder = build_encoder(spec)
    return EncoderHead.new(spec, wrap(encoder) if wrap else encoder, hidden, dropout)


def normalise_lang(lang: str) -> str:
    """``zh-CN``, ``ZH_hans`` -> ``zh``; ``en-US`` -> ``en``; the primary subtag, lower case."""
    return re.split(r"[-_]", str(lang).strip().lower(), maxsplit=1)[0]


def parse_routing(spec: str) -> dict[str, str]:
    """Routing table from a preset name (``per-language``, ``per-language-ft``, ``multilingual``), one encoder for
    every language (``minilm``, ``e5``, a model folder; ``minilm-ft`` or ``ft:<folder>`` for a fine-tuned one), or
    explicit ``lang=encoder`` pairs (``en=minilm-ft,zh=e5,*=e5``).

    Without a ``*`` entry, languages not listed use the first listed encoder.
    """
    spec = spec.strip()
    if spec in ROUTINGS:
        return dict(ROUTINGS[spec])
    if "=" not in spec:
        for member in member_specs(spec) if is_ensemble_spec(spec) else [spec]:
            _check_spec(member)
        return {DEFAULT_ROUTE: spec}
    table: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        lang, sep, enc = part.partition("=")
        if not sep or not lang.strip() or not enc.strip():
            raise ModelError(f"bad routing entry {part!r}", "--encoder", "write lang=encoder, e.g. en=minilm,*=e5")
        key = lang.strip() if lang.strip() == DEFAULT_ROUTE else normalise_lang(lang)
        for member in member_specs(enc) if is_ensemble_spec(enc) else [enc.strip()]:
            _check_spec(member)
        table[key] = enc.strip()
    table.setdefault(DEFAULT_ROUTE, next(iter(table.values())))
    return table


def _check_spec(spec: str) -> None:
    """One encoder entry: a registry name, a fine-tuned spec, ``fallback``, or something that looks like a path."""
    if spec in ENCODERS or spec == FALLBACK_ROUTE or is_finetuned_spec(spec) or re.search(r"[/\\.]", spec):
        return
    choices = [*ROUTINGS, *ENCODERS, *FINETUNABLE, FALLBACK_ROUTE]
    raise ModelError(f"unknown encoder or routing {spec!r}", "--encoder",
                     f"{choice_hint(spec, choices)} (or lang=encoder pairs, a+b ensembles, or a Hugging Face model folder)")


def _named(spec: str) -> bool:
    parts = member_specs(spec) if is_ensemble_spec(spec) else [spec]
    return all(p in ENCODERS or p in FINETUNABLE or p == FALLBACK_ROUTE for p in parts)


def path_names(table: Mapping[str, str]) -> dict[str, str]:
    """The path name of each distinct encoder spec of a routing table: the spec when it uses registry names only
    (``e5``, ``minilm-ft+e5+fallback``), else ``hf<i>`` (a model folder in it)."""
    names: dict[str, str] = {}
    for spec in dict.fromkeys(table.values()):
        names[spec] = spec if _named(spec) else f"hf{len(names)}"
    return names


@dataclass(frozen=True)
class Prediction:
    """Class probabilities ``[N, 3]`` (``LABELS`` order) and what follows from them."""

    probs: np.ndarray

    @property
    def score(self) -> np.ndarray:
        """P(positive) - P(negative), in [-1, 1]."""
        return score_from_probs(self.probs)

    @property
    def confidence(self) -> np.ndarray:
        """1 - normalised entropy, in [0, 1]."""
        return confidence_from_probs(self.probs)

    @property
    def labels(self) -> list[str]:
        return [LABELS[i] for i in self.probs.argmax(axis=1)]


def _check_loaded(path: Route, desc: dict[str, Any], name: str, where: str) -> None:
    """After loading weights: a fine-tuned encoder must hash to the saved id, a frozen one must be the trained one."""
    if isinstance(path, EnsembleRoute):
        for member, member_desc in zip(path.members, desc["members"], strict=True):
            _check_loaded(member, member_desc, name, where)
    elif isinstance(path, FineTunedHead):
        path.raw.refresh()
        if path.encoder.id != desc["encoder_id"]:
            raise IntegrityError(f"fine-tuned weights of path {name!r} are {path.encoder.id}, but "
                                 f"{desc['encoder_id']} was saved", where, "retrain or restore the model")
    elif isinstance(path, EncoderHead) and path.encoder.id != desc["encoder_id"]:
        raise ModelError(
            f"encoder {desc['encoder']!r} is {path.encoder.id}, but the head was trained on "
            f"{desc['encoder_id']}", where, "install the encoder version it was trained with, or retrain")


class SentimentModel:
    """Language routing over trained paths. ``routes`` maps a language (or ``*``) to a key of ``paths``."""

    def __init__(self, routes: Mapping[str, str], paths: Mapping[str, Route]) -> None:
        if DEFAULT_ROUTE not in routes:
            raise ModelError("routing has no default entry", "routes", f"add {DEFAULT_ROUTE!r} for other languages")
        unknown = sorted(set(routes.values()) - set(paths))
        if unknown:
            raise ModelError(f"routes name unknown paths {unknown}", "routes", f"known paths: {sorted(paths)}")
        self.routes, self.paths = dict(routes), dict(paths)

    @classmethod
    def with_encoders(cls, routing: str, wrap: Callable[[TextEncoder], TextEncoder] | None = None,
                      hidden: int = 256, dropout: float = 0.1,
                      finetune: FineTuneConfig = FineTuneConfig()) -> SentimentModel:
        """An untrained transformer model: one path per distinct encoder of :func:`parse_routing`'s table, frozen
        or fine-tuned by its spec (``wrap`` may add a cache to each encoder)."""

        table = parse_routing(routing)
        names = path_names(table)
        paths = {name: new_route(spec, wrap, hidden, dropout, finetune) for spec, name in names.items()}
        return cls({lang: names[spec] for lang, spec in table.items()}, paths)

    @classmethod
    def fallback(cls, hasher: HasherConfig = HasherConfig(), hidden: int = 128, dropout: float = 0.2,
                 feature_dropout: float = 0.5) -> SentimentModel:
        """An untrained n-gram fallback serving every language."""
        path = NgramFallback.new(hasher, hidden=hidden, dropout=dropout, feature_dropout=feature_dropout)
        return cls({DEFAULT_ROUTE: FALLBACK_ROUTE}, {FALLBACK_ROUTE: path})

    @property
    def kind(self) -> str:
        """``fallback`` or ``transformer``."""
        return "fallback" if all(p.kind == NgramFallback.kind for p in self.paths.values()) else "transformer"

    def route_of(self, lang: str) -> str:
        """The path that serves a language."""
        return self.routes.get(normalise_lang(lang), self.routes[DEFAULT_ROUTE])

    def predict(self, texts: Sequence[str], langs: Sequence[str] | None = None) -> Prediction:
        """Probabilities for each text; ``langs`` (one per text) is detected from the script when omitted."""
        texts = list(texts)
        if langs is None:
            langs = [detect_language(t) for t in texts]
        elif len(langs) != len(texts):
            raise ModelError(f"{len(langs)} languages for {len(texts)} texts", "predict", "pass one lang per text")
        probs = np.zeros((len(texts), len(LABELS)), dtype=np.float64)
        served = np.array([self.route_of(lang) for lang in langs], dtype=object)
        for name, path in self.paths.items():
            idx = np.flatnonzero(served == name)
            if idx.size == 0:
                continue
            path.module.eval()
            with torch.inference_mode():
                logits = path.logits(path.featurize([texts[i] for i in idx]))
            probs[idx] = torch.softmax(logits.double(), dim=-1).numpy()
        return Prediction(probs)

    def describe(self) -> dict[str, Any]:
        """The JSON that rebuilds the model (weights aside)."""
        return {
            "class": MODEL_CLASS, "format": FORMAT_VERSION, "labels": list(LABELS), "kind": self.kind,
            "routes": self.routes, "paths": {name: p.describe() for name, p in self.paths.items()},
        }

    def tensors(self) -> dict[str, torch.Tensor]:
        """Every weight, keyed ``<path>.<parameter>``."""
        return {f"{name}.{key}": t.detach().clone().contiguous()
                for name, p in self.paths.items() for key, t in p.module.state_dict().items()}

    def save(self, store: Any, name: str, meta: Mapping[str, Any] | None = None) -> Any:
        """Save a version under ``<store>/LLM/<name>/``; ``meta`` adds training facts (metrics, data...)."""
        return store.save(MODEL_KIND, name, self.tensors(), {**dict(meta or {}), **self.describe()})

    @classmethod
    def from_parts(cls, tensors: Mapping[str, torch.Tensor], meta: Mapping[str, Any],
                   wrap: Callable[[TextEncoder], TextEncoder] | None = None, where: str = "") -> SentimentModel:
        """Rebuild from weights and metadata, checking the schema and that every encoder is the trained one."""
        if meta.get("class") != MODEL_CLASS or meta.get("format") != FORMAT_VERSION:
            raise IntegrityError(
                f"not a sentiment model of format {FORMAT_VERSION} (class={meta.get('class')!r}, "
                f"format={meta.get('format')!r})", where, "train it again with bt-train sentiment")
        if list(meta.get("labels", [])) != list(LABELS):
            raise IntegrityError(f"labels {meta.get('labels')} differ from {list(LABELS)}", where, "retrain the model")
        paths: dict[str, Route] = {}
        for name, desc in meta["paths"].items():
            if desc.get("type") not in ROUTE_TYPES:
                raise IntegrityError(f"unknown path type {desc.get('type')!r}", where, f"known: {sorted(ROUTE_TYPES)}")
            path = ROUTE_TYPES[desc["type"]](desc, wrap)
            prefix = f"{name}."
            state = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
            try:
                path.module.load_state_dict(state, strict=True)
            except RuntimeError as exc:
                raise IntegrityError(f"weights of path {name!r} do not fit its hyperparameters: {exc}", where,
                                     "the model files are inconsistent; retrain or restore them") from exc
            _check_loaded(path, desc, name, where)
            path.module.eval()
            paths[name] = path
        return cls(meta["routes"], paths)

    @classmethod
    def load(cls, store: Any, name: str, version: str = "latest",
             wrap: Callable[[TextEncoder], TextEncoder] | None = None) -> SentimentModel:
        """Load a saved version from the model store (which verifies the weights' sha256)."""
        tensors, meta = store.load(MODEL_KIND, name, version)
        return cls.from_parts(tensors, meta, wrap, where=f"{MODEL_KIND}/{name}/{version}")
