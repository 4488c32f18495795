"""Device selection: auto falls back to what exists; a missing explicit device is a clear error."""
from __future__ import annotations

import contextlib

import pytest
import torch

from ml.device import autocast_context, select_device
from ml.errors import ModelError


def test_auto_and_cpu() -> None:
    assert select_device("cpu") == torch.device("cpu")
    mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    expected = "cuda" if torch.cuda.is_available() else "mps" if mps else "cpu"
    assert select_device("auto").type == expected
    assert select_device(" CPU ") == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_unavailable_cuda_is_an_error() -> None:
    with pytest.raises(ModelError, match="CUDA is not available"):
        select_device("cuda")
    with pytest.raises(ModelError, match="CUDA is not available"):
        select_device("cuda:1")


def test_unknown_device_suggests_close_matches() -> None:
    with pytest.raises(ModelError, match="did you mean 'cuda'"):
        select_device("cdua")


def test_autocast_only_on_cuda() -> None:
    assert isinstance(autocast_context(torch.device("cpu")), contextlib.nullcontext)
    with autocast_context(torch.device("cpu")):
        out = torch.ones(2, 2) @ torch.ones(2, 2)
    assert out.dtype == torch.float32
