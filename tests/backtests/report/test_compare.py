"""Comparison of two run folders: metrics side by side, the config keys that differ, damage named."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from backtests.report.compare import compare_html, config_differences, load_run
from ground.errors import UserInputError


def test_two_runs_side_by_side_with_the_keys_that_differ(write_run: Callable[..., Path]) -> None:
    a = load_run(write_run("20240101-000000-buyhold-aaaaaa", daily=0.001))
    b = load_run(write_run("20240102-000000-buyhold-bbbbbb", daily=0.003, **{"costs.commission_bps": 1.0}))
    assert a.metrics["total_return"] < b.metrics["total_return"]
    diffs = config_differences([a, b])
    assert list(diffs.index) == ["costs.commission_bps"]
    assert diffs.loc["costs.commission_bps"].tolist() == ["5.0", "1.0"]
    page = compare_html([a, b])
    assert a.run_id in page and b.run_id in page and "costs.commission_bps" in page


def test_a_damaged_run_folder_is_named(write_run: Callable[..., Path]) -> None:
    path = write_run("20240101-000000-buyhold-cccccc")
    (path / "metrics.json").write_text("{not json")
    with pytest.raises(UserInputError, match="damaged JSON") as err:
        load_run(path)
    assert "metrics.json" in str(err.value)
