"""load_prices: source order, coverage, warm-up and errors; the Parquet price cache it relies on."""
from __future__ import annotations

import logging
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from feeds import prices
from feeds.bundled import load_bundled
from feeds.price_cache import PriceCache
from feeds.prices import default_cache_dir, load_prices
from feeds.validate import PriceJump, PriceJumpError
from ground.errors import DataError, SourceUnavailableError, UserInputError
from tests.feeds.test_yahoo import LocalSession, YahooServer, chart_for, server, session  # noqa: F401 (fixtures)

FIXTURES = Path(__file__).resolve().parents[1] / "data" / "prices"
Y2020 = {"start": date(2020, 1, 1), "end": date(2020, 12, 31)}


@pytest.fixture
def nvda() -> pd.DataFrame:
    return load_bundled("NVDA")


@pytest.fixture
def yahoo_calls(monkeypatch: pytest.MonkeyPatch, nvda: pd.DataFrame) -> list[tuple[str, date | None, date | None]]:
    """Stands in for Yahoo: serves the bundled NVDA bars under any symbol and records each request."""
    calls: list[tuple[str, date | None, date | None]] = []

    def fetch(symbol: str, start: date | None, end: date | None, *, session: Any = None,
              jumps: str = "refuse") -> pd.DataFrame:
        calls.append((symbol, start, end))
        return nvda.loc[pd.Timestamp(start or date(1900, 1, 1)):pd.Timestamp(end or date(2100, 1, 1))]

    monkeypatch.setattr(prices, "fetch_yahoo", fetch)
    return calls


@pytest.fixture
def yahoo_down(monkeypatch: pytest.MonkeyPatch) -> None:
    def fetch(symbol: str, *args: Any, **kwargs: Any) -> pd.DataFrame:
        raise SourceUnavailableError("offline: cannot reach Yahoo Finance", where="query2.finance.yahoo.com:443")

    monkeypatch.setattr(prices, "fetch_yahoo", fetch)


# --- the cache -----------------------------------------------------------------------------------------


def test_cache_round_trip_keeps_bars_source_and_fetch_time(tmp_path: Path, nvda: pd.DataFrame) -> None:
    cache = PriceCache(tmp_path)
    when = datetime(2024, 5, 6, 7, 8, 9, tzinfo=timezone.utc)
    cache.put("^gspc", nvda.iloc[:300], "yfinance", fetched_at=when)

    hit = cache.get("^GSPC")

    assert hit is not None and hit.source == "yfinance" and hit.fetched_at == when and hit.symbol == "^GSPC"
    pd.testing.assert_frame_equal(hit.frame, nvda.iloc[:300])
    assert hit.path.name == "%5EGSPC.parquet"
    assert [p.name for p in tmp_path.iterdir()] == ["%5EGSPC.parquet"]  # no temp file left behind


def test_cache_fetch_time_defaults_to_now_in_utc(tmp_path: Path, nvda: pd.DataFrame) -> None:
    stored = PriceCache(tmp_path).put("NVDA", nvda.iloc[:10], "yfinance")
    assert stored.fetched_at.tzinfo == timezone.utc
    assert abs(datetime.now(timezone.utc) - stored.fetched_at) < timedelta(minutes=1)


def test_cache_miss_is_none(tmp_path: Path) -> None:
    assert PriceCache(tmp_path / "never-made").get("NVDA") is None


