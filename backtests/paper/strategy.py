"""The backtest's ``SignalStrategy`` with the journal around it.

The decision rule is ``SignalStrategy.next`` itself, run with its orders captured instead of sent: the captured
size becomes the journalled decision, and ``JournalledOrders`` then writes the intent and sends the order through
the same ``buy``/``sell``. So a paper bar decides exactly what a backtest bar decides, and nothing reaches the
broker before the journal holds it.
"""
from __future__ import annotations

import logging
from typing import Any

import backtrader as bt
import pandas as pd

from backtests.paper.journal import Decision, JournalError
from backtests.paper.orders import JournalledOrders
from ground.signals import ACTION, CONFIDENCE, GM_FORECAST, GM_VOTE, SCORE, SENT_VOTE, SENTIMENT_COLUMNS, VOLATILITY
from ml.fusion import ACTION_NAMES
from strategies.signal_strategy import SignalStrategy

logger = logging.getLogger(__name__)


class JournalledSignalStrategy(SignalStrategy):
    """``SignalStrategy`` whose decisions, orders and fills go through a ``Journal`` (params ``journal``,
    ``symbol``, ``checkpoint``); its single feed is a ``LiveSignalData``."""

    params = (("journal", None), ("symbol", ""), ("checkpoint", None))  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self._capture: list[float] | None = None
        self.orders: JournalledOrders | None = None
        self.feed_states: list[str] = []

    def start(self) -> None:
        super().start()
        self.orders = JournalledOrders(self.p.journal, self, self.data, self.p.symbol, checkpoint=self.p.checkpoint)
        self.orders.restore()

    def notify_order(self, order: bt.Order) -> None:
        super().notify_order(order)
        if self.orders is not None:
            self.orders.notify_order(order)

    def notify_data(self, data: bt.DataBase, status: int, *args: Any, **kwargs: Any) -> None:
        name = data._getstatusname(status)
        self.feed_states.append(name)
        text = f"{name}: {args[0]}" if args and args[0] else name
        logger.info("%s: feed %s", self.p.symbol, text)
        if self.orders is None or self.orders.stopped:
            return
        try:
            self.p.journal.event("feed", text)
        except JournalError as exc:
            self.orders.stop(exc)

    def next(self) -> None:
        if self.orders is None:
            return
        bar = pd.Timestamp(self.data.datetime.datetime(0))
        self.orders.on_bar(bar, self._decide)

    def _decide(self) -> Decision:
        """Run the backtest's rule with orders captured; the captured size is the decision's order."""
        self._capture = []
        try:
            super().next()
        finally:
            sizes, self._capture = self._capture, None
        size = float(sum(sizes))
        row: dict[str, Any] = getattr(self.data, "row", {})
        position = self.getposition(self.data).size
        d = self.data
        return Decision(
            symbol=self.p.symbol,
            bar=pd.Timestamp(d.datetime.datetime(0)),
            action=ACTION_NAMES.get(float(d.action[0]), "hold"),
            confidence=min(1.0, max(0.0, float(d.confidence[0]))),
            target=position + size,
            order_size=size,
            inputs={"open": d.open[0], "high": d.high[0], "low": d.low[0], "close": d.close[0],
                    "volume": d.volume[0], "position": position, "value": self.broker.getvalue(),
                    "cash": self.broker.getcash()},
            forecast={k: row.get(k) for k in (*GM_FORECAST, VOLATILITY)},
            sentiment={k: row.get(k) for k in SENTIMENT_COLUMNS},
            signal={k: row.get(k) for k in (ACTION, CONFIDENCE, SCORE, GM_VOTE, SENT_VOTE)},
            models=dict(row.get("models", {})),
        )

    def buy(self, data: bt.DataBase | None = None, size: float | None = None, **kwargs: Any) -> bt.Order | None:
        if self._capture is not None:
            self._capture.append(float(size or 0))
            return None
        order = super().buy(data=data, size=size, **kwargs)
        self._track(order)
        return order

    def sell(self, data: bt.DataBase | None = None, size: float | None = None, **kwargs: Any) -> bt.Order | None:
        if self._capture is not None:
            self._capture.append(-float(size or 0))
            return None
        order = super().sell(data=data, size=size, **kwargs)
        self._track(order)
        return order

    def _track(self, order: bt.Order | None) -> None:
        """An order sent by the journal is the feed's order in flight, as ``SignalStrategy`` keeps it."""
        if order is not None:
            self._pending[id(order.data)] = order
