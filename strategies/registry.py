"""The single registry of strategies: the source of the CLI's choices, of each strategy's parameter section and of
how much history it needs before its first decision."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import backtrader as bt

from ground.choices import choice_hint
from ground.errors import ConfigError
from strategies.baselines import BuyHold, BuyHoldParams, SmaCross, SmaParams
from strategies.exposure import ExposureHold, ExposureParams
from strategies.signal_strategy import SignalParams, SignalStrategy
from strategies.sizer import ConfidenceSizer


def _two_bars(_params: Any) -> int:
    return 2  # one bar to decide on, the next to fill at its open


@dataclass(frozen=True)
class StrategySpec:
    """A runnable strategy.

    - ``params``: its frozen parameter dataclass; an instance is passed to the strategy as ``config``.
    - ``section``: the config section that holds those parameters (strategies that share a dataclass share it).
    - ``signals``: which precomputed signals it reads (None for price-only baselines).
    - ``min_bars``: bars it needs before it can decide at all (its indicators' warm-up plus a bar to fill on).
    - ``sizer``: the sizer it trades with (given the ``[sizer]`` section as ``config``), or None.
    """

    name: str
    cls: type[bt.Strategy]
    params: type
    section: str
    signals: str | None
    description: str
    min_bars: Callable[[Any], int] = _two_bars
    sizer: type[bt.Sizer] | None = None


def _sma_bars(params: SmaParams) -> int:
    return params.slow + 1


STRATEGIES: Mapping[str, StrategySpec] = MappingProxyType(
    {
        spec.name: spec
        for spec in (
            StrategySpec("buyhold", BuyHold, BuyHoldParams, "buyhold", None, "buy on the first bar and hold (baseline)"),
            StrategySpec("sma", SmaCross, SmaParams, "sma", None,
                         "long while the fast SMA is above the slow SMA (baseline)", _sma_bars),
            StrategySpec("exposure", ExposureHold, ExposureParams, "exposure", None,
                         "constant weight, rebalanced on drift (null benchmark: ML runs set the weight after the fact "
                         "to the ML strategy's mean exposure)"),
            StrategySpec("hybrid", SignalStrategy, SignalParams, "signals", "hybrid",
                         "GM ensemble and news sentiment fused, sized by confidence", sizer=ConfidenceSizer),
            StrategySpec("gm", SignalStrategy, SignalParams, "signals", "gm",
                         "GM ensemble forecasts alone, sized by confidence", sizer=ConfidenceSizer),
            StrategySpec("sentiment", SignalStrategy, SignalParams, "signals", "sentiment",
                         "news sentiment alone, sized by confidence", sizer=ConfidenceSizer),
        )
    }
)


def strategy_spec(name: str, where: str = "--strategy") -> StrategySpec:
    """The registered strategy of that name, or a ConfigError with close matches."""
    try:
        return STRATEGIES[name]
    except KeyError:
        raise ConfigError(f"unknown strategy '{name}'", where, choice_hint(name, STRATEGIES)) from None
