"""Signal producers for the ML strategies: walk-forward GM forecasts, point-in-time news sentiment, their fusion."""
from __future__ import annotations

from typing import TYPE_CHECKING

from strategies.registry import strategy_spec

if TYPE_CHECKING:
    from backtests.signals.producer import MLSignalProducer


def producer_for(strategy: str) -> MLSignalProducer | None:
    """The producer of the signals a strategy reads, or None for price-only strategies.

    The producer's module (torch, the networks, the sentiment model) is imported only when a strategy needs it, so
    baseline runs and ``--help`` stay light.
    """
    if strategy_spec(strategy).signals is None:
        return None
    from backtests.signals.producer import MLSignalProducer

    return MLSignalProducer()
