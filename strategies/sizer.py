"""Confidence sizing: how much of the portfolio a signal deserves.

The rule is a pure function of the signal (``target_exposure``) so it can be tested on a table and reused outside
backtrader; ``ConfidenceSizer`` wraps it as a backtrader Sizer that receives its ``SizerConfig``, reads the
``confidence`` and ``volatility`` lines of a ``SignalData`` feed and turns the exposure into a whole number of shares.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import backtrader as bt

from ground.choices import choice_hint
from ground.errors import InvalidValue

MAPPINGS = ("linear", "kelly")
TRADING_DAYS = 252  # annualises the daily ``volatility`` line for volatility targeting


@dataclass(frozen=True)
class SizerConfig:
    """Sizing rule settings (the ``[sizer]`` config section).

    - ``min_confidence``: below it the exposure is 0.
    - ``mapping``: ``linear`` ramps from 0 at ``min_confidence`` to ``cap`` at ``full_confidence``; ``kelly`` bets
      ``kelly_fraction`` of the Kelly fraction ``p - (1 - p) / payoff`` with win probability ``p = (1 + c) / 2``
      (the probability that a calibrated confidence ``c = |2p - 1|`` stands for).
    - ``cap``: most of the portfolio value held in all symbols together (below 1 by default, so a gap up at the next
      open still fits the cash); each of ``n`` symbols gets ``cap / n``.
    - ``vol_target``: annualised volatility to aim for (None: off); the exposure is scaled by
      ``vol_target / (volatility * sqrt(252))`` and then capped.
    - ``allow_short``: a sell signal goes short by the same rule instead of flat.
    """

    min_confidence: float = 0.05
    mapping: str = "linear"
    full_confidence: float = 0.5
    kelly_fraction: float = 0.5
    payoff: float = 1.0
    cap: float = 0.95
    vol_target: float | None = None
    allow_short: bool = False

    def __post_init__(self) -> None:
        if self.mapping not in MAPPINGS:
            raise InvalidValue("mapping", f"unknown sizing mapping {self.mapping!r}", choice_hint(self.mapping, MAPPINGS))
        if not 0.0 <= self.min_confidence < self.full_confidence <= 1.0:
            raise InvalidValue("min_confidence", "need 0 <= min_confidence < full_confidence <= 1 "
                               f"(got {self.min_confidence}, {self.full_confidence})")
        if not 0.0 < self.kelly_fraction <= 1.0:
            raise InvalidValue("kelly_fraction", f"must be in (0, 1], got {self.kelly_fraction}")
        if not (math.isfinite(self.payoff) and self.payoff > 0):
            raise InvalidValue("payoff", f"must be > 0, got {self.payoff}")
        if not 0.0 < self.cap <= 1.0:
            raise InvalidValue("cap", f"must be in (0, 1] (no leverage), got {self.cap}")
        if self.vol_target is not None and not (math.isfinite(self.vol_target) and self.vol_target > 0):
            raise InvalidValue("vol_target", f"must be empty or > 0, got {self.vol_target}")


def target_exposure(confidence: float, direction: int, volatility: float, cfg: SizerConfig) -> float:
    """Signed fraction of portfolio value to hold: ``direction`` +1 (buy) or -1 (sell).

    A sell is flat (0) unless shorting is allowed; NaN confidence means no position.
    """
    if direction not in (1, -1):
        raise ValueError(f"direction must be +1 or -1, got {direction}")
    if direction < 0 and not cfg.allow_short:
        return 0.0
    if not math.isfinite(confidence) or confidence < cfg.min_confidence:
        return 0.0
    c = min(confidence, 1.0)
    if cfg.mapping == "linear":
        size = cfg.cap * min(1.0, (c - cfg.min_confidence) / (cfg.full_confidence - cfg.min_confidence))
    else:
        p = 0.5 * (1.0 + c)
        size = cfg.kelly_fraction * max(0.0, p - (1.0 - p) / cfg.payoff)
    if cfg.vol_target is not None and math.isfinite(volatility) and volatility > 0:
        size *= cfg.vol_target / (volatility * math.sqrt(TRADING_DAYS))
    return direction * min(size, cfg.cap)


class ConfidenceSizer(bt.Sizer):
    """Sizes orders to the confidence rule's target position (``config``: a ``SizerConfig``).

    The cap is shared by the strategy's symbols: with ``n`` feeds each one's target is capped at ``cap / n``.
    ``buy()``/``sell()`` without a size move the position towards the target for that direction (never past it);
    strategies that rebalance call ``target_size`` directly.
    """

    params = (("config", SizerConfig()),)

    def __init__(self) -> None:
        self._per_symbol: SizerConfig | None = None

    @property
    def rule(self) -> SizerConfig:
        """The configured rule with the cap split over the strategy's feeds (known once the strategy runs)."""
        if self._per_symbol is None:
            config: SizerConfig = self.p.config
            self._per_symbol = replace(config, cap=config.cap / max(len(self.strategy.datas), 1))
        return self._per_symbol

    def target_size(self, data: bt.feeds.DataBase, direction: int) -> int:
        """Signed whole shares for ``direction`` at the current bar's close and portfolio value."""
        price = float(data.close[0])
        if not math.isfinite(price) or price <= 0:
            return 0
        frac = target_exposure(float(data.confidence[0]), direction, float(data.volatility[0]), self.rule)
        shares = frac * self.broker.getvalue() / price
        return int(shares)  # whole shares, rounded towards zero: never past the target

    def _getsizing(self, comminfo: bt.CommInfoBase, cash: float, data: bt.feeds.DataBase, isbuy: bool) -> int:
        position = self.strategy.getposition(data).size
        target = self.target_size(data, 1 if isbuy else -1)
        return int(max(target - position, 0) if isbuy else max(position - target, 0))
