"""The real session (``PaperSession.run``, what ``bt-paper`` runs) killed with SIGKILL at several points of the bar
cycle and started again ends where an unbroken session ends: same decisions, each order once with one fill, same
position and cash. A journal that runs out of room stops the session cleanly, and it resumes once there is room."""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from backtests.paper.journal import Journal

ROOT = Path(__file__).resolve().parents[3]


def child(journal: Path, kill_at: str = "", max_pages: int | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PAPER_KILL_AT": kill_at, "PYTHONWARNINGS": "error"}
    args = [sys.executable, "-m", "tests.backtests.paper.session_child", str(journal), str(journal.parent)]
    return subprocess.run(args + ([str(max_pages)] if max_pages else []), cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=180)


def ledger(path: Path) -> dict[str, object]:
    with Journal(path) as journal:
        orders = journal.query("SELECT o.client_id, o.size, o.state, f.size, round(f.price, 9), round(f.commission, 9) "
                               "FROM orders o LEFT JOIN fills f USING (client_id) ORDER BY o.client_id")
        decisions = journal.query("SELECT bar, action, target, order_size, models FROM decisions ORDER BY bar")
        return {"cash": round(journal.cash(), 6), "positions": journal.positions(), "orders": orders,
                "decisions": decisions}


@pytest.fixture(scope="module")
def unbroken(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    path = tmp_path_factory.mktemp("unbroken") / "journal.sqlite"
    done = child(path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1])["failed"] is False
    result = ledger(path)
    assert len(result["decisions"]) == 10 and sum(o[2] == "filled" for o in result["orders"]) >= 3
    return result


@pytest.mark.slow
@pytest.mark.parametrize("kill_at", ["bar:4", "decision:3", "intent:2", "submitted:2", "fill:2"])
def test_a_killed_session_resumes_to_the_same_ledger(kill_at: str, unbroken: dict[str, object], tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    killed = child(path, kill_at)
    assert killed.returncode == -9, killed.stderr  # it really died at that point
    assert len(ledger(path)["decisions"]) < len(unbroken["decisions"])
    resumed = child(path)
    assert resumed.returncode == 0, resumed.stderr
    assert ledger(path) == unbroken
    with Journal(path) as journal:
        starts = journal.query("SELECT text FROM events WHERE kind = 'start' ORDER BY id")
    assert len(starts) == 2 and "resuming after 2024-" in starts[1][0]


@pytest.mark.slow
def test_a_full_journal_stops_the_session_cleanly_and_it_resumes(unbroken: dict[str, object], tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    first = child(path, max_pages=1000)  # create it, then learn its size
    assert first.returncode == 0, first.stderr
    path.unlink()
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    with Journal(path) as journal:
        journal.begin({"symbol": "NVDA", "strategy": "gm", "interval": "1d", "exchange": "XNYS"}, 100_000.0)
        pages = journal.page_count()
    full = child(path, max_pages=pages + 1)
    assert full.returncode == 0, full.stderr
    out = json.loads(full.stdout.splitlines()[-1])
    assert out["failed"] is True and "journal write failed" in out["reason"] and "free disk space" in out["reason"]
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    assert len(ledger(path)["decisions"]) < len(unbroken["decisions"])
    resumed = child(path)
    assert resumed.returncode == 0, resumed.stderr
    assert ledger(path) == unbroken
