"""`bt-news` end to end: collect from a server on 127.0.0.1, import, list; user errors exit 2 in one line."""
from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from backtests.cli.news import default_archive_path, main, resolve_archive_path
from feeds.news.archive import NewsArchive
from feeds.news.config import NewsConfig
from tests.feeds.news.loopback import FeedServer, Route

DATA = Path(__file__).resolve().parents[2] / "data" / "news"


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as feed_server:
        feed_server.routes["/yahoo.xml"] = Route((DATA / "yahoo_nvda.xml").read_bytes())
        feed_server.routes["/sina.xml"] = Route((DATA / "sina_zh_gb2312.xml").read_bytes(),
                                                content_type="text/xml; charset=gb2312")
        yield feed_server


@pytest.fixture
def config(tmp_path: Path, server: FeedServer) -> Path:
    path = tmp_path / "feeds.toml"
    path.write_text(
        "[defaults]\ntimeout = 2\nretries = 0\n"
        '[symbols]\nNVDA = ["Nvidia", "英伟达"]\nAMD = ["Advanced Micro Devices"]\n'
        f'[[feeds]]\nname = "yahoo-nvda"\nurl = "{server.url("/yahoo.xml")}"\nlang = "en"\nsymbols = ["NVDA"]\n'
        f'[[feeds]]\nname = "sina"\nurl = "{server.url("/sina.xml")}"\nlang = "zh"\n',
        encoding="utf-8",
    )
    return path


def run(*args: str, env: dict[str, str] | None = None) -> object:
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def test_collect_then_list(config: Path, tmp_path: Path) -> None:
    db = str(tmp_path / "news.sqlite")
    result = run("collect", "--config", str(config), "--archive", db)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("yahoo-nvda: fetched=4 new=2 updated=0 unchanged=0 rejected=2")
    assert lines[1].startswith("sina: fetched=3 new=2 updated=0 unchanged=0 rejected=1")
    assert "unreliable date: 1" in lines[1]

    listed = run("list", "--symbol", "nvda", "--since", "2024-01-01", "--config", str(config), "--archive", db)
    assert listed.exit_code == 0
    rows = [line.split("\t") for line in listed.stdout.splitlines()]
    assert [r[4] for r in rows] == [  # newest first
        "AMD and $NVDA slip as chip stocks cool",
        "Nvidia shares jump 6% after record data-center revenue",
        "英伟达股价创新高，市值突破1.2万亿美元",
    ]
    assert rows[2][0] == "2024-01-04T02:00:00+00:00" and rows[2][2] == "zh"
    assert "3 item(s) about NVDA" in listed.stderr
    # Collected just now: at a cutoff in 2024 none of it had been seen yet.
    before = run("list", "--symbol", "NVDA", "--since", "2024-01-01", "--until", "2024-01-05",
                 "--config", str(config), "--archive", db)
    assert before.exit_code == 0 and before.stdout == ""


def test_list_at_a_point_in_time_with_a_limit(config: Path, tmp_path: Path) -> None:
    db = str(tmp_path / "news.sqlite")
    assert run("import", str(DATA / "history.csv"), "--config", str(config), "--archive", db).exit_code == 0
    listed = run("list", "--symbol", "NVDA", "--since", "2023-05-01", "--until", "2023-05-25T18:00:00Z",
                 "--limit", "1", "--config", str(config), "--archive", db)
    assert [line.split("\t")[4] for line in listed.stdout.splitlines()] == ["Chip stocks rally on the AI boom"]
    assert "2 item(s) about NVDA since 2023-05-01; showing 1" in listed.stderr


def test_collect_every_with_max_runs_uses_conditional_get(config: Path, tmp_path: Path) -> None:
    result = run("collect", "--config", str(config), "--every", "0.0001", "--max-runs", "2",
                 env={"BT_HYBRID_NEWS_DB": str(tmp_path / "env.sqlite")})
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.count("run ") == 2 and "run 2 at" in out
    assert out.count("not modified (304)") == 2
    assert (tmp_path / "env.sqlite").exists()


def test_collect_exits_1_when_every_feed_fails(tmp_path: Path, server: FeedServer) -> None:
    path = tmp_path / "dead.toml"
    path.write_text(f'[defaults]\nretries = 0\n[[feeds]]\nname = "dead"\nurl = "{server.url("/none.xml")}"\n',
                    encoding="utf-8")
    result = run("collect", "--config", str(path), "--archive", str(tmp_path / "n.sqlite"))
    assert result.exit_code == 1 and "dead: error: HTTP 404" in result.stdout