@pytest.mark.parametrize("content", [b"", b"not parquet at all", b"PAR1\x00\x00garbage"])
def test_corrupt_cache_file_is_reported_and_ignored(
    tmp_path: Path, content: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    cache = PriceCache(tmp_path)
    cache.path_for("NVDA").write_bytes(content)
    with caplog.at_level(logging.WARNING, logger="feeds.price_cache"):
        assert cache.get("NVDA") is None
    assert "ignoring unreadable price cache file" in caplog.text and "NVDA.parquet" in caplog.text


def test_cache_file_of_another_symbol_is_ignored(tmp_path: Path, nvda: pd.DataFrame) -> None:
    cache = PriceCache(tmp_path)
    cache.put("NVDA", nvda.iloc[:10], "yfinance").path.rename(cache.path_for("AMD"))
    assert cache.get("AMD") is None


def test_parquet_without_our_metadata_is_ignored(tmp_path: Path, nvda: pd.DataFrame) -> None:
    cache = PriceCache(tmp_path)
    nvda.iloc[:10].to_parquet(cache.path_for("NVDA"))
    assert cache.get("NVDA") is None


def test_failed_write_keeps_the_old_file(
    tmp_path: Path, nvda: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = PriceCache(tmp_path)
    cache.put("NVDA", nvda.iloc[:10], "yfinance")

    def broken(*args: Any, **kwargs: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("feeds.price_cache.pq.write_table", broken)
    with pytest.raises(OSError, match="disk full"):
        cache.put("NVDA", nvda.iloc[:500], "yfinance")
    hit = cache.get("NVDA")
    assert hit is not None and len(hit.frame) == 10
    assert [p.name for p in tmp_path.iterdir()] == ["NVDA.parquet"]


def test_default_cache_dir_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("BT_HYBRID_CACHE", raising=False)
    assert default_cache_dir() == Path.home() / ".cache" / "bt-hybrid" / "prices"
    monkeypatch.setenv("BT_HYBRID_CACHE", str(tmp_path))
    assert default_cache_dir() == tmp_path / "prices"


# --- argument checks -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"source": "bundle"}, "unknown price source 'bundle'.*did you mean 'bundled'"),
        ({"start": date(2021, 1, 1), "end": date(2020, 1, 1)}, "start 2021-01-01 is after end 2020-01-01"),
        ({"warmup_bars": -1}, "warm-up of -1 bars"),
        ({"source": "csv"}, "--data csv needs a file"),
        ({"source": "bundled", "csv_path": Path("x.csv")}, "a CSV file was given with --data bundled"),
    ],
)
def test_bad_arguments_are_user_errors(kwargs: dict[str, Any], message: str, tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match=message):
        load_prices("NVDA", cache_dir=tmp_path, offline=True, **kwargs)


def test_empty_symbol_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match="empty symbol"):
        load_prices("  ", cache_dir=tmp_path, offline=True)


# --- auto: cache, then yfinance, then bundled ----------------------------------------------------------


def test_auto_offline_with_empty_cache_serves_bundled(tmp_path: Path) -> None:
    load = load_prices("nvda", cache_dir=tmp_path, offline=True, **Y2020)

    assert load.source == "bundled" and load.symbol == "NVDA"
    assert load.first == date(2020, 1, 2) and load.last == date(2020, 12, 31) and len(load.frame) == 253
    assert load.fully_covered and load.notes == () and load.fetched_at is None
    assert list(tmp_path.iterdir()) == []  # bundled data is not cached


def test_auto_uses_a_covering_cache_without_asking_yahoo(
    tmp_path: Path, nvda: pd.DataFrame, yahoo_calls: list[Any]
) -> None:
    when = datetime(2025, 1, 1, tzinfo=timezone.utc)
    PriceCache(tmp_path).put("NVDA", nvda.loc["2019":"2021"], "yfinance", fetched_at=when)

    load = load_prices("NVDA", cache_dir=tmp_path, **Y2020)

    assert load.source == "cache" and load.fetched_at == when and load.fully_covered
    assert yahoo_calls == []
    pd.testing.assert_frame_equal(load.frame, nvda.loc["2020"])


def test_auto_refetches_a_partial_cache_over_both_ranges_and_caches_it(
    tmp_path: Path, nvda: pd.DataFrame, yahoo_calls: list[Any]
) -> None:
    cache = PriceCache(tmp_path)
    cache.put("NVDA", nvda.loc["2018":"2020-06"], "yfinance", fetched_at=datetime(2020, 7, 1, tzinfo=timezone.utc))

    load = load_prices("NVDA", cache_dir=tmp_path, **Y2020)

    assert load.source == "yfinance" and load.fully_covered and load.last == date(2020, 12, 31)
    assert yahoo_calls == [("NVDA", date(2018, 1, 2), date(2020, 12, 31))]  # widened to keep what was cached
    hit = cache.get("NVDA")
    assert hit is not None and hit.fetched_at == load.fetched_at
    assert hit.frame.index[0] == pd.Timestamp("2018-01-02") and hit.frame.index[-1] == pd.Timestamp("2020-12-31")


