"""The strategy's side of the journal: each bar's decision, order intent, submission and fill are written before
the next step acts, and a restart picks up half-done steps from the journal (see ``journal.py``).

Bars before the last decided one are warm-up on a restart (the strategy's indicators need them; nothing is
decided or sent). The last decided bar is replayed: its decision stands as written, its order intent is made if
it is missing, and every order still open is sent again under its client id, so that it fills on the next bar's
open exactly as it would have without the restart. A journal write that fails stops the run at once: nothing that
was not written is acted on.
"""
from __future__ import annotations

import logging
from collections.abc import Callable

import backtrader as bt
import pandas as pd

from backtests.paper.journal import Decision, Journal, JournalError, OrderIntent, Recovery

logger = logging.getLogger(__name__)

#: Named points of the bar cycle, in order, passed to the checkpoint hook after each is written.
POINTS = ("bar", "decision", "intent", "submitted", "fill")
Checkpoint = Callable[[str], None]
CASH_TOLERANCE = 1e-6


class JournalledOrders:
    """Decide, order and record fills for one strategy and one data feed through a ``Journal``.

    ``checkpoint(point)`` is called after each step is durable (latency measurement, crash tests).
    """

    def __init__(
        self, journal: Journal, strategy: bt.Strategy, data: bt.DataBase, symbol: str,
        *, checkpoint: Checkpoint | None = None,
    ) -> None:
        self.journal, self.strategy, self.data, self.symbol = journal, strategy, data, symbol
        self._checkpoint = checkpoint or (lambda point: None)
        self._by_ref: dict[int, str] = {}
        self.recovery: Recovery | None = None
        self._position: tuple[float, float] | None = None
        self.stopped = ""

    def restore(self) -> Recovery:
        """Read where the journal stands (call from ``Strategy.start``; the broker's cash is set before the run with
        ``broker.setcash(journal.cash())``); the journal's position goes into the broker at the first bar."""
        self.recovery = self.journal.recover(self.symbol)
        size, price = self.recovery.positions.get(self.symbol, (0.0, 0.0))
        self._position = (size, price) if size else None
        broker_cash = self.strategy.broker.getcash()
        if abs(broker_cash - self.recovery.cash) > CASH_TOLERANCE * max(1.0, abs(broker_cash)):
            raise JournalError(f"broker cash {broker_cash} differs from the journal's {self.recovery.cash}",
                               fix="set the broker's cash from the journal before the run")
        if self.recovery.last_decided is not None:
            logger.info("%s: resuming after %s with cash %.2f, position %g, %d open order(s)", self.symbol,
                        self.recovery.last_decided, self.recovery.cash, size, len(self.recovery.open_orders))
        return self.recovery

    def on_bar(self, bar: pd.Timestamp, decide: Callable[[], Decision]) -> None:
        """One bar of the cycle; ``decide`` is called only for a bar that has no decision yet."""
        if self.stopped:
            return
        self._apply_position()
        last = self.recovery.last_decided if self.recovery is not None else None
        if last is not None and bar < last:
            return  # warm-up on a restart: decided in an earlier run
        d = self.data
        try:
            self.journal.record_bar(self.symbol, bar, (d.open[0], d.high[0], d.low[0], d.close[0], d.volume[0]))
            self._checkpoint("bar")
            known = self.journal.decision_at(self.symbol, bar)
            if known is not None:
                self._resume()
                return
            decision_id = self.journal.record_decision(decide())
            self._checkpoint("decision")
            self._place(decision_id)
        except JournalError as exc:
            self.stop(exc)

    def _apply_position(self) -> None:
        """The journal's position goes into the broker with the first bar: backtrader's broker reads a position's
        data feed on every loop, and a live feed may hold no bar yet when the run starts."""
        if self._position is None:
            return
        size, price = self._position
        self._position = None
        since = self.recovery.last_decided if self.recovery and self.recovery.last_decided else pd.Timestamp(0)
        self.strategy.broker.positions[self.data].update(size, price, since.to_pydatetime())

    def notify_order(self, order: bt.Order) -> None:
        """Record what the broker did with an order this object sent."""
        client_id = self._by_ref.get(order.ref)
        if client_id is None or self.stopped:
            return
        try:
            if order.status == order.Completed:
                when = pd.Timestamp(bt.num2date(order.executed.dt))
                self.journal.record_fill(client_id, when, order.executed.size, order.executed.price,
                                         order.executed.comm)
                self._check_cash()
                self._checkpoint("fill")
            elif order.status in (order.Canceled, order.Margin, order.Rejected, order.Expired):
                self.journal.close_order(client_id, "rejected" if order.status == order.Rejected else "cancelled",
                                         order.getstatusname())
        except JournalError as exc:
            self.stop(exc)

    def _resume(self) -> None:
        """On the replayed bar: intents for decisions that had none, then every open order sent again."""
        state = self.journal.recover(self.symbol)
        for decision_id in state.undecided_orders:
            self._place(decision_id)
        for intent in state.open_orders:
            self._submit(intent)

    def _place(self, decision_id: int) -> None:
        intent = self.journal.record_intent(decision_id)
        if intent is None:
            return
        self._checkpoint("intent")
        self._submit(intent)

    def _submit(self, intent: OrderIntent) -> None:
        send = self.strategy.buy if intent.size > 0 else self.strategy.sell
        order = send(data=self.data, size=abs(intent.size), exectype=bt.Order.Market)
        order.addinfo(client_id=intent.client_id)
        self._by_ref[order.ref] = intent.client_id
        self.journal.mark_submitted(intent.client_id)
        self._checkpoint("submitted")

    def _check_cash(self) -> None:
        journal_cash, broker_cash = self.journal.cash(), self.strategy.broker.getcash()
        if abs(journal_cash - broker_cash) > CASH_TOLERANCE * max(1.0, abs(broker_cash)):
            text = f"journal cash {journal_cash:.6f} differs from the broker's {broker_cash:.6f}"
            logger.warning("%s: %s", self.symbol, text)
            self.journal.event("mismatch", text)

    def stop(self, exc: JournalError) -> None:
        """Stop the run because the journal cannot be written (nothing after the failed step is acted on)."""
        self.stopped = str(exc)
        logger.error("%s: paper session stops: %s", self.symbol, exc)
        self.strategy.env.runstop()
