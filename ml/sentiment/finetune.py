"""A fine-tuned transformer route: a Hugging Face encoder trained end to end together with its MLP head.

A frozen encoder with a head separated our own headlines almost perfectly but generalised poorly to other
headlines (frozen MiniLM: English 0.71 on the evaluation file, see docs/benchmarks.md): the sentence vectors
of all-MiniLM-L6-v2 are made for topic similarity, and "loss narrower than expected" sits next to "loss wider
than expected". Training the encoder's weights with the head moves those words apart.

Serving has the same shape as a frozen route: the fine-tuned transformer is a :class:`TextEncoder` whose id is
a digest of its own weights (and of int8 or fp32 serving), so neither the frozen base's cached vectors nor
another fine-tuning's are ever reused; the head runs on its pooled vectors. The Linear layers are quantized to
int8 for serving when the route says so (dynamic quantization: weights int8, activations quantized per batch).
"""
from __future__ import annotations

import copy
import hashlib
import logging
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ml.device import available_threads, torch_threads
from ml.errors import ModelError
from ml.sentiment.encoders import HFEncoder, TextEncoder, build_encoder
from ml.sentiment.head import MLPHead
from ml.sentiment.labels import LABELS, balanced_class_weights
from ml.sentiment.metrics import classification_metrics

log = logging.getLogger(__name__)

FINETUNABLE: Mapping[str, str] = MappingProxyType({"minilm-ft": "minilm"})  # route spec -> base encoder
FT_PREFIX = "ft:"  # "ft:<Hugging Face folder>" fine-tunes any local BERT-like checkpoint


def is_finetuned_spec(spec: str) -> bool:
    """Whether a routing entry names a fine-tuned encoder (``minilm-ft`` or ``ft:<folder>``)."""
    return spec in FINETUNABLE or spec.startswith(FT_PREFIX)


def base_spec(spec: str) -> str:
    """The frozen encoder a fine-tuned spec starts from."""
    return FINETUNABLE.get(spec) or spec[len(FT_PREFIX):]


@dataclass(frozen=True)
class FineTuneConfig:
    """How a fine-tuned route trains and serves. The encoder moves with a small learning rate (large ones erase
    what pretraining learned), the freshly initialised head with a larger one; both warm up linearly and then
    decay linearly to zero over ``epochs``. Validation runs ``evals_per_epoch`` times per epoch and the best
    state by validation macro-F1 (ties: lower loss) is kept; ``patience`` evaluations without improvement stop.
    ``freeze_embeddings`` keeps the word-embedding matrix (half of MiniLM's weights) as pretrained: a few thousand
    headlines touch few of its rows, and its dense gradient and optimizer update dominated a CPU step."""

    encoder_lr: float = 5e-5
    head_lr: float = 1e-3
    weight_decay: float = 0.01
    epochs: int = 3
    warmup: float = 0.1
    batch_size: int = 16
    max_length: int = 64
    evals_per_epoch: int = 2
    patience: int = 3
    freeze_embeddings: bool = True
    quantize: bool = True

    def __post_init__(self) -> None:
        if self.encoder_lr <= 0 or self.head_lr <= 0 or self.weight_decay < 0:
            raise ValueError("FineTuneConfig: need encoder_lr > 0, head_lr > 0 and weight_decay >= 0")
        if min(self.epochs, self.batch_size, self.evals_per_epoch, self.patience) < 1 or self.max_length < 8:
            raise ValueError("FineTuneConfig: epochs, batch_size, evals_per_epoch, patience >= 1; max_length >= 8")
        if not 0.0 <= self.warmup < 1.0:
            raise ValueError("FineTuneConfig: warmup is a fraction of the steps in [0, 1)")


class FineTunedClassifier(nn.Module):
    """``input_ids, attention_mask [B, T]`` -> transformer -> masked mean pooling -> L2 norm -> MLP head."""

    transformer: Any  # a Hugging Face model: its config and embeddings are read by attribute

    def __init__(self, transformer: nn.Module, head: MLPHead) -> None:
        super().__init__()
        self.transformer, self.head = transformer, head

    def pooled(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.transformer(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state  # [B, T, D]
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)  # [B, T] -> [B, T, 1]
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)  # [B, T, D] -> [B, D]
        return F.normalize(pooled, dim=-1)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.head(self.pooled(input_ids, attention_mask))


