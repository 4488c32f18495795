"""The strategy behind ``hybrid`` and ``gm``: follow precomputed fused signals, sized by confidence.

It reads the ``action`` and ``confidence`` lines of ``SignalData`` feeds and trades towards the
``ConfidenceSizer``'s target: buy moves the position to the target for the bar's confidence, sell goes flat (or
short when the sizer allows it), hold keeps the position. Orders are market orders placed at a bar's close and
filled at the next bar's open by the broker, so a decision never trades on the prices it was made from. Signals
are computed outside (backtests for history, the predictor for paper trading); nothing is trained or predicted here.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import backtrader as bt

from ground.errors import InvalidValue, UserInputError
from ground.signals import ACTION, CONFIDENCE
from strategies.sizer import ConfidenceSizer

_DONE = (bt.Order.Completed, bt.Order.Canceled, bt.Order.Margin, bt.Order.Rejected, bt.Order.Expired)


@dataclass(frozen=True)
class SignalParams:
    """The ``[signals]`` section: how the signal strategies trade their targets.

    ``rebalance_band``: a resize of an existing position (same side, not to flat) smaller than this fraction of
    portfolio value is skipped, so small day-to-day changes in confidence do not churn commissions.
    """

    rebalance_band: float = 0.2

    def __post_init__(self) -> None:
        if not 0 <= self.rebalance_band < 1:
            raise InvalidValue("rebalance_band", f"must be in [0, 1), got {self.rebalance_band}")


class SignalStrategy(bt.Strategy):
    """Rebalances each signal feed to its target exposure (``config``: a ``SignalParams``)."""

    params = (("config", SignalParams()),)

    def __init__(self) -> None:
        # keyed by id(feed): line objects overload ==, so they cannot be dict keys themselves
        self._pending: dict[int, bt.Order] = {}

    def start(self) -> None:
        # Sizers are attached after __init__, so the check belongs here.
        if not isinstance(self.getsizer(), ConfidenceSizer):
            raise UserInputError(
                "SignalStrategy needs the ConfidenceSizer",
                where=f"sizer {type(self.getsizer()).__name__}",
                fix="call cerebro.addsizer(ConfidenceSizer, ...)",
            )
        for data in self.datas:
            if not hasattr(data.lines, ACTION) or not hasattr(data.lines, CONFIDENCE):
                raise UserInputError(
                    "SignalStrategy needs feeds with 'action' and 'confidence' lines",
                    where=f"feed {data._name or type(data).__name__}",
                    fix="feed the prices through strategies.signal_data.SignalData",
                )

    def notify_order(self, order: bt.Order) -> None:
        pending = self._pending.get(id(order.data))
        # The broker notifies with copies of the order: match by reference number, not identity.
        if order.status in _DONE and pending is not None and pending.ref == order.ref:
            del self._pending[id(order.data)]

    def next(self) -> None:
        sizer: ConfidenceSizer = self.getsizer()
        band = self.p.config.rebalance_band
        for data in self.datas:
            if id(data) in self._pending:  # one order in flight per feed: decide again once it has filled
                continue
            action = float(data.action[0])
            if not math.isfinite(action) or action == 0:
                continue
            target = sizer.target_size(data, 1 if action > 0 else -1)
            position = self.getposition(data).size
            delta = target - position
            if delta == 0:
                continue
            same_side_resize = target != 0 and position != 0 and (target > 0) == (position > 0)
            if same_side_resize and abs(delta) * float(data.close[0]) < band * self.broker.getvalue():
                continue
            order = self.buy(data=data, size=delta) if delta > 0 else self.sell(data=data, size=-delta)
            if order is not None:
                self._pending[id(data)] = order
