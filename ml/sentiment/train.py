"""Training pipeline of the sentiment model: labeled CSV in, trained model and a report of its metrics out.

The split is stratified by label *and* language so that each language keeps its class balance in validation;
each path (encoder head or fallback) is trained on the rows routed to it with class weights from its training
rows, and stops early when the validation loss stops improving (restoring the best epoch's weights); a
fine-tuned path trains its encoder with its head (``ml.sentiment.finetune``) and keeps its best validation
state. Training runs under its own seeded RNG, so the same data, config and seed give the same weights, hence
the same content-derived version id in the model store.
"""
from __future__ import annotations

import copy
import hashlib
import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.nn import functional as F

from ground.errors import DataError
from ml.device import torch_threads
from ml.sentiment.encoders import CachedEncoder, EmbeddingCache
from ml.sentiment.ensemble import EnsembleRoute
from ml.sentiment.fallback import HasherConfig, NgramFallback
from ml.sentiment.finetune import FineTuneConfig, FineTunedHead, finetune
from ml.sentiment.labels import LABELS, balanced_class_weights, label_index
from ml.sentiment.metrics import Metrics, format_confusion, format_table, metrics_by_language
from ml.sentiment.model import (
    DEFAULT_MODEL_NAME,
    DEFAULT_ROUTE,
    DEFAULT_ROUTING,
    FALLBACK_MODEL_NAME,
    Route,
    SentimentModel,
    new_route,
    normalise_lang,
    parse_routing,
    path_names,
)
from ml.store import ModelStore, ModelVersion

log = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("lang", "text", "label")
HOLDOUT_SALT = "sentiment-holdout-v1"  # changing it draws another split: never change it after results are seen
DEFAULT_CACHE = Path(".cache") / "sentiment-embeddings.sqlite"


def default_training_files() -> list[Path]:
    """The project's own labeled, dated headlines shipped inside the package (every CSV of ``data/``)."""
    return sorted(Path(str(p)) for p in resources.files("ml.sentiment").joinpath("data").iterdir()
                  if p.name.endswith(".csv"))


@dataclass(frozen=True)
class LabeledSet:
    """Labeled headlines: parallel tuples, label indices in ``LABELS`` order, and a fingerprint of the file."""

    ids: tuple[str, ...]
    texts: tuple[str, ...]
    langs: tuple[str, ...]
    labels: np.ndarray
    source: str
    fingerprint: str
    dates: tuple[date | None, ...] = ()  # when each row became known; empty when the file has no date column

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def cutoff(self) -> date | None:
        """The latest row date: the model trained on these rows has seen nothing published after it. None when
        any row is undated (the cutoff is then unknown, not "never")."""
        if not self.dates or any(d is None for d in self.dates):
            return None
        return max(d for d in self.dates if d is not None)

    def subset(self, idx: np.ndarray, source: str | None = None) -> LabeledSet:
        """The rows ``idx`` (in that order); the fingerprint covers the parent's and the rows chosen."""
        rows = [int(i) for i in idx]
        digest = hashlib.sha256(f"{self.fingerprint}:{','.join(map(str, rows))}".encode()).hexdigest()
        return LabeledSet(tuple(self.ids[i] for i in rows), tuple(self.texts[i] for i in rows),
                          tuple(self.langs[i] for i in rows), self.labels[rows].copy(), source or self.source,
                          digest, tuple(self.dates[i] for i in rows) if self.dates else ())

    def until(self, cutoff: date) -> LabeledSet:
        """Only the rows dated on or before ``cutoff`` (a model trained on them is out of sample after it)."""
        if not self.dates or any(d is None for d in self.dates):
            raise DataError("rows without a date cannot be cut at a date", self.source,
                            "add a date column (YYYY-MM-DD) to every row")
        keep = np.flatnonzero([d is not None and d <= cutoff for d in self.dates])
        if keep.size == 0:
            raise DataError(f"no labeled rows dated on or before {cutoff.isoformat()}", self.source,
                            "choose a later cutoff or add older labeled rows")
        return self.subset(keep)

    def concat(self, other: LabeledSet) -> LabeledSet:
        """Both sets' rows; the dates are kept only when both sets are dated."""
        dates = self.dates + other.dates if self.dates and other.dates else ()
        digest = hashlib.sha256(f"{self.fingerprint}+{other.fingerprint}".encode()).hexdigest()
        return LabeledSet(self.ids + other.ids, self.texts + other.texts, self.langs + other.langs,
                          np.concatenate([self.labels, other.labels]), f"{self.source}+{Path(other.source).name}",
                          digest, dates)


