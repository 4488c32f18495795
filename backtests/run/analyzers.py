"""Lightweight analyzers that record what the report needs, once per bar, with no per-bar computation of metrics."""
from __future__ import annotations

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


class FillRecorder(bt.Analyzer):
    """Every fill (date, symbol, size, price, value, commission) and every closed round trip's net PnL."""

    def start(self) -> None:
        self.fills: list[dict[str, object]] = []
        self.closed: list[dict[str, object]] = []
        self.open_trades: dict[int, bt.Trade] = {}

    def notify_order(self, order: bt.Order) -> None:
        if order.status == order.Completed:
            ex = order.executed
            self.fills.append(
                {
                    "date": bt.num2date(ex.dt).date().isoformat(),
                    "symbol": order.data._name,
                    "side": "buy" if order.isbuy() else "sell",
                    "size": ex.size,
                    "price": ex.price,
                    "value": abs(ex.size * ex.price),
                    "commission": ex.comm,
                }
            )

    def notify_trade(self, trade: bt.Trade) -> None:
        if trade.isopen:
            self.open_trades[trade.ref] = trade
        elif trade.isclosed:
            self.open_trades.pop(trade.ref, None)
            self.closed.append(self._row(trade, trade.pnl, trade.pnlcomm, "closed"))

    def stop(self) -> None:
        """Round trips still open at the end are listed marked to the last close (status 'open')."""
        for trade in self.open_trades.values():
            unrealised = trade.size * (trade.data.close[0] - trade.price)
            self.closed.append(self._row(trade, trade.pnl + unrealised, trade.pnlcomm + unrealised, "open"))

    @staticmethod
    def _row(trade: bt.Trade, pnl: float, pnl_net: float, status: str) -> dict[str, object]:
        end = trade.dtclose if status == "closed" else trade.data.datetime[0]
        return {
            "symbol": trade.data._name,
            "status": status,
            "opened": bt.num2date(trade.dtopen).date().isoformat(),
            "closed": bt.num2date(end).date().isoformat(),
            "bars": trade.barlen,
            "size": trade.size if status == "open" else None,
            "pnl": pnl,
            "pnl_net": pnl_net,
        }

    def get_analysis(self) -> dict[str, list[dict[str, object]]]:
        return {"fills": self.fills, "closed": self.closed}
