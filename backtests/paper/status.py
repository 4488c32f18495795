"""What ``bt-paper status`` prints: a read of the journal, never a write, so it can run beside a live session
(WAL lets it read while the session writes)."""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from backtests.paper.journal import Journal, JournalError


def open_existing(path: str | Path) -> Journal:
    """The journal at ``path``; an error (not a new empty journal) when there is none."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise JournalError(f"no paper journal at {p}", where="--journal",
                           fix="give the --journal of a session, or start one with bt-paper --strategy ... --symbol ...")
    return Journal(p)


def session_settings(journal: Journal) -> dict[str, Any]:
    """The settings the session was started with (symbol, strategy, interval, exchange, initial_cash)."""
    rows = journal.query("SELECT key, value FROM session")
    if not rows:
        raise JournalError("the journal holds no session", where=str(journal.path), fix="start a session first")
    return {k: json.loads(v) for k, v in rows}


def _num(value: Any, spec: str = ".4f") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return format(value, spec)


def status_text(journal: Journal, last: int = 5) -> str:
    """Positions and P&L at the last close, the last signals, the model versions in use, the feed state."""
    s = session_settings(journal)
    symbol = s["symbol"]
    lines = [f"paper session {symbol} {s['strategy']} {s['interval']} on {s['exchange']}  ({journal.path})"]
    feed = journal.query("SELECT at, text FROM events WHERE kind = 'feed' ORDER BY id DESC LIMIT 1")
    stop = journal.query("SELECT at, kind, text FROM events WHERE kind IN ('start', 'stop') ORDER BY id DESC LIMIT 1")
    lines.append(f"feed: {feed[0][1]} (at {feed[0][0]})" if feed else "feed: no state reported yet")
    if stop:
        at, kind, text = stop[0]
        lines.append(f"session: {'running or killed since' if kind == 'start' else 'stopped'} {at}: {text}")
    bar = journal.query("SELECT bar, close FROM bars WHERE symbol = ? ORDER BY bar DESC LIMIT 1", (symbol,))
    cash, positions = journal.cash(), journal.positions()
    close = bar[0][1] if bar else math.nan
    size, price = positions.get(symbol, (0.0, 0.0))
    equity = cash + size * close if size else cash
    initial = float(s["initial_cash"])
    lines.append(f"last bar: {bar[0][0] if bar else '-'}  close {_num(close)}")
    lines.append(f"cash {cash:,.2f}  position {size:g} @ {price:.4f}  unrealised P&L "
                 f"{_num(size * (close - price) if size else 0.0, ',.2f')}")
    lines.append(f"equity {_num(equity, ',.2f')}  P&L {_num(equity - initial, ',.2f')} "
                 f"({_num((equity / initial - 1) * 100, '.2f')}%) since {initial:,.2f}")
    open_orders = [o for o in journal.orders() if o.state in ("intent", "submitted")]
    lines.append("open orders: " + (", ".join(f"{o.client_id} {o.size:+g} ({o.state})" for o in open_orders)
                                    or "none"))
    rows = journal.query("SELECT bar, action, confidence, order_size, forecast, sentiment, models FROM decisions "
                         "WHERE symbol = ? ORDER BY bar DESC LIMIT ?", (symbol, last))
    lines.append(f"last {len(rows)} signal(s):")
    lines.append(f"  {'bar':<20} {'action':<6} {'conf':>6} {'order':>8} {'gm_prob':>8} {'sent':>6}  models")
    for b, action, conf, order, forecast, sentiment, models in rows:
        f, n, m = json.loads(forecast), json.loads(sentiment), json.loads(models)
        lines.append(f"  {b:<20} {action:<6} {conf:>6.3f} {order:>+8g} {_num(f.get('gm_prob'), '.3f'):>8} "
                     f"{_num(n.get('sent_score'), '.2f'):>6}  {', '.join(m.values()) or '-'}")
    in_use = json.loads(rows[0][6]) if rows else {}
    used = journal.query("SELECT DISTINCT models FROM decisions WHERE symbol = ?", (symbol,))
    for kind in ("model", "retrain"):
        event = journal.query("SELECT at, text FROM events WHERE kind = ? ORDER BY id DESC LIMIT 1", (kind,))
        if event:
            lines.append(f"last {'model swap' if kind == 'model' else 'retraining started'}: {event[0][1]} "
                         f"(at {event[0][0]})")
    lines.append("models in use: " + (", ".join(f"{k} {v}" for k, v in in_use.items()) or "none yet")
                 + f"  ({len(used)} distinct set(s) over the session)")
    return "\n".join(lines)
