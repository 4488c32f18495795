"""Signal producers: what turns prices (and news) into the signal lines that ML strategies read."""
from __future__ import annotations

from strategies.registry import STRATEGIES


def producer_for(strategy: str):  # noqa: ANN201 - filled in with the ML producers
    """The producer of the signals a strategy reads, or None for price-only strategies."""
    spec = STRATEGIES.get(strategy)
    if spec is None or spec.signals is None:
        return None
    raise NotImplementedError
