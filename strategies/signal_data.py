"""Price feeds for backtrader built from validated frames, optionally carrying precomputed signal lines.

Backtests compute out-of-sample signals (GM forecast, sentiment, fused action) per bar and hand them to backtrader
as extra lines of the price feed, so a strategy only reads lines and never trains or predicts. The feeds read
prepared Python lists instead of ``DataFrame.iloc`` per value (backtrader's PandasData), which made loading the
main cost of a run with signal lines.
"""
from __future__ import annotations

import backtrader as bt
import pandas as pd

from ground.signals import SIGNAL_LINES


class FrameFeed(bt.feed.DataBase):
    """A feed over a validated price frame (DatetimeIndex, open/high/low/close/volume columns).

    ``dataname`` is the frame; every line whose name is a column is filled from it, others stay NaN.
    """

    def start(self) -> None:
        super().start()
        frame: pd.DataFrame = self.p.dataname
        self._dates = [bt.date2num(ts.to_pydatetime()) for ts in frame.index]
        names = [n for n in self.lines.getlinealiases() if n != "datetime" and n in frame.columns]
        self._columns = [(getattr(self.lines, n), frame[n].to_numpy(dtype=float).tolist()) for n in names]
        self._row = 0

    def _load(self) -> bool:
        row = self._row
        if row >= len(self._dates):
            return False
        self.lines.datetime[0] = self._dates[row]
        for line, values in self._columns:
            line[0] = values[row]
        self._row = row + 1
        return True


class SignalData(FrameFeed):
    """FrameFeed whose frame also carries the SIGNAL_LINES columns next to OHLCV."""

    lines = SIGNAL_LINES
