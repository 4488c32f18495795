"""The run folder: unique ids that are never a prefix of one another, exact ids that always resolve, hostile ids
that never become paths, partial folders that are never listed, and files readable by others (0644)."""
from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from backtests.report.folder import RunFolder, atomic_write, is_run_id, new_run_id, resolve_run, run_folders
from ground.errors import UserInputError


def finished(folder: RunFolder) -> Path:
    folder.write_json("metrics.json", {"run_id": folder.run_id})
    return folder.commit()


def test_same_second_ids_are_unique_and_never_prefixes(tmp_path: Path) -> None:
    base = new_run_id("sma", "x = 1")
    ids = [finished(RunFolder(tmp_path, base)).name for _ in range(200)]
    assert len(set(ids)) == len(ids)
    assert not [(a, b) for a in ids for b in ids if a != b and b.startswith(a)]
    for run_id in ids[:20]:  # every exact id resolves to its own folder
        assert resolve_run(run_id, tmp_path) == tmp_path / run_id


def test_exact_id_wins_over_prefix(tmp_path: Path) -> None:
    for name in ("20240101-000000-sma-abc", "20240101-000000-sma-abcd"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "metrics.json").write_text("{}")
    assert resolve_run("20240101-000000-sma-abc", tmp_path).name == "20240101-000000-sma-abc"
    with pytest.raises(UserInputError, match="several runs"):
        resolve_run("20240101-000000-sma-ab", tmp_path)
    assert resolve_run("20240101-000000-sma-abcd", tmp_path).name == "20240101-000000-sma-abcd"


@pytest.mark.parametrize("ref", ["..", "../..", "a/../../etc", "bad\x00id", "C:\\runs\\x", "c:run", ".hidden", "*"])
def test_hostile_refs_never_resolve_under_reports(ref: str, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    (tmp_path / "metrics.json").write_text("{}")  # a run-looking folder one level up must not be reached
    with pytest.raises(UserInputError):
        resolve_run(ref, reports)
    assert not is_run_id(ref)


def test_hostile_run_id_is_refused_by_the_folder(tmp_path: Path) -> None:
    with pytest.raises(UserInputError):
        RunFolder(tmp_path, "../escape")
    with pytest.raises(UserInputError):
        new_run_id("a/b", "")
    assert list(tmp_path.iterdir()) == []


def test_missing_path_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match="no such folder"):
        resolve_run(str(tmp_path / "doesnotexist"), tmp_path)


def test_partial_folder_is_hidden_until_commit_and_discard_removes_it(tmp_path: Path) -> None:
    folder = RunFolder(tmp_path, "20240101-000000-sma-abcdef")
    folder.write_json("metrics.json", {})
    assert run_folders(tmp_path) == [] and folder.path.name.startswith(".partial-")
    with pytest.raises(UserInputError):
        resolve_run(folder.run_id, tmp_path)
    folder.discard()
    assert list(tmp_path.iterdir()) == []
    done = RunFolder(tmp_path, "20240101-000000-sma-abcdef")
    path = finished(done)
    done.discard()  # a committed run is kept
    assert run_folders(tmp_path) == [path]


def test_run_files_are_0644_under_the_usual_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        atomic_write(tmp_path / "x.json", "{}")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "x.json").stat().st_mode) == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]  # no temporary left behind


def test_interrupted_write_leaves_no_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from backtests.report import writer

    folder = RunFolder(tmp_path, "20240101-000000-sma-abcdef")

    def interrupted(*_args: object, **_kw: object) -> None:
        folder.write_json("metrics.json", {})  # something already written when Ctrl-C arrives
        raise KeyboardInterrupt

    monkeypatch.setattr(writer, "_write_files", interrupted)
    with pytest.raises(KeyboardInterrupt):
        writer.write_run_outputs(folder, object())  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []
