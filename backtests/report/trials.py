"""The trial ledger: every backtest run is a trial, recorded in a local SQLite file, so that the Deflated Sharpe Ratio
can count how many configurations were tried before one was picked.

One row per (run, strategy): the universe (sorted symbols), the test period, the strategy, a hash of the resolved
configuration (output folders left out), and the per-period Sharpe ratio, skewness, kurtosis (non-excess) and
length of its daily returns. ``source`` is ``local`` for runs made here and the file name for trials imported from
elsewhere (a notebook, another machine, or choices made by looking at results, entered by hand).

The DSR of a run counts the *distinct configurations* (config hashes) tried on an overlapping universe (a symbol in
common) and an overlapping period; a configuration run several times counts once, with its latest Sharpe. The
file uses WAL journalling and a busy timeout, so parallel runs can record at the same time.
"""
from __future__ import annotations

import csv
import hashlib
import json
import math
import sqlite3
from collections.abc import Iterable, Mapping
from contextlib import closing
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from ground.errors import DataError, UserInputError

LEDGER_SUFFIX = "-trials.sqlite"
BUSY_TIMEOUT_MS = 10_000
# Keys that change where outputs go but not the result.
_NOT_RESULT = ("run.reports_dir", "run.models_dir", "report.html", "report.leakage_audit", "report.baselines")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS trials (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    recorded_at TEXT NOT NULL,
    run_id TEXT NOT NULL,
    strategy TEXT NOT NULL,
    symbols TEXT NOT NULL,
    start TEXT NOT NULL,
    end TEXT NOT NULL,
    config_hash TEXT NOT NULL,
    sharpe REAL,
    skew REAL,
    kurtosis REAL,
    n INTEGER NOT NULL,
    source TEXT NOT NULL DEFAULT 'local',
    UNIQUE (run_id, strategy)
);
CREATE INDEX IF NOT EXISTS trials_period ON trials (start, end);
"""


@dataclass(frozen=True)
class Trial:
    """One recorded trial; ``sharpe`` is per period (daily), not annualised."""

    run_id: str
    strategy: str
    symbols: str
    start: str
    end: str
    config_hash: str
    sharpe: float
    skew: float
    kurtosis: float
    n: int
    source: str = "local"
    recorded_at: str = ""


@dataclass(frozen=True)
class TrialCount:
    """What the DSR deflates by: N distinct configurations, the variance of their Sharpes, and where they came from."""

    n_configs: int
    sharpe_var: float
    sharpes: tuple[float, ...]
    sources: Mapping[str, int]
    ledger: str

    def text(self) -> str:
        where = ", ".join(f"{n} from {s}" for s, n in self.sources.items())
        return (f"N = {self.n_configs} distinct configurations on overlapping symbols and periods in {self.ledger} "
                f"({where}); variance of their daily Sharpe ratios {self.sharpe_var:.3g}")


def ledger_path(reports_dir: Path) -> Path:
    """The ledger of a reports folder: a file beside it (``reports`` -> ``reports-trials.sqlite``), so that the
    folder itself holds only run folders and every run written there is counted."""
    folder = Path(reports_dir)
    return folder.parent / f"{folder.name or 'reports'}{LEDGER_SUFFIX}"


def config_hash(flat_config: Mapping[str, Any]) -> str:
    """Hash of the resolved configuration (dotted keys), leaving out keys that do not change the result."""
    kept = {k: v for k, v in sorted(flat_config.items()) if k not in _NOT_RESULT}
    return hashlib.sha256(json.dumps(kept, sort_keys=True, default=str).encode()).hexdigest()[:16]


def return_moments(returns: np.ndarray) -> tuple[float, float, float, int]:
    """Per-period Sharpe, skewness and (non-excess) kurtosis of a return series, and its length."""
    r = np.asarray(returns, dtype=float)
    r = r[np.isfinite(r)]
    n = len(r)
    if n >= 4 and not r.any():
        return 0.0, 0.0, 3.0, n  # never invested: still a trial, with a Sharpe of 0 (normal moments for the PSR)
    if n < 4 or np.ptp(r) == 0:
        return float("nan"), float("nan"), float("nan"), n
    return float(np.mean(r) / np.std(r, ddof=1)), float(stats.skew(r)), float(stats.kurtosis(r, fisher=False)), n


class TrialLedger:
    """The SQLite trial ledger at ``path`` (created on first use)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000)
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise DataError(f"trial ledger {self.path} is unreadable ({exc})", str(self.path),
                            "move the file away; a new ledger is created on the next run") from exc
        return conn

    def record(self, trials: Iterable[Trial]) -> int:
        """Insert trials (a (run, strategy) already present is kept as it was); returns how many were new."""
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        rows = [(t.recorded_at or now, t.run_id, t.strategy, t.symbols, t.start, t.end, t.config_hash,
                 _real(t.sharpe), _real(t.skew), _real(t.kurtosis), int(t.n), t.source) for t in trials]
        with closing(self._connect()) as conn, conn:
            before = conn.total_changes
            conn.executemany(
                "INSERT OR IGNORE INTO trials (recorded_at, run_id, strategy, symbols, start, end, config_hash, "
                "sharpe, skew, kurtosis, n, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
            return conn.total_changes - before

    def all(self) -> list[Trial]:
        with closing(self._connect()) as conn:
            rows = conn.execute(
                "SELECT run_id, strategy, symbols, start, end, config_hash, sharpe, skew, kurtosis, n, source, "
                "recorded_at FROM trials ORDER BY id").fetchall()
        return [Trial(*(r[:6]), *(float("nan") if v is None else v for v in r[6:9]), *r[9:]) for r in rows]

    def count(self, symbols: Iterable[str], start: str, end: str) -> TrialCount:
        """Distinct configurations on a universe sharing a symbol with ``symbols`` and a period overlapping
        ``[start, end]``; each configuration's latest finite Sharpe."""
        wanted = set(symbols)
        latest: dict[str, Trial] = {}
        for t in self.all():
            if set(t.symbols.split(",")) & wanted and t.start <= end and t.end >= start and math.isfinite(t.sharpe):
                latest[t.config_hash] = t  # rows are in insertion order: the last one wins
        sharpes = tuple(t.sharpe for t in latest.values())
        sources: dict[str, int] = {}
        for t in latest.values():
            sources[t.source] = sources.get(t.source, 0) + 1
        var = float(np.var(sharpes, ddof=1)) if len(sharpes) > 1 else float("nan")
        return TrialCount(len(sharpes), var, sharpes, sources, str(self.path))

    def import_file(self, path: Path) -> int:
        """Add trials made elsewhere from a CSV file with the columns of ``Trial`` (``source`` and
        ``recorded_at`` optional); returns how many were new. Errors name the file and row."""
        names = [f.name for f in fields(Trial)]
        required = names[:10]
        try:
            with open(path, newline="", encoding="utf-8") as fh:
                reader = csv.DictReader(fh)
                missing = [c for c in required if c not in (reader.fieldnames or [])]
                if missing:
                    raise UserInputError(f"trials file lacks columns {missing}", str(path),
                                         f"give a CSV with the columns {', '.join(required)}")
                trials = [_parse_row(row, i + 2, path) for i, row in enumerate(reader)]
        except OSError as exc:
            raise UserInputError(f"cannot read trials file ({exc.strerror})", str(path), "check the path") from exc
        return self.record(trials)


def _parse_row(row: Mapping[str, str], line: int, path: Path) -> Trial:
    try:
        return Trial(
            run_id=row["run_id"], strategy=row["strategy"], symbols=",".join(sorted(row["symbols"].split(","))),
            start=row["start"], end=row["end"], config_hash=row["config_hash"], sharpe=float(row["sharpe"]),
            skew=float(row["skew"]), kurtosis=float(row["kurtosis"]), n=int(row["n"]),
            source=row.get("source") or path.name, recorded_at=row.get("recorded_at") or "",
        )
    except ValueError as exc:
        raise UserInputError(f"bad value on line {line} ({exc})", str(path),
                             "sharpe, skew and kurtosis must be numbers and n an integer") from exc


def _real(value: float) -> float | None:
    return value if math.isfinite(value) else None


def trial_rows(trials: Iterable[Trial]) -> list[dict[str, Any]]:
    """Plain rows for printing."""
    return [asdict(t) for t in trials]
