"""Run the network tests on one intra-op thread: the tiny tensors gain nothing from a second thread, and on a
shared 2-core machine waiting for it made single steps up to 20x slower."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
