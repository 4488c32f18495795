"""The archive shared by several processes: racing creation, concurrent writers, a lock held too long, SIGKILL.

Each test starts real processes (tests/feeds/news/archive_worker.py) against one SQLite file.
"""
from __future__ import annotations

import logging
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from feeds.news.archive import ArchiveLockedError, NewsArchive
from tests.feeds.news.archive_worker import _item
from tests.feeds.news.loopback import FeedServer, Route

ROOT = Path(__file__).resolve().parents[3]
WORKER = Path(__file__).with_name("archive_worker.py")


def _spawn(*args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, str(WORKER), *args], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _rss(tag: str, n: int) -> bytes:
    items = "".join(
        f"<item><title>{tag} story {i}</title><guid>https://feed.example/{tag}/{i}</guid>"
        f"<pubDate>Thu, 04 Jan 2024 {10 + i % 10:02d}:00:00 GMT</pubDate></item>" for i in range(n))
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>{tag}</title>{items}</channel></rss>'.encode()


def _integrity(path: Path) -> str:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()


@pytest.mark.slow
def test_concurrent_imports_and_collects_over_several_rounds(tmp_path: Path) -> None:
    rounds, rows, feed_items = 4, 60, 25
    prefix = str(tmp_path / "news")
    go = tmp_path / "go"
    with FeedServer() as server:
        for tag in ("c1", "c2"):
            server.routes[f"/{tag}.xml"] = Route(_rss(tag, feed_items), validators=False)
        workers = [_spawn("import", prefix, str(rounds), tag, str(go), str(rows)) for tag in ("i1", "i2")]
        workers += [_spawn("collect", prefix, str(rounds), tag, str(go), server.url(f"/{tag}.xml"))
                    for tag in ("c1", "c2")]
        time.sleep(1.0)  # let every worker import its modules and wait at the start line
        go.write_text("go", encoding="utf-8")
        results = [w.communicate(timeout=120) for w in workers]
    for worker, (_, err) in zip(workers, results, strict=True):
        assert worker.returncode == 0, err.decode()[-2000:]
    for r in range(rounds):
        path = Path(f"{prefix}-{r}.sqlite")
        assert _integrity(path) == "ok"
        with NewsArchive(path) as archive:
            frame = archive.frame("NVDA")
        titles = set(frame["title"])
        for tag in ("i1", "i2"):
            assert {f"{tag} round {r} row {i}" for i in range(rows)} <= titles
        for tag in ("c1", "c2"):
            assert {f"{tag} story {i}" for i in range(feed_items)} <= titles
        assert len(frame) == 2 * rows + 2 * feed_items


@pytest.mark.slow
def test_a_writer_killed_mid_transaction_loses_only_its_uncommitted_batch(tmp_path: Path) -> None:
    path = tmp_path / "news.sqlite"
    ready = tmp_path / "ready"
    worker = _spawn("crash", str(path), "40", str(ready))
    deadline = time.monotonic() + 30
    while not ready.exists():
        assert worker.poll() is None, worker.communicate()[1].decode()[-2000:]
        assert time.monotonic() < deadline, "worker never reached the middle of its transaction"
        time.sleep(0.01)
    os.kill(worker.pid, signal.SIGKILL)
    worker.communicate(timeout=10)
    assert worker.returncode == -signal.SIGKILL
    assert _integrity(path) == "ok"
    with NewsArchive(path, lock_wait_s=1.0) as archive:
        ids = set(archive.frame("NVDA")["id"])
        assert ids == {f"kept-{i}" for i in range(40)}
        assert archive.add([_item("after-crash", 0)]).new == 1  # and the archive takes writes again


def _hold_write_lock(path: Path, seconds: float, started: threading.Event) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT INTO feed_state VALUES ('https://holder.example', '', '', 0)")
    started.set()
    time.sleep(seconds)
    conn.execute("COMMIT")
    conn.close()


def test_a_writer_that_must_wait_says_so_then_succeeds(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "news.sqlite"
    NewsArchive(path).close()
    started = threading.Event()
    holder = threading.Thread(target=_hold_write_lock, args=(path, 0.6, started))
    holder.start()
    started.wait(5)
    with caplog.at_level(logging.WARNING, logger="feeds.news.archive"), NewsArchive(path, lock_wait_s=5) as archive:
        assert archive.add([_item("waited", 0)]).new == 1
    holder.join()
    assert "locked by another process; waiting up to 5 s" in caplog.text
    assert "got the write lock after" in caplog.text


def test_a_lock_held_past_the_bound_is_a_clear_error_and_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "news.sqlite"
    NewsArchive(path).close()
    started = threading.Event()
    holder = threading.Thread(target=_hold_write_lock, args=(path, 1.5, started))
    holder.start()
    started.wait(5)
    begun = time.monotonic()
    with NewsArchive(path, lock_wait_s=0.5) as archive, pytest.raises(ArchiveLockedError, match="stayed locked"):
        archive.add([_item("blocked", 0)])
    assert time.monotonic() - begun < 1.4  # the bound, not the holder's 1.5 s
    holder.join()
    with NewsArchive(path) as archive:
        assert archive.frame("NVDA").empty


def test_schema_creation_is_idempotent_on_one_new_file(tmp_path: Path) -> None:
    path = tmp_path / "news.sqlite"
    first, second = NewsArchive(path), NewsArchive(path)  # the second sees the schema the first created
    first.add([_item("a", 0)])
    assert len(second.frame("NVDA")) == 1
    first.close()
    second.close()
