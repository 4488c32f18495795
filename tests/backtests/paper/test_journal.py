"""The journal's ledger rules and its errors, without a broker."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pandas as pd
import pytest

from backtests.paper.journal import Decision, Journal, JournalError, JournalWriteError, _position_after

BAR = pd.Timestamp("2024-01-02")


def decide(journal: Journal, bar: pd.Timestamp, size: float) -> int:
    journal.record_bar("NVDA", bar, (10.0, 11.0, 9.0, 10.5, 100.0))
    return journal.record_decision(Decision("NVDA", bar, "buy" if size > 0 else "sell", 0.5, size, size,
                                            forecast={"gm_mu": 0.01}, models={"gm": "GM/gm/abc"}))


def test_a_fill_moves_position_and_cash_in_one_step(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.sqlite") as journal:
        journal.begin({"symbol": "NVDA"}, 1000.0)
        intent = journal.record_intent(decide(journal, BAR, 10))
        assert intent is not None and intent.state == "intent" and intent.client_id == "NVDA-20240102T000000"
        journal.mark_submitted(intent.client_id)
        journal.record_fill(intent.client_id, BAR + pd.Timedelta(days=1), 10, 10.0, 0.05)
        assert journal.cash() == pytest.approx(1000 - 100 - 0.05)
        assert journal.positions() == {"NVDA": (10.0, 10.0)}
        with pytest.raises(JournalError, match="fill for order .* that is filled"):
            journal.record_fill(intent.client_id, BAR, 10, 10.0, 0.05)  # a second fill of one order
        assert journal.recover("NVDA").open_orders == []
        decide(journal, BAR + pd.Timedelta(days=1), -10)
        assert journal.bar_before("NVDA", BAR + pd.Timedelta(days=1)) == BAR  # a feed resumes after it
        assert journal.bar_before("NVDA", BAR) is None


def test_a_decision_to_hold_makes_no_order(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.sqlite") as journal:
        journal.begin({"symbol": "NVDA"}, 1000.0)
        journal.record_bar("NVDA", BAR, (10.0, 11.0, 9.0, 10.5, 100.0))
        held = journal.record_decision(Decision("NVDA", BAR, "hold", 0.0, 0.0, 0.0))
        assert journal.record_intent(held) is None and journal.recover("NVDA").undecided_orders == []


@pytest.mark.parametrize(("before", "fill", "after"), [
    ((0, 0), (10, 5), (10, 5)),
    ((10, 5), (10, 7), (20, 6)),
    ((10, 5), (-4, 9), (6, 5)),
    ((10, 5), (-15, 9), (-5, 9)),
    ((10, 5), (-10, 9), (0, 0)),
    ((-5, 8), (-5, 6), (-10, 7)),
])
def test_position_follows_the_brokers_rule(before: tuple, fill: tuple, after: tuple) -> None:
    assert _position_after(*before, *fill) == pytest.approx(after)


def test_another_sessions_journal_is_refused(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.sqlite") as journal:
        journal.begin({"symbol": "NVDA", "strategy": "hybrid"}, 1000.0)
    with Journal(tmp_path / "j.sqlite") as journal, pytest.raises(JournalError) as err:
        journal.begin({"symbol": "AMD", "strategy": "hybrid"}, 1000.0)
    assert "symbol: journal has 'NVDA', asked 'AMD'" in str(err.value) and "new --journal" in str(err.value)


def test_query_only_reads(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.sqlite") as journal, pytest.raises(ValueError, match="only reads"):
        journal.query("DELETE FROM orders")


def test_files_that_are_not_journals_are_refused(tmp_path: Path) -> None:
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE t (x)")
    with pytest.raises(JournalError, match="not a paper journal"):
        Journal(other)
    newer = tmp_path / "newer.sqlite"
    with sqlite3.connect(newer) as conn:
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(JournalError, match="newer than this code"):
        Journal(newer)
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"not a database at all" * 100)
    with pytest.raises(JournalError, match="cannot open the paper journal"):
        Journal(garbage)


def test_a_failed_write_rolls_back_whole(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.sqlite") as journal:
        journal.begin({"symbol": "NVDA"}, 1000.0)
        intent = journal.record_intent(decide(journal, BAR, 10))
        journal.mark_submitted(intent.client_id)
        pages = journal.page_count()
    with Journal(tmp_path / "j.sqlite", max_pages=pages) as journal:  # the disk is full from here on
        big = Decision("NVDA", BAR + pd.Timedelta(days=1), "hold", 0.0, 0.0, 0.0, inputs={"x": "y" * 20_000})
        journal.record_bar("NVDA", big.bar, (10.0, 11.0, 9.0, 10.5, 100.0))
        with pytest.raises(JournalWriteError, match="database or disk is full") as err:
            journal.record_decision(big)
        assert "free disk space" in str(err.value)
        assert journal.decision_at("NVDA", big.bar) is None and journal.cash() == 1000.0
