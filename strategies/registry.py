"""The single registry of strategies: the source of the CLI's choices and of what each strategy needs."""
from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

import backtrader as bt

from strategies.baselines import BuyHold, SmaCross
from strategies.signal_strategy import SignalStrategy


@dataclass(frozen=True)
class StrategySpec:
    """A runnable strategy: its class and which precomputed signals it reads (None for price-only baselines)."""

    name: str
    cls: type[bt.Strategy]
    signals: str | None
    description: str


STRATEGIES = MappingProxyType(
    {
        spec.name: spec
        for spec in (
            StrategySpec("buyhold", BuyHold, None, "buy on the first bar and hold (baseline)"),
            StrategySpec("sma", SmaCross, None, "long while the fast SMA is above the slow SMA (baseline)"),
            StrategySpec("hybrid", SignalStrategy, "hybrid", "GM ensemble and news sentiment fused, sized by confidence"),
            StrategySpec("gm", SignalStrategy, "gm", "GM ensemble forecasts alone, sized by confidence"),
            StrategySpec("sentiment", SignalStrategy, "sentiment", "news sentiment alone, sized by confidence"),
        )
    }
)