def test_auto_falls_back_to_bundled_when_yahoo_fails(tmp_path: Path, yahoo_down: None) -> None:
    load = load_prices("NVDA", cache_dir=tmp_path, **Y2020)

    assert load.source == "bundled" and load.fully_covered
    assert load.notes == ("Yahoo Finance not used: offline: cannot reach Yahoo Finance",)


def test_auto_falls_back_to_bundled_when_yahoo_data_is_broken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fetch(symbol: str, *args: Any, **kwargs: Any) -> pd.DataFrame:
        raise DataError(f"{symbol}: close is nan - breaks rule 'close is a positive number'", where="yfinance")

    monkeypatch.setattr(prices, "fetch_yahoo", fetch)
    load = load_prices("NVDA", cache_dir=tmp_path, **Y2020)

    assert load.source == "bundled"
    assert load.notes == ("Yahoo Finance not used: NVDA: close is nan - breaks rule 'close is a positive number'",)


def test_auto_warns_and_notes_when_the_range_is_not_covered(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="feeds.prices"):
        load = load_prices("NVDA", start=date(1995, 1, 1), end=date(1999, 12, 31), cache_dir=tmp_path, offline=True)

    assert load.source == "bundled" and not load.fully_covered and load.first == date(1999, 1, 22)
    expected = "range not fully covered: data starts 1999-01-22, after the requested start 1995-01-01"
    assert load.notes == (expected,)
    assert expected in caplog.text


def test_open_end_means_today(tmp_path: Path) -> None:
    load = load_prices("NVDA", start=date(2024, 1, 2), cache_dir=tmp_path, offline=True)
    assert load.last == date(2025, 2, 14) and not load.fully_covered
    assert "data ends 2025-02-14, before the requested end (today" in load.notes[0]


def test_holiday_slack_at_both_ends(tmp_path: Path) -> None:
    """2020-01-01 and 2020-12-25 are holidays: data from 01-02 to 12-24 still covers the range."""
    load = load_prices("NVDA", start=date(2020, 1, 1), end=date(2020, 12, 25), cache_dir=tmp_path, offline=True)
    assert load.fully_covered


def test_best_partial_source_serves_when_none_covers(tmp_path: Path, nvda: pd.DataFrame) -> None:
    PriceCache(tmp_path).put("NVDA", nvda.loc["2024-06":"2025-02-14"], "yfinance")

    load = load_prices("NVDA", start=date(2024, 1, 2), end=date(2025, 6, 30), cache_dir=tmp_path, offline=True)

    assert load.source == "bundled"  # more bars in the range than the cache holds
    assert load.first == date(2024, 1, 2) and not load.fully_covered


def test_no_data_anywhere_lists_what_was_tried(tmp_path: Path) -> None:
    with pytest.raises(SourceUnavailableError) as err:
        load_prices("ZZZQ", cache_dir=tmp_path, offline=True, **Y2020)
    text = str(err.value)
    assert "ZZZQ: no prices for 2020-01-01..2020-12-31" in text
    assert "cache: no usable cache entry" in text and "yfinance: skipped (offline)" in text
    assert "bundled: ZZZQ: not in the bundled demo data" in text


def test_a_source_without_bars_in_the_range_is_skipped(tmp_path: Path) -> None:
    with pytest.raises(SourceUnavailableError, match=r"bundled: no bars in the range \(1997-05-15..2020-07-31"):
        load_prices("AMZN", start=date(2021, 1, 1), cache_dir=tmp_path, offline=True)


# --- warm-up -------------------------------------------------------------------------------------------


def test_warmup_bars_come_before_start(tmp_path: Path, nvda: pd.DataFrame) -> None:
    load = load_prices("NVDA", cache_dir=tmp_path, offline=True, warmup_bars=30, **Y2020)

    in_range = nvda.loc["2020"]
    assert len(load.frame) == len(in_range) + 30
    assert load.first == nvda.index[nvda.index.get_loc(in_range.index[0]) - 30].date()
    assert load.frame.index[30] == pd.Timestamp("2020-01-02") and load.fully_covered


