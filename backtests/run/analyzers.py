"""Lightweight analyzers that record what the report needs, once per bar, with no per-bar computation of metrics."""
from __future__ import annotations

from typing import Any

import backtrader as bt


class EquityRecorder(bt.Analyzer):
    """Portfolio value, cash and gross exposure at each bar's close; metrics are computed afterwards in numpy."""

    def start(self) -> None:
        self.dates: list[float] = []
        self.values: list[float] = []
        self.exposure: list[float] = []

    def next(self) -> None:
        broker = self.strategy.broker
        value = broker.getvalue()
        gross = sum(abs(self.strategy.getposition(d).size) * d.close[0] for d in self.strategy.datas)
        self.dates.append(self.strategy.datetime[0])
        self.values.append(value)
        self.exposure.append(gross / value if value else 0.0)

    def get_analysis(self) -> dict[str, list[float]]:
        return {"dates": self.dates, "values": self.values, "exposure": self.exposure}


# Order states in which the broker gave up on an order: recorded and counted, never dropped silently.
_GAVE_UP = {bt.Order.Canceled: "canceled", bt.Order.Margin: "margin", bt.Order.Rejected: "rejected",
            bt.Order.Expired: "expired"}


class _Book:
    """One symbol's position with its average cost, and the round trip it belongs to."""

    def __init__(self) -> None:
        self.size = 0.0
        self.cost = 0.0  # average entry price of the open position
        self.trip: dict[str, Any] | None = None


class FillRecorder(bt.Analyzer):
    """Every fill with its P&L attribution, round trips counted flat to flat (or on a side flip), and every order
    the broker cancelled or rejected.

    Attribution uses the average-cost method: a fill that reduces a position realises ``(price - average cost) x
    size closed``; a fill that adds to it moves the average cost. A round trip opens when a symbol's position leaves
    0 and closes when it returns to 0; a fill that flips the side closes one trip and opens the next with the
    remainder. Resizing in between (a rebalancing strategy does it often) adds fills to the same trip. A trip
    still open at the end is listed marked to the last close (status ``open``).
    """

    def start(self) -> None:
        self.fills: list[dict[str, object]] = []
        self.closed: list[dict[str, object]] = []
        self.rejected: list[dict[str, object]] = []
        self.books: dict[str, _Book] = {}

    def notify_order(self, order: bt.Order) -> None:
        if order.status in _GAVE_UP:
            self.rejected.append({
                "date": self.strategy.datetime.date(0).isoformat(),
                "symbol": order.data._name,
                "side": "buy" if order.isbuy() else "sell",
                "size": order.created.size,
                "status": _GAVE_UP[order.status],
            })
        elif order.status == order.Completed:
            self._fill(order)

    def _fill(self, order: bt.Order) -> None:
        ex = order.executed
        name = order.data._name
        book = self.books.setdefault(name, _Book())
        date = bt.num2date(ex.dt).date().isoformat()
        signed, price = float(ex.size), float(ex.price)
        before = book.size
        realised = 0.0
        if before * signed < 0:  # the fill reduces (or flips) the open position: realise the part it closes
            closed_qty = min(abs(signed), abs(before))
            realised = (price - book.cost) * closed_qty * (1.0 if before > 0 else -1.0)
        after = before + signed
        if book.trip is None and after != 0:
            book.trip = self._open_trip(name, date)
        if book.trip is not None:
            book.trip["fills"] += 1
            book.trip["pnl"] += realised
            book.trip["commission"] += float(ex.comm)
            book.trip["max_size"] = max(book.trip["max_size"], abs(before), abs(after))
        flipped = before != 0 and after != 0 and (before > 0) != (after > 0)
        if after == 0 or flipped:
            self._close_trip(book, date, "closed")
        if flipped:
            book.trip = self._open_trip(name, date)
            book.trip["fills"] = 1
            book.trip["max_size"] = abs(after)
        if after == 0:
            book.cost = 0.0
        elif flipped or before == 0:
            book.cost = price
        elif abs(after) > abs(before):  # added to the position: new average cost
            book.cost = (book.cost * abs(before) + price * abs(signed)) / abs(after)
        book.size = after
        self.fills.append({
            "date": date, "decided": bt.num2date(order.created.dt).date().isoformat(), "symbol": name,
            "side": "buy" if signed > 0 else "sell", "size": signed, "price": price,
            "value": abs(signed * price), "commission": float(ex.comm), "position": after,
            "realised_pnl": realised,
        })

    def _open_trip(self, name: str, date: str) -> dict[str, Any]:
        return {"symbol": name, "status": "open", "opened": date, "closed": None, "open_bar": len(self.strategy),
                "bars": 0, "fills": 0, "max_size": 0.0, "size": None, "pnl": 0.0, "commission": 0.0}

    def _close_trip(self, book: _Book, date: str, status: str, unrealised: float = 0.0) -> None:
        trip = book.trip
        if trip is None:
            return
        trip.update(status=status, closed=date, bars=len(self.strategy) - trip.pop("open_bar"))
        trip["pnl"] += unrealised
        trip["pnl_net"] = trip["pnl"] - trip["commission"]
        if status == "open":
            trip["size"] = book.size
        self.closed.append(trip)
        book.trip = None

    def stop(self) -> None:
        """Round trips still open at the end are listed marked to the last close (status 'open')."""
        for data in self.strategy.datas:
            book = self.books.get(data._name)
            if book is not None and book.trip is not None:
                unrealised = book.size * (float(data.close[0]) - book.cost)
                self._close_trip(book, data.datetime.date(0).isoformat(), "open", unrealised)

    def get_analysis(self) -> dict[str, list[dict[str, object]]]:
        return {"fills": self.fills, "closed": self.closed, "rejected": self.rejected}
