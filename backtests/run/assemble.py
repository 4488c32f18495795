"""Cerebro assembly with realistic defaults: next-bar-open fills, commission and slippage in basis points."""
from __future__ import annotations

from collections.abc import Mapping

import backtrader as bt
import pandas as pd

from backtests.presets.config import RunConfig
from backtests.run.analyzers import EquityRecorder, FillRecorder
from ground.signals import SIGNAL_LINES
from strategies.registry import StrategySpec
from strategies.signal_data import FrameFeed, SignalData


def make_feed(symbol: str, frame: pd.DataFrame, signals: pd.DataFrame | None = None) -> FrameFeed:
    """A backtrader feed from a validated price frame, with the signal lines attached when given."""
    if signals is None:
        return FrameFeed(dataname=frame, name=symbol)
    joined = frame.join(signals.reindex(frame.index)[list(SIGNAL_LINES)])
    return SignalData(dataname=joined, name=symbol)


def build_cerebro(
    frames: Mapping[str, pd.DataFrame],
    spec: StrategySpec,
    cfg: RunConfig,
    *,
    signals: Mapping[str, pd.DataFrame] | None = None,
) -> bt.Cerebro:
    """Cerebro with one feed per symbol, the strategy with its config section, its sizer with the ``[sizer]``
    section, costs, and the recorders the report reads.

    Market orders placed at a bar's close fill at the next bar's open (backtrader's default, no cheat-on-close);
    slippage moves that fill price against the order by ``slippage_bps``; commission is ``commission_bps`` of value.
    """
    costs = cfg.costs
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.broker.setcash(cfg.run.cash)
    cerebro.broker.setcommission(commission=costs.commission_bps / 1e4)
    if costs.slippage_bps:
        cerebro.broker.set_slippage_perc(perc=costs.slippage_bps / 1e4, slip_open=True, slip_match=True)
    for symbol, frame in frames.items():
        cerebro.adddata(make_feed(symbol, frame, None if signals is None else signals.get(symbol)))
    cerebro.addstrategy(spec.cls, config=cfg.strategy_params(spec.section))
    if spec.sizer is not None:
        cerebro.addsizer(spec.sizer, config=cfg.sizer)
    cerebro.addanalyzer(EquityRecorder, _name="equity")
    cerebro.addanalyzer(FillRecorder, _name="fills")
    return cerebro
