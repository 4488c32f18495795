"""Fixtures for the news tests: fixture feeds, loopback servers, a fresh archive."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from feeds.news.archive import NewsArchive
from tests.feeds.news.loopback import FeedServer, SilentServer

DATA = Path(__file__).resolve().parents[2] / "data" / "news"


@pytest.fixture
def data_dir() -> Path:
    return DATA


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    with FeedServer() as server:
        yield server


@pytest.fixture
def silent_server() -> Iterator[SilentServer]:
    with SilentServer() as server:
        yield server


@pytest.fixture
def archive(tmp_path: Path) -> Iterator[NewsArchive]:
    with NewsArchive(tmp_path / "news.sqlite") as store:
        yield store
