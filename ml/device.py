"""Device selection, mixed precision and CPU thread counts, decided in one place so every trainer and predictor
agrees."""
from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator

import torch

from ground.choices import choice_hint
from ml.errors import ModelError
from ml.train_config import DEVICE_CHOICES


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def select_device(name: str = "auto") -> torch.device:
    """Resolve ``auto|cpu|cuda|cuda:N|mps`` to a usable device; ``auto`` prefers CUDA, then MPS, then CPU.

    An explicitly requested device that is absent is an error rather than a silent CPU fallback, so a GPU
    run that would take hours on the CPU fails at once.
    """
    key = name.strip().lower()
    if key == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if key == "cpu":
        return torch.device("cpu")
    if re.fullmatch(r"cuda(:\d+)?", key):
        if not torch.cuda.is_available():
            raise ModelError(f"device '{name}' requested but CUDA is not available", fix="use --device auto or cpu")
        dev = torch.device(key)
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ModelError(
                f"device '{name}' requested but only {torch.cuda.device_count()} CUDA device(s) exist",
                fix="pick an index below the device count",
            )
        return dev
    if key == "mps":
        if not _mps_available():
            raise ModelError("device 'mps' requested but MPS is not available", fix="use --device auto or cpu")
        return torch.device("mps")
    raise ModelError(f"unknown device '{name}'", fix=choice_hint(key, (*DEVICE_CHOICES, "cuda:N")))


def autocast_context(device: torch.device) -> contextlib.AbstractContextManager[object]:
    """bf16 autocast on CUDA (halves activation traffic, no loss scaling needed); a no-op elsewhere.

    CPU autocast is left off: on CPUs without bf16 units it is slower than float32.
    """
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def available_threads() -> int:
    """CPU cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run with ``n`` torch CPU threads, restoring the previous count afterwards (``None``: unchanged)."""
    before = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)
