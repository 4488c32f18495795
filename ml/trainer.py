"""One training loop for every forecasting network: AdamW, warmup plus cosine/plateau LR, gradient clipping,
early stopping that restores the best-validation weights, deterministic seeding and bf16 autocast on CUDA.

Batches are drawn by indexing pre-built window tensors (already on the device) with a seeded permutation, so
the loop runs no per-sample Python and needs no DataLoader.
"""
from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from ml.device import autocast_context, select_device
from ml.errors import ModelError
from ml.gm.windows import WindowSet
from ml.networks.base import ForecastNetwork
from ml.train_config import PLATEAU_FACTOR, TrainConfig

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class FitResult:
    """What one training run did. ``history`` holds (train_loss, val_loss or None) per epoch; epochs are 1-based."""

    best_epoch: int
    best_val_loss: float | None
    epochs_run: int
    steps: int = 0
    history: list[tuple[float, float | None]] = field(default_factory=list)
    seconds: float = 0.0
    train_samples_per_s: float = 0.0
    device: str = "cpu"
    stop_reason: str = "max_epochs"  # "max_epochs" | "early_stopping" | "time_budget"


ProgressFn = Callable[[int, float, float | None], None]


def _check_compatible(net: ForecastNetwork, ws: WindowSet, what: str) -> None:
    if len(ws) == 0:
        raise ModelError(f"the {what} window set is empty", fix="provide more history")
    want = (net.input_size, net.horizon, net.n_features, net.n_targets, net.n_future)
    got = (ws.input_size, ws.horizon, ws.n_features, ws.n_targets, ws.n_future)
    if want != got:
        raise ModelError(
            f"{what} windows (input_size, horizon, n_features, n_targets, n_future) = {got} "
            f"do not match the network's {want}",
            fix="build the network and the windows from the same settings",
        )


def _on_device(ws: WindowSet, device: torch.device) -> WindowSet:
    """Copy the windows to the device once; contiguous so that batch gathers read dense rows."""
    moved = ws.to(device)
    return WindowSet(
        x_past=moved.x_past.contiguous(),
        x_future=None if moved.x_future is None else moved.x_future.contiguous(),
        y=moved.y.contiguous(),
        t_index=moved.t_index,
    )


def _lr_factor(step: int, warmup_steps: int, total_steps: int, schedule: str, time_fraction: float = 0.0) -> float:
    """Linear warmup, then cosine decay to zero over the remaining steps (or flat for plateau/none).

    ``time_fraction`` is the share of a training-time budget already spent: the decay follows whichever of steps
    or time runs out first, so a run cut short by its budget still ends at a low learning rate instead of being
    stopped mid-schedule at a high one (budgeted training, Li et al., ICLR 2020).
    """
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    if schedule != "cosine":
        return 1.0
    progress = max((step - warmup_steps) / max(1, total_steps - warmup_steps), time_fraction)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


@torch.no_grad()
def evaluate_loss(net: ForecastNetwork, ws: WindowSet, batch_size: int = 1024) -> float:
    """The network's own training loss averaged over every window of ``ws`` (already on the net's device)."""
    net.eval()
    total, count = 0.0, 0
    for lo in range(0, len(ws), batch_size):
        hi = min(lo + batch_size, len(ws))
        xf = None if ws.x_future is None else ws.x_future[lo:hi]
        pred = net(ws.x_past[lo:hi], xf)
        total += float(net.loss(pred.float(), ws.y[lo:hi])) * (hi - lo)
        count += hi - lo
    return total / count


def fit(
    net: ForecastNetwork,
    train: WindowSet,
    val: WindowSet | None,
    cfg: TrainConfig,
    *,
    progress: ProgressFn | None = None,
) -> FitResult:
    """Train ``net`` in place and leave it in eval mode holding its best-validation weights.

    Without ``val`` there is no early stopping and the last weights are kept. Seeding covers dropout and batch
    order; the caller's global RNG state is restored afterwards. Raises ``ModelError`` on mismatched windows or
    a non-finite training loss (diverged).
    """
    _check_compatible(net, train, "training")
    if val is not None:
        _check_compatible(net, val, "validation")
    device = select_device(cfg.device)
    net.to(device)
    train_d = _on_device(train, device)
    val_d = None if val is None else _on_device(val, device)

    n = len(train_d)
    # Drop the ragged last batch (as the reference implementations do) unless one batch is all there is:
    # a batch of a handful of windows gives a noisy step and breaks batch statistics.
    steps_per_epoch = max(1, n // cfg.batch_size)
    total_steps = steps_per_epoch * cfg.max_epochs
    warmup_steps = steps_per_epoch * cfg.warmup_epochs
    params = [p for p in net.parameters() if p.requires_grad]
    # The fused kernel updates every parameter in one pass: several times faster than the per-tensor loop.
    fused = device.type in ("cpu", "cuda") and all(p.dtype == torch.float32 for p in params)
    optimizer = torch.optim.AdamW(params, lr=cfg.learning_rate, weight_decay=cfg.weight_decay, fused=fused or None)

    fork_devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=fork_devices):
        torch.manual_seed(cfg.seed)
        gen = torch.Generator().manual_seed(cfg.seed)
        return _train_loop(net, train_d, val_d, cfg, optimizer, gen, device, steps_per_epoch, total_steps, warmup_steps, progress)