def _quantized(transformer: nn.Module) -> nn.Module:
    """An int8 copy of the transformer's Linear layers. ``torch.ao.quantization`` announces its move to torchao;
    on the pinned torch it is the CPU's int8 kernel (VNNI), so those two notices are silenced here and only here."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="torch.ao.quantization is deprecated", category=DeprecationWarning)
        warnings.filterwarnings("ignore", message="torch.quantize_per_tensor", category=UserWarning)
        return torch.ao.quantization.quantize_dynamic(copy.deepcopy(transformer), {nn.Linear}, dtype=torch.qint8)


def weights_digest(module: nn.Module) -> str:
    """Short sha256 over a module's state (names, shapes, bytes): changes whenever a weight does."""
    h = hashlib.sha256()
    for key, tensor in sorted(module.state_dict().items()):
        t = tensor.detach().to("cpu").contiguous()
        h.update(f"{key}:{t.dtype}:{tuple(t.shape)}\n".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()[:16]


class FineTunedEncoder:
    """The fine-tuned transformer as a :class:`TextEncoder`: length-sorted batches padded to their own longest
    text, ``inference_mode``, every available core, int8 Linear layers when ``quantize``."""

    def __init__(self, module: FineTunedClassifier, tokenizer: Any, name: str, max_length: int,
                 quantize: bool, batch_size: int = 64) -> None:
        self.module, self.tokenizer, self.name = module, tokenizer, name
        self.max_length, self.quantize, self.batch_size = max_length, quantize, batch_size
        self._id = ""
        self._int8: nn.Module | None = None

    def refresh(self) -> None:
        """Forget the id and the int8 copy: call after the weights changed (training, loading)."""
        self._id, self._int8 = "", None

    @property
    def id(self) -> str:
        if not self._id:
            serving = "int8" if self.quantize else "fp32"
            self._id = f"ft:{self.name}:{serving}:{weights_digest(self.module.transformer)}"
        return self._id

    @property
    def dim(self) -> int:
        return int(self.module.transformer.config.hidden_size)

    def _runner(self) -> nn.Module:
        if not self.quantize:
            return self.module.transformer.eval()
        if self._int8 is None:
            self._int8 = _quantized(self.module.transformer.eval()).eval()
        return self._int8

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        runner = self._runner()
        pool = FineTunedClassifier(runner, self.module.head)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        order = np.argsort([len(t) for t in texts], kind="stable")  # similar lengths share a batch: less padding
        with torch.inference_mode(), torch_threads(available_threads()):
            for start in range(0, len(texts), self.batch_size):
                idx = order[start : start + self.batch_size]
                batch = self.tokenizer([texts[i] for i in idx], padding=True, truncation=True,
                                       max_length=self.max_length, return_tensors="pt")
                out[idx] = pool.pooled(batch["input_ids"], batch["attention_mask"]).numpy()
        return out


def _base(spec: str) -> HFEncoder:
    encoder = build_encoder(base_spec(spec))
    if not isinstance(encoder, HFEncoder):
        raise ModelError(f"encoder {base_spec(spec)!r} cannot be fine-tuned", spec,
                         "fine-tune a Hugging Face encoder: minilm-ft, or ft:<model folder>")
    return encoder


class FineTunedHead:
    """A route whose encoder is fine-tuned with its head; ``module`` holds both, so both are saved."""

    kind = "finetuned_head"

    def __init__(self, spec: str, base_id: str, module: FineTunedClassifier, tokenizer: Any, max_length: int,
                 quantize: bool, wrap: Callable[[TextEncoder], TextEncoder] | None = None) -> None:
        self.spec, self.base_id, self.module = spec, base_id, module
        self.raw = FineTunedEncoder(module, tokenizer, base_spec(spec).rsplit("/", 1)[-1], max_length, quantize)
        self.encoder: TextEncoder = wrap(self.raw) if wrap is not None else self.raw

    @classmethod
    def new(cls, spec: str, wrap: Callable[[TextEncoder], TextEncoder] | None = None, hidden: int = 256,
            dropout: float = 0.1, max_length: int = 64, quantize: bool = True) -> FineTunedHead:
        """An untrained route from the base encoder's pretrained weights."""
        from transformers import AutoModel, AutoTokenizer

        base = _base(spec)
        transformer = AutoModel.from_pretrained(str(base.path))
        head = MLPHead(int(transformer.config.hidden_size), hidden, dropout)
        tokenizer = AutoTokenizer.from_pretrained(str(base.path))
        return cls(spec, base.id, FineTunedClassifier(transformer, head), tokenizer, max_length, quantize, wrap)

    @classmethod
    def from_description(cls, desc: dict[str, Any], wrap: Any = None) -> FineTunedHead:
        """Rebuild the route's architecture from :meth:`describe` (the weights come from the model file); the
        base encoder installed must be the one it was fine-tuned from (same tokenizer and configuration)."""
        from transformers import AutoConfig, AutoModel, AutoTokenizer

        base = _base(desc["encoder"])
        if base.id != desc["base_id"]:
            raise ModelError(f"encoder {desc['encoder']!r} was fine-tuned from {desc['base_id']}, but {base.id} is "
                             "installed", desc["encoder"], "install the base encoder it was trained from, or retrain")
        with torch.random.fork_rng(devices=[]):  # the random initialisation is overwritten by the saved weights
            transformer = AutoModel.from_config(AutoConfig.from_pretrained(str(base.path)))
            module = FineTunedClassifier(transformer, MLPHead(**desc["head"]))
        tokenizer = AutoTokenizer.from_pretrained(str(base.path))
        return cls(desc["encoder"], desc["base_id"], module, tokenizer, int(desc["max_length"]),
                   bool(desc["quantize"]), wrap)

    def set_quantize(self, quantize: bool) -> None:
        """Serve with int8 (True) or fp32 (False) Linear layers; the encoder id follows."""
        self.raw.quantize = quantize
        self.raw.refresh()

    def featurize(self, texts: Sequence[str]) -> torch.Tensor:
        """``[N, D]`` pooled vectors of the fine-tuned encoder (through the cache when wrapped with one)."""
        return torch.from_numpy(np.ascontiguousarray(self.encoder.encode(list(texts))))

    def prepare(self, features: Any, train_idx: np.ndarray) -> None:
        """Pooled vectors are unit length, so each coordinate has an RMS of 1/sqrt(D): the head's input scale is
        fixed to that instead of fitted, because the vectors it would be fitted on change while training."""
        self.module.head.shift.zero_()
        self.module.head.scale.fill_(1.0 / float(self.raw.dim) ** 0.5)

    def logits(self, features: torch.Tensor, idx: np.ndarray | None = None) -> torch.Tensor:
        """``[n, 3]`` logits of the head for rows ``idx`` of pooled vectors ``features``."""
        x = features if idx is None else features[torch.from_numpy(np.asarray(idx, dtype=np.int64))]
        return self.module.head(x)

    def describe(self) -> dict[str, Any]:
        """JSON that rebuilds this route: base encoder and its id, serving choices, the id of the tuned weights."""
        return {"type": self.kind, "encoder": self.spec, "base_id": self.base_id, "encoder_id": self.raw.id,
                "max_length": self.raw.max_length, "quantize": self.raw.quantize, "head": self.module.head.hparams}


@dataclass(frozen=True)
class FineTuneFit:
    """How fine-tuning went: evaluations run, the best one, and its validation loss and macro-F1."""

    steps: int
    evaluations: int
    best_evaluation: int
    best_val_loss: float
    best_val_macro_f1: float
    seconds: float


def _tokenize(route: FineTunedHead, texts: Sequence[str]) -> list[list[int]]:
    enc = route.raw.tokenizer(list(texts), truncation=True, max_length=route.raw.max_length)
    return [list(ids) for ids in enc["input_ids"]]


def _collate(ids: Sequence[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad a batch to its own longest row: ``[B, T]`` ids and attention mask."""
    width = max(len(row) for row in ids)
    input_ids = torch.full((len(ids), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(ids), width), dtype=torch.long)
    for i, row in enumerate(ids):
        input_ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
        mask[i, : len(row)] = 1
    return input_ids, mask


def _evaluate(module: FineTunedClassifier, ids: list[list[int]], y: torch.Tensor, weights: torch.Tensor,
              pad_id: int, batch_size: int = 64) -> tuple[float, float]:
    """Class-weighted validation loss and macro-F1, in length-sorted batches."""
    module.eval()
    order = np.argsort([len(r) for r in ids], kind="stable")
    logits = torch.empty((len(ids), len(LABELS)))
    with torch.inference_mode():
        for start in range(0, len(ids), batch_size):
            idx = order[start : start + batch_size]
            logits[torch.from_numpy(idx)] = module(*_collate([ids[i] for i in idx], pad_id))
    loss = float(F.cross_entropy(logits, y, weight=weights))
    return loss, classification_metrics(y.numpy(), logits.argmax(dim=1).numpy()).macro_f1


def _optimizer(module: FineTunedClassifier, cfg: FineTuneConfig) -> torch.optim.Optimizer:
    """AdamW with the encoder's and the head's learning rates; no decay on biases and LayerNorm weights."""
    decay: list[nn.Parameter] = []
    no_decay: list[nn.Parameter] = []
    for name, p in module.transformer.named_parameters():
        if p.requires_grad:
            (no_decay if p.ndim < 2 or "LayerNorm" in name else decay).append(p)
    return torch.optim.AdamW([
        {"params": decay, "lr": cfg.encoder_lr, "weight_decay": cfg.weight_decay},
        {"params": no_decay, "lr": cfg.encoder_lr, "weight_decay": 0.0},
        {"params": list(module.head.parameters()), "lr": cfg.head_lr, "weight_decay": cfg.weight_decay},
    ])


def finetune(route: FineTunedHead, texts: Sequence[str], y: torch.Tensor, train: np.ndarray, val: np.ndarray,
             cfg: FineTuneConfig, name: str = "") -> FineTuneFit:
    """Train encoder and head end to end on rows ``train`` of ``texts`` with class-weighted cross-entropy; keep
    the state of the best validation evaluation. Uses the caller's torch RNG (seed it for reproducibility)."""
    if len(train) == 0 or len(val) == 0:
        raise ValueError("finetune: need training and validation rows")
    started = time.perf_counter()
    ids = _tokenize(route, texts)
    pad_id = int(route.raw.tokenizer.pad_token_id or 0)
    module = route.module
    module.transformer.get_input_embeddings().weight.requires_grad_(not cfg.freeze_embeddings)
    route.prepare(None, train)
    weights = torch.from_numpy(balanced_class_weights(y[torch.from_numpy(train)].numpy())).float()
    steps_per_epoch = -(-len(train) // cfg.batch_size)
    total = steps_per_epoch * cfg.epochs
    warm = max(1, round(cfg.warmup * total))
    opt = _optimizer(module, cfg)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: (s + 1) / warm if s < warm else max(0.0, (total - s) / max(1, total - warm)))
    eval_at = {round(steps_per_epoch * (k + 1) / cfg.evals_per_epoch) for k in range(cfg.evals_per_epoch)}
    val_ids, y_val = [ids[i] for i in val], y[torch.from_numpy(val)]
    best = (-1.0, float("inf"))  # (validation macro-F1, validation loss) of the kept state
    best_state, best_eval, evals, stale, step = None, 0, 0, 0, 0
    with torch_threads(available_threads()):
        for epoch in range(cfg.epochs):
            order = train[torch.randperm(len(train)).numpy()]
            for k, start in enumerate(range(0, len(order), cfg.batch_size), start=1):
                module.train()
                batch = order[start : start + cfg.batch_size]
                logits = module(*_collate([ids[i] for i in batch], pad_id))
                loss = F.cross_entropy(logits, y[torch.from_numpy(batch)], weight=weights)
                opt.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_([p for p in module.parameters() if p.requires_grad], 1.0)
                opt.step()
                sched.step()
                step += 1
                if k not in eval_at:
                    continue
                evals += 1
                val_loss, val_f1 = _evaluate(module, val_ids, y_val, weights, pad_id)
                log.info("path %s: epoch %d step %d, validation loss %.4f, macro-F1 %.4f",
                         name, epoch + 1, step, val_loss, val_f1)
                if val_f1 > best[0] + 1e-9 or (abs(val_f1 - best[0]) <= 1e-9 and val_loss < best[1]):
                    best, best_eval, stale = (val_f1, val_loss), evals, 0
                    best_state = copy.deepcopy(module.state_dict())
                else:
                    stale += 1
                if stale >= cfg.patience:
                    break
            if stale >= cfg.patience:
                log.info("path %s: no better validation in %d evaluations; stopping", name, stale)
                break
    if best_state is not None:
        module.load_state_dict(best_state)
    module.eval()
    route.raw.refresh()
    log.info("path %s: fine-tuned %d steps in %.0f s, best evaluation %d of %d (macro-F1 %.4f)",
             name, step, time.perf_counter() - started, best_eval, evals, best[0])
    return FineTuneFit(step, evals, best_eval, best[1], best[0], time.perf_counter() - started)