def test_warmup_shortfall_is_noted(tmp_path: Path) -> None:
    load = load_prices("NVDA", start=date(1999, 2, 1), end=date(1999, 12, 31), cache_dir=tmp_path,
                       offline=True, warmup_bars=100)
    assert load.first == date(1999, 1, 22) and not load.fully_covered
    assert load.notes == ("only 6 of 100 warm-up bars before 1999-02-01",)


def test_warmup_widens_the_yahoo_request(tmp_path: Path, yahoo_calls: list[Any]) -> None:
    load = load_prices("NVDA", cache_dir=tmp_path, warmup_bars=250, **Y2020)

    (_, start, _), = yahoo_calls
    assert start is not None and start <= date(2019, 1, 1)
    assert load.source == "yfinance" and load.fully_covered and len(load.frame) == 253 + 250


# --- explicit sources ----------------------------------------------------------------------------------


def test_csv_source(tmp_path: Path) -> None:
    load = load_prices("abc", source="csv", csv_path=FIXTURES / "yahoo_layout.csv", start=date(2024, 1, 9),
                       end=date(2024, 1, 11), cache_dir=tmp_path)
    assert load.source == "csv" and load.symbol == "ABC" and len(load.frame) == 3 and load.fully_covered


def test_csv_path_with_auto_reads_the_file(tmp_path: Path) -> None:
    load = load_prices("ABC", csv_path=FIXTURES / "backtrader_generic.csv", cache_dir=tmp_path)
    assert load.source == "csv" and load.first == date(2006, 1, 2)


def test_csv_source_outside_the_file_range(tmp_path: Path) -> None:
    with pytest.raises(SourceUnavailableError, match="no bars for 2030-01-01..today from csv"):
        load_prices("ABC", source="csv", csv_path=FIXTURES / "yahoo_layout.csv", start=date(2030, 1, 1),
                    cache_dir=tmp_path)


def test_cache_source_without_entry(tmp_path: Path) -> None:
    with pytest.raises(SourceUnavailableError, match="no usable cache entry for NVDA"):
        load_prices("NVDA", source="cache", cache_dir=tmp_path)


def test_yfinance_source_refuses_offline(tmp_path: Path) -> None:
    with pytest.raises(SourceUnavailableError, match="offline mode"):
        load_prices("NVDA", source="yfinance", cache_dir=tmp_path, offline=True)


def test_yfinance_source_fetches_and_caches(tmp_path: Path, yahoo_calls: list[Any]) -> None:
    load = load_prices("NVDA", source="yfinance", cache_dir=tmp_path, **Y2020)

    assert load.source == "yfinance" and load.fully_covered and load.fetched_at is not None
    assert yahoo_calls == [("NVDA", date(2020, 1, 1), date(2020, 12, 31))]
    hit = PriceCache(tmp_path).get("NVDA")
    assert hit is not None and hit.source == "yfinance" and len(hit.frame) == len(load.frame)


def test_bundled_source_with_alias(tmp_path: Path) -> None:
    load = load_prices("spx", source="bundled", cache_dir=tmp_path, **Y2020)
    assert load.source == "bundled" and load.symbol == "SPX" and load.last == date(2020, 11, 20)
    assert not load.fully_covered


def test_default_cache_dir_is_used(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, nvda: pd.DataFrame) -> None:
    monkeypatch.setenv("BT_HYBRID_CACHE", str(tmp_path))
    PriceCache(tmp_path / "prices").put("NVDA", nvda.loc["2020"], "yfinance")
    assert load_prices("NVDA", offline=True, **Y2020).source == "cache"


# --- end to end through yfinance and a local Yahoo -----------------------------------------------------