def _train_loop(
    net: ForecastNetwork,
    train: WindowSet,
    val: WindowSet | None,
    cfg: TrainConfig,
    optimizer: torch.optim.Optimizer,
    gen: torch.Generator,
    device: torch.device,
    steps_per_epoch: int,
    total_steps: int,
    warmup_steps: int,
    progress: ProgressFn | None,
) -> FitResult:
    n = len(train)
    batch = min(cfg.batch_size, n)
    params = [p for group in optimizer.param_groups for p in group["params"]]
    plateau_patience = max(1, cfg.patience // 3)
    history: list[tuple[float, float | None]] = []
    best_val, best_epoch, best_state = math.inf, 0, None
    stalls = plateau_stalls = 0
    plateau_scale, step = 1.0, 0
    samples, train_seconds = 0, 0.0
    stop_reason = "max_epochs"
    started = time.perf_counter()

    for epoch in range(1, cfg.max_epochs + 1):
        net.train()
        perm = torch.randperm(n, generator=gen).to(device)
        loss_sum = torch.zeros((), device=device)
        epoch_samples = 0
        t0 = time.perf_counter()
        for b in range(steps_per_epoch):
            idx = perm[b * batch : (b + 1) * batch]
            xf = None if train.x_future is None else train.x_future[idx]
            spent = 0.0 if cfg.max_train_seconds is None else (time.perf_counter() - started) / cfg.max_train_seconds
            factor = _lr_factor(step, warmup_steps, total_steps, cfg.lr_schedule, spent)
            for group in optimizer.param_groups:
                group["lr"] = cfg.learning_rate * plateau_scale * factor
            with autocast_context(device):
                pred = net(train.x_past[idx], xf)
            loss = net.loss(pred.float(), train.y[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip, foreach=True)
            optimizer.step()
            step += 1
            loss_sum += loss.detach() * len(idx)
            epoch_samples += len(idx)
            if cfg.max_train_seconds is not None and time.perf_counter() - started > cfg.max_train_seconds:
                stop_reason = "time_budget"
                break
        train_loss = float(loss_sum) / epoch_samples  # one device sync per epoch
        train_seconds += time.perf_counter() - t0
        samples += epoch_samples
        if not math.isfinite(train_loss):
            raise ModelError(
                f"training diverged: the training loss is {train_loss} at epoch {epoch}",
                where=type(net).__name__,
                fix="lower learning_rate or set grad_clip > 0",
            )

        val_loss = None
        last = epoch == cfg.max_epochs or stop_reason == "time_budget"
        if val is not None and (epoch % cfg.val_every == 0 or last):
            val_loss = evaluate_loss(net, val, cfg.eval_batch_size)
            if val_loss < best_val - cfg.min_delta:
                best_val, best_epoch, stalls, plateau_stalls = val_loss, epoch, 0, 0
                best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
            else:
                stalls += 1
                plateau_stalls += 1
                if cfg.lr_schedule == "plateau" and plateau_stalls >= plateau_patience:
                    plateau_scale *= PLATEAU_FACTOR
                    plateau_stalls = 0
        history.append((train_loss, val_loss))
        log.info(
            "%s epoch %d/%d train %.5f val %s lr %.2e",
            type(net).__name__, epoch, cfg.max_epochs, train_loss,
            "-" if val_loss is None else f"{val_loss:.5f}", optimizer.param_groups[0]["lr"],
        )
        if progress is not None:
            progress(epoch, train_loss, val_loss)
        if stop_reason == "time_budget":
            log.info("%s stopped at epoch %d: training time budget of %ss spent", type(net).__name__, epoch, cfg.max_train_seconds)
            break
        if val is not None and stalls >= cfg.patience:
            stop_reason = "early_stopping"
            log.info("%s early stop at epoch %d; best epoch %d (val %.5f)", type(net).__name__, epoch, best_epoch, best_val)
            break

    if best_state is not None:
        net.load_state_dict(best_state)
    net.eval()
    epochs_run = len(history)
    return FitResult(
        best_epoch=best_epoch if best_state is not None else epochs_run,
        best_val_loss=None if best_state is None else best_val,
        epochs_run=epochs_run,
        steps=step,
        history=history,
        seconds=time.perf_counter() - started,
        train_samples_per_s=samples / train_seconds if train_seconds > 0 else 0.0,
        device=str(device),
        stop_reason=stop_reason,
    )


@torch.no_grad()
def predict(
    net: ForecastNetwork, ws: WindowSet, *, batch_size: int = 1024, device: torch.device | str | None = None
) -> torch.Tensor:
    """Forecasts ``[N, H, T, Q]`` on the CPU in float32, computed in eval mode without autocast.

    Float32 keeps batch and one-bar-at-a-time predictions identical; ``device`` defaults to the net's own.
    """
    if batch_size < 1:
        raise ModelError(f"batch_size={batch_size} must be >= 1")
    first = next(net.parameters(), None)
    here = first.device if first is not None else torch.device("cpu")
    if device is None:
        dev = here
    else:
        dev = select_device(device) if isinstance(device, str) else device
    if dev != here:  # moving walks every submodule: a paper session's per-bar call should not pay for a no-op
        net.to(dev)
    if any(m.training for m in net.modules()):
        net.eval()
    outs = []
    for lo in range(0, len(ws), batch_size):
        hi = min(lo + batch_size, len(ws))
        xf = None if ws.x_future is None else ws.x_future[lo:hi].to(dev)
        outs.append(net(ws.x_past[lo:hi].to(dev), xf).float().cpu())
    if not outs:
        return torch.empty(0, ws.horizon, ws.n_targets, len(net.quantiles))
    return torch.cat(outs)
