"""The backtrader side of the live feed: a thin ``DataBase`` that reads a ``LiveFeedRunner``'s events.

backtrader calls ``_load`` in its loop: it returns True with a bar in the lines, None when no bar is ready within
``qcheck`` seconds (the wait is on the runner's queue, so nothing spins) and False at the end. Status changes
become backtrader notifications (``notify_data`` sees DELAYED, LIVE, DISCONNECTED).
"""
from __future__ import annotations

import logging

import backtrader as bt

from feeds.live.poller import DELAYED, DISCONNECTED, LIVE, FeedEnd, LiveBar, StatusChange
from feeds.live.runner import LiveFeedRunner

logger = logging.getLogger(__name__)


class LiveData(bt.feed.DataBase):
    """Live bars from a ``LiveFeedRunner`` (param ``runner``); ``qcheck`` is the longest wait per call."""

    params = (("runner", None), ("qcheck", 0.5))

    def __init__(self) -> None:
        super().__init__()
        if self.p.runner is None:
            raise ValueError("LiveData needs a runner")
        self.runner: LiveFeedRunner = self.p.runner
        self.end_reason = ""
        self.end_error = False
        self._codes = {LIVE: self.LIVE, DELAYED: self.DELAYED, DISCONNECTED: self.DISCONNECTED}

    def islive(self) -> bool:
        return True

    def haslivedata(self) -> bool:
        return self.runner.pending() > 0

    def start(self) -> None:
        super().start()
        self.runner.start()

    def stop(self) -> None:
        self.runner.stop()
        super().stop()

    def _load(self) -> bool | None:
        timeout = self._qcheck
        while True:
            event = self.runner.get(timeout)
            if event is None:
                return None
            timeout = 0.0  # status changes and notices come in bursts: take the rest without waiting
            if isinstance(event, LiveBar):
                self._fill(event)
                return True
            if isinstance(event, StatusChange):
                self.put_notification(self._codes[event.status], event.reason)
            elif isinstance(event, FeedEnd):
                self.end_reason, self.end_error = event.reason, event.error
                (logger.error if event.error else logger.info)("live feed ended: %s", event.reason)
                return False

    def _fill(self, bar: LiveBar) -> None:
        lines = self.lines
        lines.datetime[0] = bt.date2num(bar.label.to_pydatetime())
        lines.open[0], lines.high[0], lines.low[0] = bar.open, bar.high, bar.low
        lines.close[0], lines.volume[0] = bar.close, bar.volume
        lines.openinterest[0] = 0.0
