"""A paper run killed (SIGKILL) at each point of the bar cycle and started again ends exactly where an unbroken
run ends: same cash, same position, every order once; and a full disk stops the run cleanly."""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backtests.paper.journal import Journal

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def bars(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = np.random.default_rng(3)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, 30)))
    open_ = close * (1 + rng.normal(0, 0.005, 30))
    frame = pd.DataFrame({"open": open_, "high": np.maximum(open_, close) * 1.01,
                          "low": np.minimum(open_, close) * 0.99, "close": close, "volume": 1000.0},
                         index=pd.bdate_range("2024-01-02", periods=30, name="date"))
    path = tmp_path_factory.mktemp("bars") / "bars.csv"
    frame.to_csv(path)
    return path


def child(journal: Path, bars: Path, kill_at: str = "", max_pages: int | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PAPER_KILL_AT": kill_at, "PYTHONWARNINGS": "error"}
    args = [sys.executable, "-m", "tests.backtests.paper.cycle_child", str(journal), str(bars)]
    return subprocess.run(args + ([str(max_pages)] if max_pages else []), cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def ledger(path: Path) -> dict[str, object]:
    with Journal(path) as journal:
        orders = journal.query("SELECT o.client_id, o.size, o.state, f.size, round(f.price, 9), round(f.commission, 9) "
                               "FROM orders o LEFT JOIN fills f USING (client_id) ORDER BY o.client_id")
        decisions = journal.query("SELECT bar, action, target, order_size FROM decisions ORDER BY bar")
        return {"cash": round(journal.cash(), 6), "positions": journal.positions(), "orders": orders,
                "decisions": decisions}


@pytest.fixture(scope="module")
def unbroken(bars: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    path = tmp_path_factory.mktemp("unbroken") / "journal.sqlite"
    done = child(path, bars)
    assert done.returncode == 0, done.stderr
    result = ledger(path)
    states = [o[2] for o in result["orders"]]
    assert len(states) >= 6 and set(states[:-1]) == {"filled"}  # the last bar's order waits for a next bar
    return result


@pytest.mark.slow
@pytest.mark.parametrize("kill_at", ["bar:5", "decision:4", "intent:3", "submitted:3", "fill:3", "fill:6"])
def test_killed_at_any_point_resumes_to_the_same_ledger(
    kill_at: str, bars: Path, unbroken: dict[str, object], tmp_path: Path
) -> None:
    path = tmp_path / "journal.sqlite"
    killed = child(path, bars, kill_at)
    assert killed.returncode == -9, killed.stderr  # it really died at that point
    before = ledger(path)
    assert len(before["decisions"]) < len(unbroken["decisions"])

    resumed = child(path, bars)
    assert resumed.returncode == 0, resumed.stderr
    after = ledger(path)
    assert after == unbroken  # same decisions, each order once with one fill, same position and cash
    assert json.loads(resumed.stdout)["broker_cash"] == pytest.approx(after["cash"], abs=1e-6)
    with Journal(path) as journal:
        resent = journal.query("SELECT client_id, submissions FROM orders WHERE submissions > 1")
    if kill_at.startswith(("submitted", "intent")):
        assert len(resent) == (1 if kill_at.startswith("submitted") else 0)  # sent again under the same id


@pytest.mark.slow
def test_a_full_disk_stops_the_run_cleanly_and_the_journal_resumes(bars: Path, unbroken: dict[str, object],
                                                                   tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    with Journal(path) as journal:  # create it first, to learn how many pages the empty journal takes
        journal.begin({"symbol": "TEST", "strategy": "mean3"}, 10_000.0)
        pages = journal.page_count()
    full = child(path, bars, max_pages=pages)  # no room to grow: the first table that needs a page fills it
    assert full.returncode == 0, full.stderr
    out = json.loads(full.stdout.splitlines()[-1])
    assert "database or disk is full" in out["stopped"] and "free disk space" in out["stopped"]
    assert "paper session stops" in full.stderr

    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        filled = conn.execute("SELECT count(*) FROM orders WHERE state = 'filled'").fetchone()[0]
        fills = conn.execute("SELECT count(*) FROM fills").fetchone()[0]
        cash = conn.execute("SELECT cash FROM account").fetchone()[0]
        spent = conn.execute("SELECT coalesce(sum(size * price + commission), 0) FROM fills").fetchone()[0]
    assert filled == fills and cash == pytest.approx(10_000.0 - spent)  # the ledger agrees with its fills
    partial = ledger(path)
    assert len(partial["decisions"]) < len(unbroken["decisions"])

    resumed = child(path, bars)  # space again: the run picks up where the journal stopped
    assert resumed.returncode == 0, resumed.stderr
    assert ledger(path) == unbroken
