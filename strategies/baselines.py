"""Baseline strategies every ML strategy is compared with: buy-and-hold and an SMA crossover."""
from __future__ import annotations

import backtrader as bt


class BuyHold(bt.Strategy):
    """Invest ``invest_fraction`` of the portfolio, split equally over the datas, on the first bar and hold."""

    params = (("invest_fraction", 0.98),)

    def nextstart(self) -> None:
        weight = self.p.invest_fraction / len(self.datas)
        for data in self.datas:
            self.order_target_percent(data=data, target=weight)


class SmaCross(bt.Strategy):
    """Long (``invest_fraction`` split over the datas) while the fast SMA is above the slow SMA, flat otherwise."""

    params = (("fast", 20), ("slow", 100), ("invest_fraction", 0.98))

    def __init__(self) -> None:
        self.signals = [
            bt.ind.SMA(d.close, period=self.p.fast) > bt.ind.SMA(d.close, period=self.p.slow) for d in self.datas
        ]

    def next(self) -> None:
        weight = self.p.invest_fraction / len(self.datas)
        for data, above in zip(self.datas, self.signals):
            held = self.getposition(data).size != 0
            if above[0] and not held:
                self.order_target_percent(data=data, target=weight)
            elif not above[0] and held:
                self.order_target_percent(data=data, target=0.0)
