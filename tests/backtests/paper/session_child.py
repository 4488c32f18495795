"""A whole paper session in a child process, for the crash tests: ``PaperSession.run`` (what ``bt-paper`` runs)
over a table of daily bars on an accelerated clock, with the stand-in forecaster.

``python -m tests.backtests.paper.session_child JOURNAL WORKDIR [MAX_PAGES]``. With ``PAPER_KILL_AT=point:n`` the
process SIGKILLs itself right after the n-th time the bar cycle reaches ``point`` (one of ``orders.POINTS``). On a
clean end it prints the session's result as JSON.
"""
from __future__ import annotations

import json
import os
import signal
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from backtests.paper.session import PaperSession, SessionSettings
from backtests.presets.config import load_config
from feeds.live.clock import ScaledClock
from feeds.live.sessions import ExchangeSessions
from tests.backtests.paper.stubs import MomentumForecaster
from tests.feeds.live.bars import TableSource, daily_bars

DAILY = ExchangeSessions("XNYS", "1d")
START = pd.Timestamp("2024-11-30 12:00", tz="UTC")
UNTIL = pd.Timestamp("2024-12-13 22:30", tz="UTC")
FIRST_LIVE = pd.Timestamp("2024-12-02")


def kill_hook() -> Callable[[str], None]:
    point, _, nth = os.environ.get("PAPER_KILL_AT", "").partition(":")
    seen: Counter[str] = Counter()

    def checkpoint(name: str) -> None:
        seen[name] += 1
        if name == point and seen[name] == int(nth or 1):
            os.kill(os.getpid(), signal.SIGKILL)

    return checkpoint


def main(journal: str, workdir: str, max_pages: str | None = None) -> None:
    table = daily_bars(DAILY, "2024-08-01", "2025-01-10", seed=11)
    history = table.set_axis(pd.DatetimeIndex([DAILY.label_for_start(t) for t in table.index], name="date"))
    history = history.loc[history.index < FIRST_LIVE]
    cfg = load_config("default", {"run.strategy": "gm", "run.models_dir": f"{workdir}/models"})
    settings = SessionSettings("NVDA", Path(journal), until=UNTIL.to_pydatetime(), qcheck_s=0.05,
                               journal_max_pages=int(max_pages) if max_pages else None)
    session = PaperSession(cfg, settings, source=TableSource("NVDA", table), history=history,
                           clock=ScaledClock(START.to_pydatetime(), speed=86400 * 6),
                           forecaster=MomentumForecaster(), retrain=False, checkpoint=kill_hook())
    result = session.run()
    print(json.dumps({"reason": result.reason, "failed": result.failed, "cash": result.cash,
                      "positions": result.positions, "decisions": result.decisions}))


if __name__ == "__main__":
    main(*sys.argv[1:])