def _row_date(value: str, where: str) -> date | None:
    value = str(value).strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError as exc:
        raise DataError(f"bad date {value!r}", where, "write dates as YYYY-MM-DD") from exc


def load_labeled(path: str | Path) -> LabeledSet:
    """Read a CSV with columns ``lang,text,label`` (``id`` and ``date`` optional: ``date`` is when the headline
    was published or, for written examples, added); every bad row is named by its line."""
    path = Path(path)
    if not path.is_file():
        raise DataError("labeled file not found", str(path), "pass --data with a CSV of lang,text,label")
    raw = path.read_bytes()
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except (UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise DataError(f"cannot parse CSV: {exc}", str(path), "save it as UTF-8 CSV with a header row") from exc
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(f"missing columns {missing}", str(path),
                        f"the header must include {', '.join(REQUIRED_COLUMNS)}")
    texts, langs, labels, dates = [], [], [], []
    has_dates = "date" in frame.columns
    seen: dict[str, tuple[int, int]] = {}
    for i, row in enumerate(frame.itertuples(index=False)):
        where = f"{path}:{i + 2}"  # line 1 is the header
        text, lang = str(row.text).strip(), normalise_lang(row.lang)
        if not text:
            raise DataError("empty text", where, "remove the row or fill in the headline")
        if not lang:
            raise DataError("empty lang", where, "set lang to a language code such as en or zh")
        label = label_index(row.label, where)
        if has_dates:
            dates.append(_row_date(row.date, where))
        if text in seen and seen[text][1] != label:
            raise DataError(f"same text labeled differently on line {seen[text][0]}", where, "keep one label")
        seen.setdefault(text, (i + 2, label))
        texts.append(text)
        langs.append(lang)
        labels.append(label)
    if not texts:
        raise DataError("no labeled rows", str(path), "add rows below the header")
    ids = tuple(frame["id"]) if "id" in frame.columns else tuple(str(i + 1) for i in range(len(texts)))
    return LabeledSet(ids, tuple(texts), tuple(langs), np.asarray(labels, dtype=np.int64), str(path),
                      hashlib.sha256(raw).hexdigest(), tuple(dates))


def load_training(paths: Sequence[str | Path]) -> LabeledSet:
    """Several labeled files as one training set (the project's data is split by theme into files)."""
    if not paths:
        raise DataError("no training files", "--data", "pass at least one labeled CSV")
    sets = [load_labeled(p) for p in paths]
    out = sets[0]
    for other in sets[1:]:
        out = out.concat(other)
    seen: dict[str, int] = {}
    for text, label in zip(out.texts, out.labels.tolist(), strict=True):
        if seen.setdefault(text, label) != label:
            raise DataError(f"the same text has two labels across files: {text!r}", out.source, "keep one label")
    return out


def holdout_split(ids: Sequence[str], labels: np.ndarray, langs: Sequence[str], fraction: float = 0.5,
                  salt: str = HOLDOUT_SALT) -> tuple[np.ndarray, np.ndarray]:
    """Selection and evaluation row indices, fixed by the rows' ids alone (no model, no result): within each
    (language, label) stratum, rows are ordered by sha256(salt:id) and the first ``fraction`` go to selection.
    Anything that is chosen (data, hyperparameters, routing, precision) may look at the selection rows only."""
    if not 0.0 < fraction < 1.0:
        raise ValueError("fraction must be in (0, 1)")
    strata: dict[tuple[str, int], list[int]] = {}
    for i, (lab, lang) in enumerate(zip(np.asarray(labels).tolist(), langs, strict=True)):
        strata.setdefault((lang, lab), []).append(i)
    selection: list[int] = []
    for key in sorted(strata):
        rows = sorted(strata[key], key=lambda i: hashlib.sha256(f"{salt}:{ids[i]}".encode()).digest())
        selection.extend(rows[: int(round(len(rows) * fraction))])
    sel = np.sort(np.asarray(selection, dtype=np.int64))
    return sel, np.setdiff1d(np.arange(len(labels)), sel)


def stratified_split(labels: np.ndarray, langs: tuple[str, ...], val_fraction: float,
                     seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Train and validation row indices; each (label, language) stratum gives ``val_fraction`` of its rows
    (at least one when it has two or more) to validation."""
    if not 0.0 < val_fraction < 1.0:
        raise ValueError("val_fraction must be in (0, 1)")
    rng = np.random.default_rng(seed)
    strata: dict[tuple[int, str], list[int]] = {}
    for i, (lab, lang) in enumerate(zip(labels.tolist(), langs, strict=True)):
        strata.setdefault((lab, lang), []).append(i)
    val: list[int] = []
    for key in sorted(strata):
        rows = rng.permutation(strata[key])
        n_val = int(round(len(rows) * val_fraction)) if len(rows) > 1 else 0
        val.extend(rows[: max(n_val, 1 if len(rows) > 1 else 0)].tolist())
    val_idx = np.sort(np.asarray(val, dtype=np.int64))
    train_idx = np.setdiff1d(np.arange(len(labels)), val_idx)
    return train_idx, val_idx


@dataclass(frozen=True)
class TrainConfig:
    """How to train. ``routing`` is a preset, an encoder or ``lang=encoder`` pairs; ignored when ``fallback``.
    ``finetune`` applies to fine-tuned paths only; the other fields to frozen-encoder heads and the fallback.
    ``catch_all_on_all_rows``: the ``*`` path, which must serve any language, trains on every labeled row (English
    rows helped the multilingual E5 head on Chinese), while the languages routed elsewhere are served there."""

    routing: str = DEFAULT_ROUTING
    fallback: bool = False
    hidden: int = 256
    dropout: float = 0.3
    lr: float = 3e-4
    weight_decay: float = 1e-4
    batch_size: int = 32
    max_epochs: int = 300
    patience: int = 25
    val_fraction: float = 0.2
    seed: int = 0
    buckets: int = 1 << 16  # hashed n-gram buckets of the fallback
    finetune: FineTuneConfig = FineTuneConfig()
    catch_all_on_all_rows: bool = True

    def __post_init__(self) -> None:
        if self.buckets < 2:
            raise ValueError("TrainConfig: buckets must be >= 2")
        if self.hidden < 1 or self.batch_size < 1 or self.max_epochs < 1 or self.patience < 1:
            raise ValueError("TrainConfig: hidden, batch_size, max_epochs and patience must be >= 1")
        if self.lr <= 0 or self.weight_decay < 0 or not 0.0 <= self.dropout < 1.0:
            raise ValueError("TrainConfig: need lr > 0, weight_decay >= 0 and 0 <= dropout < 1")


def fallback_config(seed: int = 0) -> TrainConfig:
    """Defaults for the n-gram fallback: its embeddings start from scratch, so it learns faster and regularises more."""
    return TrainConfig(fallback=True, hidden=128, dropout=0.3, lr=3e-3, weight_decay=1e-5, seed=seed)


@dataclass(frozen=True)
class PathFit:
    """How one path trained. ``epochs`` and ``best_epoch`` count validation evaluations, ``evals_per_epoch`` of
    which make one pass over the training rows (one for frozen heads and the fallback)."""

    n_train: int
    n_val: int
    epochs: int
    best_epoch: int
    best_val_loss: float
    evals_per_epoch: int = 1


@dataclass(frozen=True)
class TrainReport:
    """What training produced: validation metrics per language and per path, with what is needed to reproduce it."""

    kind: str
    routes: dict[str, str]
    config: TrainConfig
    n_train: int
    n_val: int
    metrics: dict[str, Metrics]
    paths: dict[str, PathFit]
    data_source: str
    data_fingerprint: str
    seconds: float = field(compare=False)
    cutoff: date | None = None  # latest date of the rows trained on (None: undated rows)

    def to_dict(self) -> dict[str, Any]:
        """JSON for the model's metadata (timing left out so equal training gives equal metadata)."""
        return {
            "kind": self.kind, "routes": self.routes, "config": asdict(self.config),
            "n_train": self.n_train, "n_val": self.n_val,
            "validation": {lang: m.to_dict() for lang, m in self.metrics.items()},
            "paths": {name: asdict(fit) for name, fit in self.paths.items()},
            "data": {"source": Path(self.data_source).name, "sha256": self.data_fingerprint},
            "cutoff": self.cutoff.isoformat() if self.cutoff else None,
        }

    def table(self) -> str:
        """Validation metrics per language, then each language's confusion matrix."""
        parts = [format_table({f"{self.kind} (validation)": self.metrics})]
        for lang, m in self.metrics.items():
            if lang != "all":
                parts.append(f"\nconfusion [{lang}] (rows true, columns predicted)\n{format_confusion(m)}")
        return "\n".join(parts)


def _optimizers(module: torch.nn.Module, cfg: TrainConfig) -> list[torch.optim.Optimizer]:
    """AdamW for dense weights; SparseAdam for sparse embedding tables, whose rows a batch barely touches
    (a dense update of a 65k-row table would dominate the step time)."""
    sparse = [p for m in module.modules() if isinstance(m, nn.Embedding | nn.EmbeddingBag) and m.sparse
              for p in m.parameters()]
    sparse_ids = {id(p) for p in sparse}
    dense = [p for p in module.parameters() if id(p) not in sparse_ids]
    opts: list[torch.optim.Optimizer] = [torch.optim.AdamW(dense, lr=cfg.lr, weight_decay=cfg.weight_decay)]
    if sparse:
        opts.append(torch.optim.SparseAdam(sparse, lr=cfg.lr))
    return opts


def _fit_path(path: Route, features: Any, y: torch.Tensor, train: np.ndarray, val: np.ndarray,
              cfg: TrainConfig, name: str) -> PathFit:
    """Mini-batch AdamW on class-weighted cross-entropy, early stopping on validation loss, best weights kept."""
    # one thread: the heads are so small that thread hand-offs cost more than the arithmetic (a training step
    # measured 10x faster on this 2-core machine), and the other core stays free
    with torch_threads(1):
        return _fit_loop(path, features, y, train, val, cfg, name)


def _fit_loop(path: Route, features: Any, y: torch.Tensor, train: np.ndarray, val: np.ndarray,
              cfg: TrainConfig, name: str) -> PathFit:
    path.prepare(features, train)
    weights = torch.from_numpy(balanced_class_weights(y[torch.from_numpy(train)].numpy())).float()
    opts = _optimizers(path.module, cfg)
    best_loss, best_epoch, best_state, stale, epoch = float("inf"), 0, None, 0, 0
    for epoch in range(1, cfg.max_epochs + 1):
        path.module.train()
        order = train[torch.randperm(len(train)).numpy()]
        for start in range(0, len(order), cfg.batch_size):
            batch = order[start : start + cfg.batch_size]
            loss = F.cross_entropy(path.logits(features, batch), y[torch.from_numpy(batch)], weight=weights)
            for opt in opts:
                opt.zero_grad()
            loss.backward()
            for opt in opts:
                opt.step()
        path.module.eval()
        with torch.no_grad():
            val_loss = float(F.cross_entropy(path.logits(features, val), y[torch.from_numpy(val)], weight=weights))
        if val_loss < best_loss - 1e-4:
            best_loss, best_epoch, best_state, stale = val_loss, epoch, copy.deepcopy(path.module.state_dict()), 0
        else:
            stale += 1
            if stale >= cfg.patience:
                break
    if best_state is not None:
        path.module.load_state_dict(best_state)
    path.module.eval()
    log.info("path %s: %d epochs, best epoch %d, validation loss %.4f", name, epoch, best_epoch, best_loss)
    return PathFit(len(train), len(val), epoch, best_epoch, best_loss)


def _train_route(path: Route, name: str, texts: list[str], y: torch.Tensor, train: np.ndarray, val: np.ndarray,
                 config: TrainConfig) -> dict[str, PathFit]:
    """Train one route on ``texts`` (rows ``train``, validation rows ``val``); an ensemble trains each member as it
    would train alone, the n-gram fallback with the fallback's own optimiser settings."""
    if isinstance(path, EnsembleRoute):
        fits: dict[str, PathFit] = {}
        for spec, member in zip(path.specs, path.members, strict=True):
            torch.manual_seed(config.seed)
            fits.update(_train_route(member, f"{name}/{spec}", texts, y, train, val, config))
        return fits
    if isinstance(path, FineTunedHead):
        fit = finetune(path, texts, y, train, val, config.finetune, name)
        return {name: PathFit(len(train), len(val), fit.evaluations, fit.best_evaluation, fit.best_val_loss,
                              config.finetune.evals_per_epoch)}
    if isinstance(path, NgramFallback) and not config.fallback:
        config = replace(fallback_config(config.seed), buckets=config.buckets)
    log.info("path %s: featurising %d texts", name, len(texts))
    return {name: _fit_path(path, path.featurize(texts), y, train, val, config, name)}


def _build(config: TrainConfig, wrap: Any) -> tuple[SentimentModel, dict[str, torch.Tensor]]:
    """The untrained model, each path built right after seeding torch, with the RNG state its training starts
    from: a path's weights depend on its rows, config and seed, not on which other paths the routing has."""
    if config.fallback:
        torch.manual_seed(config.seed)
        model = SentimentModel.fallback(HasherConfig(buckets=config.buckets), config.hidden, config.dropout)
        return model, {name: torch.get_rng_state() for name in model.paths}
    table = parse_routing(config.routing)
    paths: dict[str, Route] = {}
    rng: dict[str, torch.Tensor] = {}
    for spec, name in path_names(table).items():
        torch.manual_seed(config.seed)
        paths[name] = new_route(spec, wrap, config.hidden, config.dropout, config.finetune,
                                HasherConfig(buckets=config.buckets))
        rng[name] = torch.get_rng_state()
    names = path_names(table)
    return SentimentModel({lang: names[spec] for lang, spec in table.items()}, paths), rng


def train_sentiment(data: LabeledSet, config: TrainConfig = TrainConfig(),
                    cache: EmbeddingCache | None = None) -> tuple[SentimentModel, TrainReport]:
    """Train a model on ``data`` (the fallback when ``config.fallback``), report validation metrics per language."""
    started = time.perf_counter()
    train_idx, val_idx = stratified_split(data.labels, data.langs, config.val_fraction, config.seed)
    y = torch.from_numpy(data.labels)
    wrap = (lambda enc: CachedEncoder(enc, cache)) if cache is not None else None
    probs = np.zeros((len(data), len(LABELS)))
    fits: dict[str, PathFit] = {}
    with torch.random.fork_rng(devices=[]):
        model, rng = _build(config, wrap)
        served = np.array([model.route_of(lang) for lang in data.langs], dtype=object)
        for name, path in model.paths.items():
            torch.set_rng_state(rng[name])
            catch_all = config.catch_all_on_all_rows and model.routes[DEFAULT_ROUTE] == name
            rows = np.arange(len(data)) if catch_all else np.flatnonzero(served == name)
            tr, va = np.intersect1d(rows, train_idx), np.intersect1d(rows, val_idx)
            if len(tr) < len(LABELS) or len(va) == 0:
                raise DataError(
                    f"too few labeled rows for path {name!r} ({len(tr)} train, {len(va)} validation)", data.source,
                    "add labeled headlines in the languages this path serves")
            local = np.full(len(data), -1, dtype=np.int64)
            local[rows] = np.arange(len(rows))  # global row -> row of this path's features
            texts = [data.texts[i] for i in rows]
            fits.update(_train_route(path, name, texts, y[torch.from_numpy(rows)], local[tr], local[va], config))
            path.module.eval()
            with torch.no_grad():  # validation as served (int8 when a fine-tuned encoder is quantized)
                p = torch.softmax(path.logits(path.featurize([data.texts[i] for i in va])).double(), dim=-1).numpy()
            mine = served[va] == name  # validation rows this path serves (a catch-all path trains on more)
            probs[va[mine]] = p[mine]
    pred = probs[val_idx].argmax(axis=1)
    metrics = metrics_by_language(data.labels[val_idx], pred, [data.langs[i] for i in val_idx])
    report = TrainReport(model.kind, dict(model.routes), config, len(train_idx), len(val_idx), metrics, fits,
                         data.source, data.fingerprint, time.perf_counter() - started, data.cutoff)
    return model, report


def train_and_save(data_path: str | Path | Sequence[str | Path] | None, config: TrainConfig,
                   store_root: str | Path, name: str | None = None,
                   cache_path: str | Path | None = DEFAULT_CACHE,
                   until: date | None = None) -> tuple[ModelVersion, TrainReport]:
    """Train on a labeled CSV and store the model (``sentiment`` or ``sentiment-fallback`` unless ``name``).

    The metadata carries the validation metrics, the training config and the data's sha256; training is
    deterministic, so retraining on the same data stores nothing new (same content-derived version).
    ``data_path`` None trains on the project's own files; ``until`` keeps only rows dated on or before it, for a
    version that is out of sample after that date. The training cutoff (latest row date) goes into the metadata.
    """
    if data_path is None:
        data = load_training(default_training_files())
    elif isinstance(data_path, str | Path):
        data = load_labeled(data_path)
    else:
        data = load_training(list(data_path))
    if until is not None:
        data = data.until(until)
    cache = EmbeddingCache(cache_path) if cache_path is not None and not config.fallback else None
    try:
        model, report = train_sentiment(data, config, cache)
    finally:
        if cache is not None:
            cache.close()
    meta = {
        "training": report.to_dict(),
        "metrics": {lang: m.to_dict() for lang, m in report.metrics.items()},
        "data_fingerprint": data.fingerprint,
        "training_cutoff": data.cutoff.isoformat() if data.cutoff else None,
    }
    target = name or (FALLBACK_MODEL_NAME if config.fallback else DEFAULT_MODEL_NAME)
    return model.save(ModelStore(store_root), target, meta), report