def test_import_good_and_bad_files(config: Path, tmp_path: Path) -> None:
    db = str(tmp_path / "news.sqlite")
    good = run("import", str(DATA / "history.csv"), "--config", str(config), "--archive", db)
    assert good.exit_code == 0, good.output
    assert good.stdout.strip().endswith("rows=4 new=4 updated=0 unchanged=0 skipped=0")

    bad = run("import", str(DATA / "history_bad.csv"), "--config", str(config), "--archive", db)
    assert bad.exit_code == 2 and bad.stdout == ""
    lines = bad.stderr.splitlines()
    assert lines[0].endswith("history_bad.csv:3: published: unrecognised date format 'someday'")
    assert lines[-1].startswith("Error: 5 bad row(s), nothing imported") and "--skip-bad" in lines[-1]
    with NewsArchive(db) as archive:
        assert "A quoted multi-line title" not in set(archive.frame("NVDA")["title"])

    skipped = run("import", str(DATA / "history_bad.csv"), "--skip-bad", "--config", str(config), "--archive", db)
    assert skipped.exit_code == 0 and "skipped=5" in skipped.stdout
    assert skipped.stderr.count(": skipped: ") == 5


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["collect", "--max-runs", "2"], "--max-runs needs --every"),
        (["list", "--symbol", "NVDA", "--since", "yesterday"], "--since 'yesterday' is not a date"),
        (["import", "missing.csv"], "import file not found"),
        (["import", "x.csv", "--tz", "Mars/Base"], "unknown time zone"),
    ],
)
def test_user_errors_are_one_line_and_exit_2(tmp_path: Path, config: Path, args: list[str], message: str) -> None:
    result = run(*args, "--config", str(config), "--archive", str(tmp_path / "n.sqlite"))
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and message in result.stderr


def test_unknown_config_key_suggests_the_close_match(tmp_path: Path) -> None:
    path = tmp_path / "typo.toml"
    path.write_text('[[feeds]]\nname = "a"\nurl = "https://a.example/rss"\nsymbol = ["NVDA"]\n', encoding="utf-8")
    result = run("collect", "--config", str(path), "--archive", str(tmp_path / "n.sqlite"))
    assert result.exit_code == 2 and "did you mean 'feeds[1].symbols'" in result.stderr


def test_default_archive_path_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_archive_path() == tmp_path / "bt-hybrid" / "news.sqlite"
    monkeypatch.delenv("XDG_DATA_HOME")
    assert default_archive_path() == Path.home() / ".local" / "share" / "bt-hybrid" / "news.sqlite"


def test_archive_path_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = NewsConfig(feeds=(), archive=tmp_path / "from-config.sqlite")
    monkeypatch.setenv("BT_HYBRID_NEWS_DB", str(tmp_path / "from-env.sqlite"))
    assert resolve_archive_path(tmp_path / "option.sqlite", config) == tmp_path / "option.sqlite"
    assert resolve_archive_path(None, config) == tmp_path / "from-env.sqlite"
    monkeypatch.delenv("BT_HYBRID_NEWS_DB")
    assert resolve_archive_path(None, config) == tmp_path / "from-config.sqlite"
    assert resolve_archive_path(None, None) == default_archive_path()


def _locked(db: Path, seconds: float) -> tuple[threading.Thread, threading.Event]:
    NewsArchive(db).close()
    started = threading.Event()

    def hold() -> None:
        conn = sqlite3.connect(db, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO feed_state VALUES ('https://holder.example', '', '', 0)")
        started.set()
        time.sleep(seconds)
        conn.execute("COMMIT")
        conn.close()

    holder = threading.Thread(target=hold)
    holder.start()
    started.wait(5)
    return holder, started


def test_collect_on_a_locked_archive_prints_each_feed_and_one_error(config: Path, tmp_path: Path) -> None:
    db = tmp_path / "news.sqlite"
    holder, _ = _locked(db, 1.5)
    result = run("collect", "--config", str(config), "--archive", str(db), "--lock-wait", "0.3")
    holder.join()
    assert result.exit_code == 2
    first, second = result.stdout.splitlines()
    assert first.startswith("yahoo-nvda: error: not stored: news archive stayed locked by another process for 0.")
    assert second == "sina: error: skipped: the news archive is locked"
    assert "waiting up to 0.3 s" in result.stderr and "Traceback" not in result.output
    assert result.stderr.splitlines()[-1].startswith("Error: news archive stayed locked")
    with NewsArchive(db) as archive:
        assert archive.frame("NVDA").empty


def test_import_waits_for_a_short_lock_then_succeeds(config: Path, tmp_path: Path) -> None:
    db = tmp_path / "news.sqlite"
    holder, _ = _locked(db, 0.6)
    result = run("import", str(DATA / "history.csv"), "--config", str(config), "--archive", str(db))
    holder.join()
    assert result.exit_code == 0, result.output
    assert "locked by another process; waiting up to 30 s" in result.stderr
    assert "new=4" in result.stdout


def test_import_into_an_archive_locked_too_long_exits_2(config: Path, tmp_path: Path) -> None:
    db = tmp_path / "news.sqlite"
    holder, _ = _locked(db, 1.5)
    result = run("import", str(DATA / "history.csv"), "--config", str(config), "--archive", str(db),
                 "--lock-wait", "0.3")
    holder.join()
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.splitlines()[-1].startswith("Error: news archive stayed locked")
    with NewsArchive(db) as archive:
        assert archive.frame("NVDA").empty
