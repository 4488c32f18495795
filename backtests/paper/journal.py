"""The paper session's durable journal: an intent log in SQLite that a restart replays.

Every step is written before the next one acts, each in its own transaction:

    bar -> decision (inputs, forecast, sentiment, signal, confidence, size, model versions)
        -> order intent (client order id derived from the decision) -> submitted -> fill (+ position and cash)

A session killed at any instant finds, on start, exactly how far each bar got: a decision without its order gets
its intent, an intent or a submitted order that never filled is submitted again under the same client id (the
paper broker's book died with the process; the id keeps the journal from ever holding it twice), and a filled
order is never sent again. Cash and positions are the journal's own ledger, updated in the fill's transaction,
so they are what a restart restores into the broker.

SQLite runs in WAL mode with ``synchronous=FULL`` (a committed step survives a power cut, not just a kill) and a
busy timeout, so ``bt-paper status`` can read while the session writes. A write that fails (disk full, I/O error)
rolls back whole and raises ``JournalWriteError``: the session stops there, and the journal holds every step up
to the last one that was written.
"""
from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from ground.errors import UserInputError

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1
OPEN_STATES = ("intent", "submitted")
BUSY_TIMEOUT_MS = 5000

_SCHEMA = """
CREATE TABLE session (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE bars (
    symbol TEXT NOT NULL, bar TEXT NOT NULL, received_at TEXT NOT NULL,
    open REAL NOT NULL, high REAL NOT NULL, low REAL NOT NULL, close REAL NOT NULL, volume REAL NOT NULL,
    PRIMARY KEY (symbol, bar)
);
CREATE TABLE decisions (
    id INTEGER PRIMARY KEY,
    symbol TEXT NOT NULL, bar TEXT NOT NULL, decided_at TEXT NOT NULL,
    inputs TEXT NOT NULL, forecast TEXT NOT NULL, sentiment TEXT NOT NULL, signal TEXT NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('buy', 'sell', 'hold')),
    confidence REAL NOT NULL CHECK (confidence BETWEEN 0 AND 1),
    target REAL NOT NULL, order_size REAL NOT NULL, models TEXT NOT NULL,
    UNIQUE (symbol, bar),
    FOREIGN KEY (symbol, bar) REFERENCES bars (symbol, bar)
);
CREATE TABLE orders (
    client_id TEXT PRIMARY KEY,
    decision_id INTEGER NOT NULL UNIQUE REFERENCES decisions (id),
    symbol TEXT NOT NULL, size REAL NOT NULL CHECK (size != 0),
    state TEXT NOT NULL CHECK (state IN ('intent', 'submitted', 'filled', 'cancelled', 'rejected')),
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL, submissions INTEGER NOT NULL DEFAULT 0, note TEXT NOT NULL DEFAULT ''
);
CREATE TABLE fills (
    id INTEGER PRIMARY KEY,
    client_id TEXT NOT NULL UNIQUE REFERENCES orders (client_id),
    bar TEXT NOT NULL, size REAL NOT NULL, price REAL NOT NULL CHECK (price > 0), commission REAL NOT NULL,
    filled_at TEXT NOT NULL
);
CREATE TABLE positions (symbol TEXT PRIMARY KEY, size REAL NOT NULL, price REAL NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE account (id INTEGER PRIMARY KEY CHECK (id = 1), cash REAL NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE events (id INTEGER PRIMARY KEY, at TEXT NOT NULL, kind TEXT NOT NULL, text TEXT NOT NULL);
"""


class JournalError(UserInputError):
    """The journal cannot be used as asked (another session's file, a newer schema, a broken file)."""


class JournalWriteError(JournalError):
    """A journal write failed and was rolled back; the session must stop (nothing after it was acted on)."""


@dataclass(frozen=True)
class Decision:
    """What the strategy decided at one bar, with everything it was decided from."""

    symbol: str
    bar: pd.Timestamp
    action: str
    confidence: float
    target: float
    order_size: float
    inputs: Mapping[str, Any] = field(default_factory=dict)
    forecast: Mapping[str, Any] = field(default_factory=dict)
    sentiment: Mapping[str, Any] = field(default_factory=dict)
    signal: Mapping[str, Any] = field(default_factory=dict)
    models: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class OrderIntent:
    """An order the journal knows of: signed size (buy > 0), its state and how often it was sent."""

    client_id: str
    decision_id: int
    symbol: str
    bar: pd.Timestamp
    size: float
    state: str
    submissions: int


