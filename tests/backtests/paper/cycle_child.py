"""A paper run in a child process, for the crash tests: a backtrader run over a CSV of bars, through the journal.

``python -m tests.backtests.paper.cycle_child JOURNAL BARS_CSV [MAX_PAGES]``. With ``PAPER_KILL_AT=point:n`` the
process SIGKILLs itself right after the n-th time the bar cycle reaches ``point`` (one of ``orders.POINTS``).
The rule is a small trend follower (target 10 shares while the close is above its 3-bar mean, else -5): simple,
deterministic, and it buys, sells and crosses zero. On a clean end it prints the journal's cash and positions.
"""
from __future__ import annotations

import json
import os
import signal
import sys
from collections import Counter

import backtrader as bt
import pandas as pd

from backtests.paper.journal import Decision, Journal
from backtests.paper.orders import JournalledOrders

SYMBOL = "TEST"
CASH = 10_000.0
COMMISSION = 0.0005


def kill_hook() -> object:
    spec = os.environ.get("PAPER_KILL_AT", "")
    point, _, nth = spec.partition(":")
    seen: Counter[str] = Counter()

    def checkpoint(name: str) -> None:
        seen[name] += 1
        if name == point and seen[name] == int(nth or 1):
            os.kill(os.getpid(), signal.SIGKILL)

    return checkpoint


class Follower(bt.Strategy):
    params = (("journal", None), ("checkpoint", None))

    def start(self) -> None:
        self.orders = JournalledOrders(self.p.journal, self, self.data, SYMBOL, checkpoint=self.p.checkpoint)
        self.orders.restore()

    def notify_order(self, order: bt.Order) -> None:
        self.orders.notify_order(order)

    def next(self) -> None:
        if len(self.data) < 3:
            return
        bar = pd.Timestamp(self.data.datetime.datetime(0))
        self.orders.on_bar(bar, self.decide)

    def decide(self) -> Decision:
        bar = pd.Timestamp(self.data.datetime.datetime(0))
        closes = self.data.close.get(size=3)
        mean = sum(closes) / 3
        target = 10.0 if self.data.close[0] > mean else -5.0
        size = target - self.position.size
        action = "buy" if size > 0 else "sell" if size < 0 else "hold"
        return Decision(SYMBOL, bar, action, min(1.0, abs(self.data.close[0] / mean - 1) * 20), target, size,
                        inputs={"close": self.data.close[0], "mean3": mean}, signal={"rule": "close vs mean3"},
                        models={"rule": "mean3"})


def main(journal_path: str, bars_csv: str, max_pages: str | None = None) -> None:
    frame = pd.read_csv(bars_csv, index_col="date", parse_dates=["date"])
    with Journal(journal_path, max_pages=int(max_pages) if max_pages else None) as journal:
        journal.begin({"symbol": SYMBOL, "strategy": "mean3"}, CASH)
        cerebro = bt.Cerebro(stdstats=False)
        cerebro.broker.setcash(journal.cash())
        cerebro.broker.setcommission(commission=COMMISSION)
        cerebro.adddata(bt.feeds.PandasData(dataname=frame))
        cerebro.addstrategy(Follower, journal=journal, checkpoint=kill_hook())
        strat = cerebro.run()[0]
        out = {"cash": journal.cash(), "positions": journal.positions(), "stopped": strat.orders.stopped,
               "broker_cash": cerebro.broker.getcash()}
    print(json.dumps(out))


if __name__ == "__main__":
    main(*sys.argv[1:])
