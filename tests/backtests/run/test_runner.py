"""The runner on its own: a stub signal producer in place of the ML one, prices from a CSV, no training."""
from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backtests.presets.config import RunConfig, load_config
from backtests.report.records import ProducedSignals
from backtests.run.runner import execute
from feeds.prices import PriceLoad
from ground.errors import ConfigError
from ground.signals import ACTION, CONFIDENCE, SIGNAL_LINES, VOLATILITY
from strategies.registry import StrategySpec


def write_prices(path: Path, bars: int = 60) -> Path:
    """A steadily rising daily series (1% a day) as a CSV the project's loader accepts."""
    index = pd.bdate_range("2023-01-02", periods=bars, name="date")
    close = 100.0 * 1.01 ** np.arange(bars)
    frame = pd.DataFrame({"open": close, "high": close * 1.005, "low": close * 0.995, "close": close,
                          "volume": 1e6}, index=index)
    frame.to_csv(path)
    return path


class StubProducer:
    """Buys on the second bar with full confidence, then holds: the runner must trade exactly that."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def warmup_bars(self, cfg: RunConfig) -> int | None:
        return 0

    def produce(
        self, cfg: RunConfig, spec: StrategySpec, loads: Mapping[str, PriceLoad], frames: Mapping[str, pd.DataFrame]
    ) -> ProducedSignals:
        signals = {}
        for symbol, frame in frames.items():
            self.calls.append((symbol, len(frame)))
            lines = pd.DataFrame(index=frame.index, columns=list(SIGNAL_LINES), dtype=float)
            lines[ACTION], lines[CONFIDENCE], lines[VOLATILITY] = 0.0, 0.0, 0.01
            lines.iloc[1, lines.columns.get_loc(ACTION)] = 1.0
            lines.iloc[1, lines.columns.get_loc(CONFIDENCE)] = 1.0
            signals[symbol] = lines
        table = pd.concat([s.assign(symbol=k) for k, s in signals.items()])
        return ProducedSignals(signals, table, headline=["stub signals"], timings={"stub_s": 0.5})


def config(tmp_path: Path, strategy: str = "gm", **extra: object) -> RunConfig:
    csv = write_prices(tmp_path / "acme.csv")
    keys = {"run.strategy": strategy, "run.symbols": ["ACME"], "run.data": "csv", "run.csv": [str(csv)],
            "run.reports_dir": str(tmp_path / "reports"), "report.baselines": ["buyhold"], **extra}
    return load_config("default", keys)


def test_a_signal_strategy_trades_what_the_producer_says(tmp_path: Path) -> None:
    producer = StubProducer()
    result = execute(config(tmp_path), signal_producer=producer)
    assert producer.calls == [("ACME", 60)]
    fills = result.outcomes["gm"].fills
    assert len(fills) == 1 and fills["side"].iloc[0] == "buy"
    assert str(fills["date"].iloc[0]) == "2023-01-04"  # decided at bar 2's close, filled at bar 3's open
    assert set(result.outcomes) == {"gm", "buyhold", "exposure_matched"}  # ML runs: the exposure-matched null too
    assert result.timings["stub_s"] == 0.5 and result.timings["signals_s"] >= 0
    assert (result.path / "signals.csv").is_file()
    assert "stub signals" in (result.path / "report.html").read_text()
    exposure = result.outcomes["gm"].exposure
    assert exposure.iloc[2] == pytest.approx(0.95, abs=0.02)  # the sizer's cap at full confidence, on the fill bar


def test_a_price_only_strategy_needs_no_producer(tmp_path: Path) -> None:
    result = execute(config(tmp_path, "buyhold"))
    doc = json.loads((result.path / "metrics.json").read_text())
    assert doc["strategy"] == "buyhold" and not (result.path / "signals.csv").exists()
    assert result.outcomes["buyhold"].metrics["total_return"] > 0.4  # 60 bars up 1% a day, fully invested


def test_a_signal_strategy_without_a_producer_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="needs a signal producer"):
        execute(config(tmp_path))


def test_too_few_bars_for_the_strategys_own_warm_up(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="'sma' needs at least 101 bars, the window has 60"):
        execute(config(tmp_path, "sma"))