def test_auto_fetches_from_yahoo_then_serves_from_cache(
    tmp_path: Path, server: YahooServer, session: LocalSession  # noqa: F811 (fixtures)
) -> None:
    server.charts["CACHEME"] = chart_for("CACHEME")
    asked = {"start": date(2024, 1, 2), "end": date(2024, 1, 12)}

    fetched = load_prices("CACHEME", cache_dir=tmp_path, session=session, **asked)
    requests_after_fetch = len(server.price_requests("CACHEME"))
    again = load_prices("CACHEME", cache_dir=tmp_path, session=session, **asked)

    assert fetched.source == "yfinance" and fetched.fully_covered and len(fetched.frame) == 9
    assert again.source == "cache" and again.fetched_at == fetched.fetched_at
    assert len(server.price_requests("CACHEME")) == requests_after_fetch == 1
    pd.testing.assert_frame_equal(again.frame, fetched.frame)


def _split_csv(path: Path, extra: str = "") -> Path:
    """Ten weekdays of January 2024 with a 10:1 split left unadjusted on 2024-01-12 (-90%)."""
    rows = ["date,open,high,low,close,volume"]
    for day, close in zip(pd.bdate_range("2024-01-08", periods=10), [100.0] * 4 + [10.0] * 6, strict=True):
        rows.append(f"{day.date()},{close},{close * 1.01},{close * 0.99},{close},1000")
    path.write_text("\n".join(rows) + "\n" + extra, encoding="utf-8")
    return path


def test_an_unadjusted_split_is_an_error_naming_the_date(tmp_path: Path) -> None:
    with pytest.raises(PriceJumpError, match=r"2024-01-12 \(-90%\)") as err:
        load_prices("SPLIT", csv_path=_split_csv(tmp_path / "s.csv"))
    assert isinstance(err.value, DataError) and "--accept-jumps" in str(err.value)


def test_an_accepted_jump_is_served_and_recorded_on_the_load(tmp_path: Path) -> None:
    load = load_prices("SPLIT", csv_path=_split_csv(tmp_path / "s.csv"), accept_jumps=True)
    assert len(load.frame) == 10
    assert load.jumps == (PriceJump(date(2024, 1, 12), pytest.approx(-0.9)),)
    assert any("accepted 1 one-day close move(s) past 50%: 2024-01-12 (-90%)" in n for n in load.notes)


def test_a_jump_outside_the_served_range_does_not_count(tmp_path: Path) -> None:
    load = load_prices("SPLIT", csv_path=_split_csv(tmp_path / "s.csv"), start=date(2024, 1, 15),
                       end=date(2024, 1, 19))
    assert load.jumps == () and len(load.frame) == 5


@pytest.mark.parametrize(("extra", "message"), [
    ("2024-01-22,10,inf,9,inf,1000\n", "non-finite value"),
    ("2024-01-22,10,1e308,9,1e308,1000\n", "absurd price"),
    ("2099-01-22,10,11,9,10,1000\n", "in the future"),
])
def test_hostile_csv_rows_are_refused_with_the_row(tmp_path: Path, extra: str, message: str) -> None:
    with pytest.raises(DataError, match=message) as err:
        load_prices("SPLIT", csv_path=_split_csv(tmp_path / "s.csv", extra), accept_jumps=True)
    assert "row 11 (20" in str(err.value)


@pytest.mark.parametrize("bad", ["../../etc/passwd", "A/B", "..", "NV\x00DA", "C:NVDA", "C:\\x", "\\\\srv\\x", "/abs",
                                 "NV DA", "A" * 40, "NV..DA"])
def test_unsafe_symbols_never_reach_the_file_system(tmp_path: Path, bad: str) -> None:
    from feeds.ticker import BadSymbolError
    with pytest.raises(BadSymbolError, match="is not a ticker symbol"):
        load_prices(bad, source="cache", cache_dir=tmp_path / "cache")
    with pytest.raises(BadSymbolError):
        PriceCache(tmp_path / "cache").put(bad, load_bundled("NVDA").iloc[:5], "test")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("good", ["NVDA", "brk-b", "^GSPC", "EURUSD=X", "600519.SS", "ES=F", "BTC-USD"])
def test_real_tickers_are_accepted_as_cache_names(tmp_path: Path, good: str) -> None:
    cache = PriceCache(tmp_path)
    path = cache.put(good, load_bundled("NVDA").iloc[:5], "test").path
    assert path.parent == tmp_path and cache.get(good) is not None
