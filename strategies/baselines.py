"""Baseline strategies every ML strategy is compared with: buy-and-hold and an SMA crossover."""
from __future__ import annotations

from dataclasses import dataclass

import backtrader as bt

from ground.errors import InvalidValue

# Share of the portfolio a fully invested baseline holds: room for costs and for a gap up at the next open.
INVEST_FRACTION = 0.98


def _check_fraction(value: float) -> None:
    if not 0 < value <= 1:
        raise InvalidValue("invest_fraction", f"must be in (0, 1], got {value}")


@dataclass(frozen=True)
class BuyHoldParams:
    """The ``[buyhold]`` section."""

    invest_fraction: float = INVEST_FRACTION

    def __post_init__(self) -> None:
        _check_fraction(self.invest_fraction)


@dataclass(frozen=True)
class SmaParams:
    """The ``[sma]`` section: long while the ``fast``-bar mean is above the ``slow``-bar mean."""

    fast: int = 20
    slow: int = 100
    invest_fraction: float = INVEST_FRACTION

    def __post_init__(self) -> None:
        if not 1 <= self.fast < self.slow:
            raise InvalidValue("fast", f"need 1 <= fast < slow, got fast={self.fast}, slow={self.slow}")
        _check_fraction(self.invest_fraction)


class BuyHold(bt.Strategy):
    """Invest ``invest_fraction`` of the portfolio, split equally over the datas, on the first bar and hold.

    An order that cannot fill (a gap up at the next open leaves too little cash, so the broker refuses it) is
    sized again from the next bar's close and sent again, until the position is held: a baseline that stays in
    cash because of one opening gap would flatter every strategy compared with it.
    """

    params = (("config", BuyHoldParams()),)

    def __init__(self) -> None:
        self._pending: dict[bt.feeds.DataBase, bt.Order] = {}

    def next(self) -> None:
        weight = self.p.config.invest_fraction / len(self.datas)
        for data in self.datas:
            if data in self._pending or self.getposition(data).size != 0:
                continue
            order = self.order_target_percent(data=data, target=weight)
            if order is not None:
                self._pending[data] = order

    def notify_order(self, order: bt.Order) -> None:
        if order.status in (order.Completed, order.Canceled, order.Margin, order.Rejected, order.Expired):
            self._pending.pop(order.data, None)


class SmaCross(bt.Strategy):
    """Long (``invest_fraction`` split over the datas) while the fast SMA is above the slow SMA, flat otherwise."""

    params = (("config", SmaParams()),)

    def __init__(self) -> None:
        cfg: SmaParams = self.p.config
        self.signals = [bt.ind.SMA(d.close, period=cfg.fast) > bt.ind.SMA(d.close, period=cfg.slow) for d in self.datas]

    def next(self) -> None:
        weight = self.p.config.invest_fraction / len(self.datas)
        for data, above in zip(self.datas, self.signals):
            held = self.getposition(data).size != 0
            if above[0] and not held:
                self.order_target_percent(data=data, target=weight)
            elif not above[0] and held:
                self.order_target_percent(data=data, target=0.0)
