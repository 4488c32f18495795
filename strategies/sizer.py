"""Confidence sizing: how much of the portfolio a signal deserves.

The rule is a pure function of the signal (``target_exposure``) so it can be tested on a table and reused outside
backtrader; ``ConfidenceSizer`` wraps it as a backtrader Sizer that reads the ``confidence`` and ``volatility``
lines of a ``SignalData`` feed and turns the exposure into a whole number of shares.
"""
from __future__ import annotations

import dataclasses
import difflib
import math
from dataclasses import dataclass

import backtrader as bt

from ground.errors import UserInputError

MAPPINGS = ("linear", "kelly")
TRADING_DAYS = 252  # annualises the daily ``volatility`` line for volatility targeting


class SizerConfigError(UserInputError):
    """A sizer setting is out of range or unknown."""


@dataclass(frozen=True)
class SizerConfig:
    """Sizing rule settings (the ``[sizer]`` config section).

    - ``min_confidence``: below it the exposure is 0.
    - ``mapping``: ``linear`` ramps from 0 at ``min_confidence`` to ``cap`` at ``full_confidence``; ``kelly`` bets
      ``kelly_fraction`` of the Kelly fraction ``p - (1 - p) / payoff`` with win probability ``p = (1 + c) / 2``
      (the probability that a calibrated confidence ``c = |2p - 1|`` stands for).
    - ``cap``: most of the portfolio value held (below 1 by default, so a gap up at the next open still fits the
      cash).
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
        where = "sizer config"
        if self.mapping not in MAPPINGS:
            close = difflib.get_close_matches(str(self.mapping), MAPPINGS, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"choose one of {', '.join(MAPPINGS)}"
            raise SizerConfigError(f"unknown sizing mapping '{self.mapping}'", where=where, fix=hint)
        if not 0.0 <= self.min_confidence < self.full_confidence <= 1.0:
            raise SizerConfigError(
                f"need 0 <= min_confidence < full_confidence <= 1 "
                f"(got {self.min_confidence}, {self.full_confidence})",
                where=where,
            )
        if not 0.0 < self.kelly_fraction <= 1.0:
            raise SizerConfigError(f"kelly_fraction must be in (0, 1], got {self.kelly_fraction}", where=where)
        if not (math.isfinite(self.payoff) and self.payoff > 0):
            raise SizerConfigError(f"payoff must be > 0, got {self.payoff}", where=where)
        if not 0.0 < self.cap <= 1.0:
            raise SizerConfigError(f"cap must be in (0, 1] (no leverage), got {self.cap}", where=where)
        if self.vol_target is not None and not (math.isfinite(self.vol_target) and self.vol_target > 0):
            raise SizerConfigError(f"vol_target must be None or > 0, got {self.vol_target}", where=where)

    @classmethod
    def from_mapping(cls, values: dict[str, object]) -> SizerConfig:
        """Build from a config table; an unknown key fails with the closest field names."""
        names = [f.name for f in dataclasses.fields(cls)]
        for key in values:
            if key not in names:
                close = difflib.get_close_matches(key, names, n=3)
                hint = f"did you mean {', '.join(close)}?" if close else f"valid: {', '.join(names)}"
                raise SizerConfigError(f"unknown sizer option '{key}'", where="sizer config", fix=hint)
        return cls(**values)  # type: ignore[arg-type]


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
    """Sizes orders to the confidence rule's target position; params are ``SizerConfig``'s fields.

    ``buy()``/``sell()`` without a size move the position towards the target for that direction (never past it);
    strategies that rebalance call ``target_size`` directly.
    """

    params = tuple((f.name, f.default) for f in dataclasses.fields(SizerConfig))

    def __init__(self) -> None:
        self.rule = SizerConfig(**{f.name: getattr(self.p, f.name) for f in dataclasses.fields(SizerConfig)})

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
        return max(target - position, 0) if isbuy else max(position - target, 0)