@dataclass(frozen=True)
class Recovery:
    """What a restart resumes from."""

    cash: float
    positions: dict[str, tuple[float, float]]
    last_decided: pd.Timestamp | None
    undecided_orders: list[int]
    open_orders: list[OrderIntent]


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


def _bar(ts: pd.Timestamp) -> str:
    return pd.Timestamp(ts).isoformat()


def client_id_for(symbol: str, bar: pd.Timestamp) -> str:
    """The order id of a bar's decision: one order per decision, the same id however often it is replayed."""
    return f"{symbol}-{pd.Timestamp(bar).strftime('%Y%m%dT%H%M%S')}"


class Journal:
    """One paper session's journal file. ``max_pages`` caps its size in SQLite pages (a bounded journal; tests
    use it to make the disk "full")."""

    def __init__(self, path: str | Path, *, max_pages: int | None = None) -> None:
        self.path = Path(path).expanduser()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        try:
            self._conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA synchronous = FULL")
            self._conn.execute("PRAGMA foreign_keys = ON")
            self._init_schema()
            if max_pages is not None:
                self._conn.execute(f"PRAGMA max_page_count = {int(max_pages)}")
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise JournalError(f"cannot open the paper journal: {exc}", where=str(self.path),
                               fix="point --journal at a paper journal or a new file") from None
        except JournalError:
            self._conn.close()
            raise

    def _init_schema(self) -> None:
        version = self._conn.execute("PRAGMA user_version").fetchone()[0]
        if version == SCHEMA_VERSION:
            return
        if version > SCHEMA_VERSION:
            raise JournalError(f"journal schema v{version} is newer than this code's v{SCHEMA_VERSION}",
                               where=str(self.path), fix="upgrade bt-hybrid")
        if self._conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]:
            raise JournalError("file is an SQLite database but not a paper journal", where=str(self.path),
                               fix="choose another journal path")
        with self._write("create the journal") as conn:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _write(self, what: str) -> Iterator[sqlite3.Connection]:
        """One transaction; any SQLite failure rolls it back whole and becomes a ``JournalWriteError``."""
        try:
            self._conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise self._failed(what, exc) from None
        try:
            yield self._conn
            self._conn.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback()
            raise self._failed(what, exc) from None
        except BaseException:
            self._rollback()
            raise

    def _rollback(self) -> None:
        if self._conn.in_transaction:
            self._conn.execute("ROLLBACK")

    def _failed(self, what: str, exc: sqlite3.Error) -> JournalWriteError:
        full = getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL or "full" in str(exc).lower()
        fix = "free disk space, then start the session again: it resumes from the journal" if full else \
            "check the disk and the file, then start the session again: it resumes from the journal"
        return JournalWriteError(f"could not {what}: {exc}", where=str(self.path), fix=fix)

    # ------------------------------------------------------------------------------------------ session

    def begin(self, settings: Mapping[str, Any], cash: float) -> dict[str, Any]:
        """Start a new session or check that this journal belongs to the same one; returns its settings.

        ``settings`` (symbol, strategy, interval...) must match a journal that already holds a session.
        """
        stored = dict(self._conn.execute("SELECT key, value FROM session").fetchall())
        if stored:
            old = {k: json.loads(v) for k, v in stored.items()}
            diff = [k for k in settings if k in old and old[k] != settings[k]]
            if diff:
                shown = ", ".join(f"{k}: journal has {old[k]!r}, asked {settings[k]!r}" for k in diff)
                raise JournalError(f"this journal belongs to another session ({shown})", where=str(self.path),
                                   fix="use the same settings to resume, or a new --journal for a new session")
            return old
        with self._write("start the session") as conn:
            conn.executemany("INSERT INTO session VALUES (?, ?)",
                             [(k, json.dumps(v)) for k, v in {**settings, "initial_cash": cash}.items()])
            conn.execute("INSERT INTO account VALUES (1, ?, ?)", (cash, _now()))
        return {**settings, "initial_cash": cash}

    def event(self, kind: str, text: str) -> None:
        """A line for the session's log (feed states, notices, start and stop reasons)."""
        with self._write(f"record a {kind} event") as conn:
            conn.execute("INSERT INTO events (at, kind, text) VALUES (?, ?, ?)", (_now(), kind, text))

    # ---------------------------------------------------------------------------------------- the cycle

    def record_bar(self, symbol: str, bar: pd.Timestamp, ohlcv: tuple[float, ...]) -> None:
        """A bar as it arrived (kept once; a replayed bar is already there)."""
        with self._write(f"record bar {bar}") as conn:
            conn.execute("INSERT OR IGNORE INTO bars VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                         (symbol, _bar(bar), _now(), *map(float, ohlcv)))

    def decision_at(self, symbol: str, bar: pd.Timestamp) -> int | None:
        """The id of the decision already taken at this bar (a replayed bar), else None."""
        row = self._conn.execute("SELECT id FROM decisions WHERE symbol = ? AND bar = ?",
                                 (symbol, _bar(bar))).fetchone()
        return row[0] if row else None

    def record_decision(self, d: Decision) -> int:
        """Write a decision before anything acts on it; returns its id."""
        with self._write(f"record the decision at {d.bar}") as conn:
            cur = conn.execute(
                "INSERT INTO decisions (symbol, bar, decided_at, inputs, forecast, sentiment, signal, action, "
                "confidence, target, order_size, models) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (d.symbol, _bar(d.bar), _now(), _json(d.inputs), _json(d.forecast), _json(d.sentiment),
                 _json(d.signal), d.action, float(d.confidence), float(d.target), float(d.order_size),
                 _json(d.models)),
            )
            if cur.lastrowid is None:
                raise JournalError("the decision was not stored", where=str(self.path))
            return int(cur.lastrowid)

    def record_intent(self, decision_id: int) -> OrderIntent | None:
        """The order a decision asks for, written before it is sent (None when the decision holds)."""
        row = self._conn.execute("SELECT symbol, bar, order_size FROM decisions WHERE id = ?",
                                 (decision_id,)).fetchone()
        if row is None:
            raise JournalError(f"no decision {decision_id}", where=str(self.path))
        symbol, bar, size = row
        if size == 0:
            return None
        client_id = client_id_for(symbol, pd.Timestamp(bar))
        with self._write(f"record the order intent {client_id}") as conn:
            now = _now()
            conn.execute("INSERT OR IGNORE INTO orders (client_id, decision_id, symbol, size, state, created_at, "
                         "updated_at) VALUES (?, ?, ?, ?, 'intent', ?, ?)",
                         (client_id, decision_id, symbol, size, now, now))
        return self.order(client_id)

    def mark_submitted(self, client_id: str) -> None:
        """The order was handed to the broker (again, after a restart: ``submissions`` counts the sends)."""
        with self._write(f"mark {client_id} submitted") as conn:
            conn.execute("UPDATE orders SET state = 'submitted', submissions = submissions + 1, updated_at = ? "
                         "WHERE client_id = ? AND state IN ('intent', 'submitted')", (_now(), client_id))

    def record_fill(self, client_id: str, bar: pd.Timestamp, size: float, price: float, commission: float) -> None:
        """A fill, the order's new state, the position and the cash, in one transaction."""
        order = self.order(client_id)
        if order is None or order.state not in OPEN_STATES:
            raise JournalError(f"fill for order {client_id} that is {order.state if order else 'unknown'}",
                               where=str(self.path), fix="the journal and the broker disagree; stop the session")
        with self._write(f"record the fill of {client_id}") as conn:
            now = _now()
            conn.execute("INSERT INTO fills (client_id, bar, size, price, commission, filled_at) "
                         "VALUES (?, ?, ?, ?, ?, ?)", (client_id, _bar(bar), size, price, commission, now))
            conn.execute("UPDATE orders SET state = 'filled', updated_at = ? WHERE client_id = ?", (now, client_id))
            pos = conn.execute("SELECT size, price FROM positions WHERE symbol = ?", (order.symbol,)).fetchone()
            old_size, old_price = (float(pos[0]), float(pos[1])) if pos else (0.0, 0.0)
            new_size, new_price = _position_after(old_size, old_price, size, price)
            conn.execute("INSERT OR REPLACE INTO positions VALUES (?, ?, ?, ?)",
                         (order.symbol, new_size, new_price, now))
            conn.execute("UPDATE account SET cash = cash - ? - ?, updated_at = ?", (size * price, commission, now))

    def close_order(self, client_id: str, state: str, note: str) -> None:
        """The broker will not fill this order (cancelled, rejected, not enough cash)."""
        if state not in ("cancelled", "rejected"):
            raise ValueError(f"state must be cancelled or rejected, got {state!r}")
        with self._write(f"close order {client_id}") as conn:
            conn.execute("UPDATE orders SET state = ?, note = ?, updated_at = ? WHERE client_id = ? AND state IN "
                         "('intent', 'submitted')", (state, note, _now(), client_id))

    # ------------------------------------------------------------------------------------------ reading

    def order(self, client_id: str) -> OrderIntent | None:
        rows = self._orders("WHERE o.client_id = ?", (client_id,))
        return rows[0] if rows else None

    def orders(self) -> list[OrderIntent]:
        return self._orders("", ())

    def _orders(self, where: str, args: tuple[object, ...]) -> list[OrderIntent]:
        rows = self._conn.execute(
            "SELECT o.client_id, o.decision_id, o.symbol, d.bar, o.size, o.state, o.submissions FROM orders o "
            f"JOIN decisions d ON d.id = o.decision_id {where} ORDER BY d.bar, o.client_id", args).fetchall()
        return [OrderIntent(c, i, s, pd.Timestamp(b), z, st, n) for c, i, s, b, z, st, n in rows]

    def cash(self) -> float:
        row = self._conn.execute("SELECT cash FROM account WHERE id = 1").fetchone()
        if row is None:
            raise JournalError("the journal holds no session yet", where=str(self.path), fix="start the session first")
        return float(row[0])

    def positions(self) -> dict[str, tuple[float, float]]:
        return {s: (z, p) for s, z, p in self._conn.execute("SELECT symbol, size, price FROM positions")}

    def recover(self, symbol: str) -> Recovery:
        """Where a restart stands: the ledger, the bar to replay from, and the steps left half done."""
        last = self._conn.execute("SELECT max(bar) FROM decisions WHERE symbol = ?", (symbol,)).fetchone()[0]
        undecided = [r[0] for r in self._conn.execute(
            "SELECT d.id FROM decisions d LEFT JOIN orders o ON o.decision_id = d.id "
            "WHERE d.symbol = ? AND d.order_size != 0 AND o.client_id IS NULL ORDER BY d.bar", (symbol,))]
        open_orders = [o for o in self.orders() if o.symbol == symbol and o.state in OPEN_STATES]
        return Recovery(cash=self.cash(), positions=self.positions(),
                        last_decided=pd.Timestamp(last) if last else None,
                        undecided_orders=undecided, open_orders=open_orders)

    def bar_before(self, symbol: str, bar: pd.Timestamp) -> pd.Timestamp | None:
        """The last recorded bar before ``bar`` (a live feed resumes after it, so that ``bar`` is replayed)."""
        row = self._conn.execute("SELECT max(bar) FROM bars WHERE symbol = ? AND bar < ?", (symbol, _bar(bar))).fetchone()
        return pd.Timestamp(row[0]) if row and row[0] else None

    def query(self, sql: str, args: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        """Reads for status and reports (SELECT or WITH); every write goes through the methods above."""
        if not sql.lstrip().upper().startswith(("SELECT", "WITH")):
            raise ValueError("Journal.query only reads; use the journal's methods to write")
        return self._conn.execute(sql, args).fetchall()

    def page_count(self) -> int:
        """Pages the journal file holds (the unit of ``max_pages``)."""
        return int(self._conn.execute("PRAGMA page_count").fetchone()[0])


def _position_after(size: float, price: float, fill: float, fill_price: float) -> tuple[float, float]:
    """Position size and average price after a signed fill (the broker's rule: adding averages the price,
    reducing keeps it, crossing zero starts at the fill price)."""
    new = size + fill
    if new == 0:
        return 0.0, 0.0
    if size == 0 or (size > 0) != (new > 0):
        return new, fill_price
    if (fill > 0) == (size > 0):
        return new, (size * price + fill * fill_price) / new
    return new, price


def _json(value: Mapping[str, Any]) -> str:
    return json.dumps(value, sort_keys=True, default=_plain)


def _plain(value: object) -> object:
    """numpy scalars and timestamps in decision records, as plain JSON values."""
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, (pd.Timestamp, datetime)):
        return value.isoformat()
    raise TypeError(f"cannot journal a {type(value).__name__}")
