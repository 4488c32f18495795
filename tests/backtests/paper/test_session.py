"""A paper session on a table of bars (no network): it trades through the journal, equals a backtest of the same
bars and signals, resumes from its journal, swaps a retrained model in between bars, and stops cleanly when the
source is down at start."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from backtests.paper.journal import Journal
from backtests.paper.session import PaperSession, SessionSettings
from backtests.paper.signals import signal_frame
from backtests.presets.config import load_config
from backtests.run.runner import run_strategy
from feeds.live.clock import ScaledClock
from feeds.live.poller import PollPolicy
from feeds.live.sessions import ExchangeSessions
from strategies.registry import strategy_spec
from tests.backtests.paper.stubs import MomentumForecaster
from tests.feeds.live.bars import TableSource, daily_bars

DAILY = ExchangeSessions("XNYS", "1d")
START = pd.Timestamp("2024-11-30 12:00", tz="UTC")
UNTIL = pd.Timestamp("2024-12-31 22:30", tz="UTC")
FIRST_LIVE = pd.Timestamp("2024-12-02")


def labelled(table: pd.DataFrame) -> pd.DataFrame:
    out = table.copy()
    out.index = pd.DatetimeIndex([DAILY.label_for_start(t) for t in table.index], name="date")
    return out


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return daily_bars(DAILY, "2024-08-01", "2025-01-10", seed=11)


def config(tmp_path: Path, strategy: str = "gm"):
    return load_config("default", {"run.strategy": strategy, "run.models_dir": str(tmp_path / "models"),
                                   "sentiment.archive": str(tmp_path / "news.sqlite")})


def session(tmp_path: Path, table: pd.DataFrame, *, until: pd.Timestamp = UNTIL, source=None, **kw) -> PaperSession:
    history = labelled(table).loc[lambda f: f.index < FIRST_LIVE]
    settings = SessionSettings("NVDA", tmp_path / "journal.sqlite", until=until.to_pydatetime(), qcheck_s=0.05,
                               give_up_s=kw.pop("give_up_s", None))
    return PaperSession(config(tmp_path), settings, source=source or TableSource("NVDA", table), history=history,
                        clock=ScaledClock(START.to_pydatetime(), speed=86400 * 4), forecaster=MomentumForecaster(),
                        retrain=False, **kw)


def journal_fills(path: Path) -> list[tuple[str, str, float, float, float]]:
    with Journal(path) as journal:
        rows = journal.query("SELECT bar, size, price, commission FROM fills ORDER BY bar")
    return [(pd.Timestamp(b).date().isoformat(), "buy" if s > 0 else "sell", abs(s), round(p, 9), round(c, 9))
            for b, s, p, c in rows]


@pytest.mark.slow
def test_a_session_equals_the_backtest_of_its_bars_and_signals(tmp_path: Path, table: pd.DataFrame) -> None:
    result = session(tmp_path, table).run()
    assert not result.failed and "end time" in result.reason
    live = labelled(table).loc[FIRST_LIVE:pd.Timestamp("2024-12-31")]
    assert list(result.signals.index) == list(live.index)  # every live bar once, in order, from the feed
    cfg = config(tmp_path)
    outcome = run_strategy(strategy_spec("gm"), {"NVDA": live}, cfg, signals={"NVDA": signal_frame(
        [dict(r, date=d) for d, r in result.signals.iterrows()])})
    expected = [(r.date, r.side, abs(r.size), round(r.price, 9), round(r.commission, 9))
                for r in outcome.fills.itertuples()]
    assert len(expected) >= 3
    assert journal_fills(tmp_path / "journal.sqlite") == expected
    assert result.cash == pytest.approx(outcome.equity.iloc[-1] - result.positions.get("NVDA", (0, 0))[0]
                                        * live["close"].iloc[-1])


def test_a_retrained_model_is_swapped_in_between_bars_while_bars_go_on(tmp_path: Path, table: pd.DataFrame) -> None:
    import time

    from backtests.paper.models import ModelSlot, Retrainer
    from backtests.paper.signals import LiveSignals
    from tests.backtests.paper.stubs import GatedTrainer

    history = labelled(table).loc[lambda f: f.index < FIRST_LIVE]
    live = labelled(table).loc[FIRST_LIVE:]
    slot = ModelSlot(MomentumForecaster(valid_from=history.index[-3]))
    trainer = GatedTrainer()
    retrainer = Retrainer(slot, trainer, every=3)
    events: list[tuple[str, str]] = []
    signals = LiveSignals(config(tmp_path), "NVDA", history, "gm", slot, retrainer=retrainer,
                          on_event=lambda kind, text: events.append((kind, text)))
    bars = iter(live.iterrows())

    def feed() -> dict:
        label, row = next(bars)
        started = time.perf_counter()
        out = signals.on_bar(label, tuple(row))
        assert time.perf_counter() - started < 1.0  # the bar loop never waits for the training
        return out

    first = feed()  # the third bar after the version became valid: a boundary, training starts
    assert trainer.started.wait(5) and retrainer.state().running_since is not None
    assert trainer.frames[0].index[-1] == live.index[0]  # trained on prices up to the boundary bar only
    during = [feed(), feed()]  # handled while the training is still running, with the old version
    assert {r["models"]["gm"] for r in (first, *during)} == {"GM/momentum/v1"}
    trainer.release.set()
    assert retrainer.join(5)
    assert slot.current().version == "GM/momentum/v1"  # ready, but not swapped in the middle of anything
    after = feed()
    assert after["models"]["gm"] == "GM/momentum/v2" and slot.current().version == "GM/momentum/v2"
    assert retrainer.join(5) and retrainer.state().running_since is None
    assert [f.index[-1] for f in trainer.frames] == [live.index[0], live.index[3]]  # one fold every 3 bars
    assert retrainer.state().trained == 2
    assert not retrainer.on_bar(signals.frame)  # no boundary again until three more bars
    assert [k for k, _ in events] == ["retrain", "model", "retrain"]  # what bt-paper status shows
    assert events[1][1].startswith(f"GM/momentum/v2 in use from bar {live.index[3]}")


@pytest.mark.slow
def test_a_source_down_at_start_is_reported_and_the_session_stops_cleanly(tmp_path: Path, table: pd.DataFrame) -> None:
    source = TableSource("NVDA", table)
    source.down = True
    result = session(tmp_path, table, source=source, give_up_s=86400.0).run()
    assert result.failed and "unreachable" in result.reason and result.decisions == 0
    with Journal(tmp_path / "journal.sqlite") as journal:
        events = journal.query("SELECT kind, text FROM events ORDER BY id")
        assert journal.cash() == pytest.approx(100_000.0)
    assert ("feed", events[2][1]) == events[2] and events[2][1].startswith("DISCONNECTED")  # said so as it happened
    assert events[-1][0] == "stop" and "unreachable" in events[-1][1]


@pytest.mark.slow
def test_status_and_export_read_the_journal_and_bt_report_reads_the_export(tmp_path: Path, table: pd.DataFrame) -> None:
    import json

    from click.testing import CliRunner

    from backtests.cli.paper import main as paper_main
    from backtests.cli.report import main as report_main

    session(tmp_path, table, until=pd.Timestamp("2024-12-13 22:30", tz="UTC")).run()
    journal = str(tmp_path / "journal.sqlite")
    with Journal(journal) as j:  # as the session writes it when a retrained version takes over
        j.event("model", "GM/momentum/v2 in use from bar 2024-12-12 00:00:00 (was GM/momentum/v1)")
    shown = CliRunner().invoke(paper_main, ["status", "--journal", journal], catch_exceptions=False)
    assert shown.exit_code == 0, shown.output
    for part in ("paper session NVDA gm 1d", "feed: LIVE", "cash ", "equity ", "last 5 signal(s)",
                 "models in use: gm GM/momentum/v1", "session: stopped", "last model swap: GM/momentum/v2"):
        assert part in shown.output
    missing = CliRunner().invoke(paper_main, ["status", "--journal", str(tmp_path / "none.sqlite")])
    assert missing.exit_code == 2 and "no paper journal" in missing.output and not (tmp_path / "none.sqlite").exists()

    reports = tmp_path / "reports"
    done = CliRunner().invoke(paper_main, ["export", "--journal", journal, "--reports-dir", str(reports)],
                              catch_exceptions=False)
    assert done.exit_code == 0, done.output
    folder = next(reports.iterdir())
    assert {p.name for p in folder.iterdir()} >= {"metrics.json", "equity.csv", "trades.csv", "signals.csv",
                                                  "config.toml", "run.json", "report.html"}
    info = json.loads((folder / "run.json").read_text())
    assert info["mode"] == "paper" and info["fills_equal_backtest"] is True
    page = (folder / "report.html").read_text()
    assert "PAPER SESSION" in page and "Forecast skill" in page  # the same skill section as a backtest's
    doc = json.loads((folder / "metrics.json").read_text())
    assert any(line.startswith("GM:") for line in doc["headline"]) and doc["symbols"]
    metrics = doc["metrics"]
    assert metrics["gm"]["total_return"] == pytest.approx(metrics["backtest"]["total_return"], abs=1e-12)
    show = CliRunner().invoke(report_main, ["show", str(folder)], catch_exceptions=False)
    assert show.exit_code == 0 and "backtest" in show.output
    again = CliRunner().invoke(paper_main, ["export", "--journal", journal, "--reports-dir", str(reports)],
                               catch_exceptions=False)
    assert again.exit_code == 0
    second = [p for p in reports.iterdir() if p != folder][0]
    compared = CliRunner().invoke(report_main, ["compare", str(folder), str(second), "--out",
                                                str(tmp_path / "cmp.html")], catch_exceptions=False)
    assert compared.exit_code == 0, compared.output
