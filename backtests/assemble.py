"""Cerebro assembly with realistic defaults: next-bar-open fills, commission and slippage in basis points."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import backtrader as bt
import pandas as pd

from backtests.analyzers import EquityRecorder, FillRecorder
from backtests.config import CostSection
from strategies.signal_data import SIGNAL_LINES, FrameFeed, SignalData


def make_feed(symbol: str, frame: pd.DataFrame, signals: pd.DataFrame | None = None) -> FrameFeed:
    """A backtrader feed from a validated price frame, with the signal lines attached when given."""
    if signals is None:
        return FrameFeed(dataname=frame, name=symbol)
    joined = frame.join(signals.reindex(frame.index)[list(SIGNAL_LINES)])
    return SignalData(dataname=joined, name=symbol)


def build_cerebro(
    frames: Mapping[str, pd.DataFrame],
    strategy: type[bt.Strategy],
    strategy_params: Mapping[str, Any],
    costs: CostSection,
    cash: float,
    *,
    signals: Mapping[str, pd.DataFrame] | None = None,
    sizer: tuple[type[bt.Sizer], Mapping[str, Any]] | None = None,
) -> bt.Cerebro:
    """Cerebro with one feed per symbol, the strategy, costs, and the recorders the report reads.

    Market orders placed at a bar's close fill at the next bar's open (backtrader's default, no cheat-on-close);
    slippage moves that fill price against the order by ``slippage_bps``; commission is ``commission_bps`` of value.
    """
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.broker.setcash(cash)
    cerebro.broker.setcommission(commission=costs.commission_bps / 1e4)
    if costs.slippage_bps:
        cerebro.broker.set_slippage_perc(perc=costs.slippage_bps / 1e4, slip_open=True, slip_match=True)
    for symbol, frame in frames.items():
        cerebro.adddata(make_feed(symbol, frame, None if signals is None else signals.get(symbol)))
    cerebro.addstrategy(strategy, **strategy_params)
    if sizer is not None:
        cerebro.addsizer(sizer[0], **sizer[1])
    cerebro.addanalyzer(EquityRecorder, _name="equity")
    cerebro.addanalyzer(FillRecorder, _name="fills")
    return cerebro
