"""The exposure-matched buy-and-hold: a constant weight in each symbol, rebalanced when it drifts.

It is the null a sizing strategy has to beat: a strategy that is long 43% of the time on average earns much of its
return from that average exposure alone, with no timing skill. The runner sets ``weight`` to the ML strategy's mean
gross exposure over the same run, which is known only after the run: this baseline is a yardstick for judging the
strategy, never a strategy one could have traded (its weight looks ahead by construction).
"""
from __future__ import annotations

from dataclasses import dataclass

import backtrader as bt

from ground.errors import InvalidValue


@dataclass(frozen=True)
class ExposureParams:
    """The ``[exposure]`` section: total ``weight`` held (split equally over the symbols), and the drift (as a
    fraction of portfolio value) that triggers a rebalance back to it."""

    weight: float = 0.5
    rebalance_band: float = 0.05

    def __post_init__(self) -> None:
        if not 0.0 <= self.weight <= 1.0:
            raise InvalidValue("weight", f"must be in [0, 1], got {self.weight}")
        if not 0.0 < self.rebalance_band < 1.0:
            raise InvalidValue("rebalance_band", f"must be in (0, 1), got {self.rebalance_band}")


class ExposureHold(bt.Strategy):
    """Hold ``weight / n`` of the portfolio in each of ``n`` symbols from the first bar; rebalance on drift."""

    params = (("config", ExposureParams()),)

    def next(self) -> None:
        cfg: ExposureParams = self.p.config
        target = cfg.weight / len(self.datas)
        value = self.broker.getvalue()
        if value <= 0:
            return
        for data in self.datas:
            held = self.getposition(data).size * float(data.close[0]) / value
            if (held == 0 and target > 0) or abs(held - target) > cfg.rebalance_band:
                self.order_target_percent(data=data, target=target)
