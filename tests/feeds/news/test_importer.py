from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from feeds.news.archive import AddResult, NewsArchive
from feeds.news.importer import ImportValidationError, import_file
from feeds.news.symbols import SymbolMatcher
from ground.errors import DataError

NOW = datetime(2024, 6, 1, tzinfo=timezone.utc)
LATER = NOW + timedelta(days=1)
MATCHER = SymbolMatcher({"NVDA": ["Nvidia", "英伟达"], "AMD": ["AMD"]})


def test_csv_import(data_dir: Path, archive: NewsArchive) -> None:
    report = import_file(data_dir / "history.csv", archive, matcher=MATCHER, imported_at=NOW)
    assert report.rows == 4 and report.added == AddResult(new=4) and report.bad == ()
    items = archive.items_for("NVDA", until=LATER)
    assert [i.published for i in items] == [
        datetime(2023, 5, 24, 20, 20, tzinfo=timezone.utc),
        datetime(2023, 5, 25, 17, 30, tzinfo=timezone.utc),
        datetime(2023, 5, 26, 1, 30, tzinfo=timezone.utc),  # 09:30 Beijing time
        datetime(2023, 5, 30, 23, 59, 59, tzinfo=timezone.utc),  # date only: end of day
    ]
    _, rally, zh, trillion = items
    assert rally.summary == "AMD and Nvidia lead gains" and rally.symbols == ("AMD", "NVDA")
    assert rally.lang == "en" and rally.source == "wire-b"
    assert zh.lang == "zh" and zh.summary == "受人工智能需求推动， 英伟达股价再创新高"
    assert trillion.symbols == ("AMD", "NVDA") and trillion.source == "wire-a"
    # Old news counts as seen when it was published: a backtest of May 2023 sees it.
    assert all(i.fetched_at == i.published for i in items)
    assert import_file(data_dir / "history.csv", archive, imported_at=NOW).added == AddResult(unchanged=4)


def test_jsonl_import_shares_ids_with_csv(data_dir: Path, archive: NewsArchive) -> None:
    import_file(data_dir / "history.csv", archive, imported_at=NOW)
    report = import_file(data_dir / "history.jsonl", archive, imported_at=NOW)
    # Row 1 has the CSV row's id but no summary: a new version of it. Row 2 has no id, link or source, so
    # its derived id differs from the CSV row's (source "sina" there, "import" here): a new item.
    assert report.rows == 2 and report.added == AddResult(new=1, updated=1)
    versions = archive.frame("NVDA")
    guidance = versions[versions["title"] == "Nvidia forecasts revenue far above estimates"]
    assert list(guidance["version"]) == [1, 2] and list(guidance["summary"].str.len() > 0) == [True, False]


def test_bad_rows_are_reported_with_line_numbers_and_nothing_is_written(data_dir: Path,
                                                                        archive: NewsArchive) -> None:
    with pytest.raises(ImportValidationError) as caught:
        import_file(data_dir / "history_bad.csv", archive, imported_at=NOW)
    bad = {b.line: b.reason for b in caught.value.bad}
    assert sorted(bad) == [3, 4, 7, 8, 9]
    assert "unrecognised date format 'someday'" in bad[3]
    assert bad[4] == "title is empty"
    assert "'NV/DA' is not a ticker" in bad[7]
    assert bad[8] == "expected 4 fields, got 5"
    assert bad[9] == "duplicate of the item on line 2"
    assert "5 bad row(s), nothing imported: line 3:" in str(caught.value)
    assert "--skip-bad" in str(caught.value)
    assert archive.frame("NVDA").empty


def test_skip_bad_imports_the_good_rows(data_dir: Path, archive: NewsArchive) -> None:
    report = import_file(data_dir / "history_bad.csv", archive, skip_bad=True, imported_at=NOW)
    assert report.added == AddResult(new=2) and [b.line for b in report.bad] == [3, 4, 7, 8, 9]
    titles = [i.title for i in archive.items_for("NVDA", until=LATER)]
    assert titles == ["Nvidia forecasts revenue far above estimates", "A quoted multi-line title"]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("a.csv", "publshed,title\n2024-01-01,x\n", "did you mean 'published'"),
        ("b.csv", "title,summary\nx,y\n", "missing required column"),
        ("c.csv", "", "file is empty"),
        ("d.txt", "published,title\n", "unknown import format"),
    ],
)
def test_file_level_problems(tmp_path: Path, archive: NewsArchive, name: str, content: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=message):
        import_file(path, archive, imported_at=NOW)


def test_jsonl_bad_lines(tmp_path: Path, archive: NewsArchive) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"published": "2024-01-01T00:00:00Z", "title": "ok"}\n'
                    "not json\n"
                    '["a list"]\n'
                    '{"published": "2024-01-01T00:00:00Z", "title": "x", "sumary": "typo"}\n'
                    '{"published": 1704067200, "title": "numeric date"}\n'
                    '{"published": "2024-01-01T00:00:00Z", "title": "x", "link": "javascript:alert(1)"}\n',
                    encoding="utf-8")
    with pytest.raises(ImportValidationError) as caught:
        import_file(path, archive, imported_at=NOW)
    bad = {b.line: b.reason for b in caught.value.bad}
    assert sorted(bad) == [2, 3, 4, 5, 6]
    assert "did you mean 'summary'" in bad[4] and "must be text" in bad[5] and "not an http(s) URL" in bad[6]


def test_time_zone_for_naive_values_and_future_items(tmp_path: Path, archive: NewsArchive) -> None:
    path = tmp_path / "tz.csv"
    path.write_text("published,title,symbols\n2024-01-04 09:30,Open bell,NVDA\n2030-01-01T00:00:00Z,Future,NVDA\n",
                    encoding="utf-8")
    import_file(path, archive, tz=ZoneInfo("America/New_York"), imported_at=NOW)
    frame = archive.frame("NVDA")
    assert frame.loc[0, "published"] == datetime(2024, 1, 4, 14, 30, tzinfo=timezone.utc)
    future = frame.loc[1]
    assert future["fetched_at"] == NOW and future["visible_at"] == datetime(2030, 1, 1, tzinfo=timezone.utc)
    assert [i.title for i in archive.items_for("NVDA", until=LATER)] == ["Open bell"]
