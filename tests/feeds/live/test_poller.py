"""The live feed's rules, one poll at a time, with chosen times and answers."""
from __future__ import annotations

import pandas as pd
import pytest

from feeds.live.poller import DELAYED, DISCONNECTED, LIVE, BarPoller, FeedEnd, LiveBar, Notice, PollPolicy, StatusChange
from feeds.live.sessions import ExchangeSessions
from ground.errors import SourceUnavailableError
from tests.feeds.live.bars import TableSource, daily_bars, intraday_bars

DAILY = ExchangeSessions("XNYS", "1d")
T = lambda text: pd.Timestamp(text, tz="UTC")  # noqa: E731


def bars(events: list) -> list[pd.Timestamp]:
    return [e.label for e in events if isinstance(e, LiveBar)]


def kinds(events: list) -> list[str]:
    return [e.status if isinstance(e, StatusChange) else type(e).__name__ for e in events
            if not isinstance(e, LiveBar)]


def notices(events: list, kind: str) -> list[str]:
    return [e.text for e in events if isinstance(e, Notice) and e.kind == kind]


@pytest.fixture
def source() -> TableSource:
    return TableSource("NVDA", daily_bars(DAILY, "2024-12-02", "2025-01-10"))


def poller(source: TableSource, **policy: float) -> BarPoller:
    return BarPoller(source, DAILY, history_start=T("2024-12-01"), policy=PollPolicy(**policy))


def test_history_is_delayed_then_live_and_the_next_poll_waits_for_the_next_close(source: TableSource) -> None:
    feed = poller(source)
    events, wait = feed.poll(T("2024-12-27 22:00"))

    labels = bars(events)
    assert kinds(events) == [DELAYED, LIVE]
    assert events[0].status == DELAYED and events[-1].status == LIVE  # bars sit between the two
    assert labels[0] == pd.Timestamp("2024-12-02") and labels[-1] == pd.Timestamp("2024-12-27")
    assert pd.Timestamp("2024-12-25") not in labels and len(labels) == 19  # Christmas is no session
    # next bar: Monday 30 December, close 21:00 UTC, plus the settle time
    assert wait == (T("2024-12-30 21:02") - T("2024-12-27 22:00")).total_seconds()


def test_a_forming_bar_waits_for_its_close_and_settle(source: TableSource) -> None:
    feed = poller(source)
    feed.poll(T("2024-12-27 22:00"))
    events, wait = feed.poll(T("2024-12-30 18:00"))  # the 30th is in the answer but not finished
    assert events == [] and wait == pytest.approx(3 * 3600 + 120)
    events, _ = feed.poll(T("2024-12-30 21:01"))  # closed, not settled
    assert events == []
    events, _ = feed.poll(T("2024-12-30 21:02"))
    assert bars(events) == [pd.Timestamp("2024-12-30")] and kinds(events) == []  # live already: no status change


def test_holidays_and_early_closes_come_from_the_calendar() -> None:
    five = ExchangeSessions("XNYS", "5m")
    src = TableSource("NVDA", intraday_bars(five, "2024-12-24", "2024-12-27"))
    feed = BarPoller(src, five, history_start=T("2024-12-24 14:00"), policy=PollPolicy(settle_s=0))
    events, wait = feed.poll(T("2024-12-24 18:30"))  # Christmas Eve closes at 13:00 New York
    labels = bars(events)
    assert labels[0] == pd.Timestamp("2024-12-24 09:35") and labels[-1] == pd.Timestamp("2024-12-24 13:00")
    assert len(labels) == 42
    assert wait == (T("2024-12-26 14:35") - T("2024-12-24 18:30")).total_seconds()  # skips Christmas Day


def test_repeats_are_skipped_and_a_revision_is_reported_once(source: TableSource) -> None:
    feed = poller(source)
    feed.poll(T("2024-12-27 22:00"))
    assert feed.poll(T("2024-12-27 22:05"))[0] == []  # the same answer again: nothing new, nothing said

    revised = source.table.copy()
    day = revised.index[revised.index.tz_convert(DAILY.tz).normalize().tz_localize(None) == "2024-12-26"][0]
    revised.loc[day, "close"] = revised.loc[day, "close"] * 1.01
    revised.loc[day, "high"] = revised.loc[day, ["high", "close"]].max()
    source.table = revised
    events, _ = feed.poll(T("2024-12-27 22:10"))
    assert bars(events) == [] and len(notices(events, "revision")) == 1
    assert "2024-12-26" in notices(events, "revision")[0] and "delivered values stand" in notices(events, "revision")[0]
    assert feed.poll(T("2024-12-27 22:15"))[0] == []  # reported once


def test_a_gap_is_reported_and_a_late_bar_from_the_past_is_dropped(source: TableSource) -> None:
    feed = poller(source)
    feed.poll(T("2024-12-23 22:00"))
    full = source.table
    stamp = lambda d: full.index[full.index.tz_convert(DAILY.tz).normalize().tz_localize(None) == d][0]  # noqa: E731
    source.table = full.drop(index=[stamp("2024-12-24")])
    events, _ = feed.poll(T("2024-12-26 22:00"))
    assert bars(events) == [pd.Timestamp("2024-12-26")]
    assert notices(events, "gap") == ["1 bar(s) missing before 2024-12-26 00:00:00: 2024-12-24 00:00:00"]

    source.table = full  # the missing bar turns up after a later one was delivered
    events, _ = feed.poll(T("2024-12-26 22:05"))
    assert bars(events) == [] and len(notices(events, "past")) == 1 and "2024-12-24" in notices(events, "past")[0]


def test_source_down_at_start_backs_off_then_catches_up(source: TableSource) -> None:
    feed = poller(source, backoff_s=2, max_backoff_s=5)
    source.down = True
    waits, statuses, now = [], [], T("2024-12-27 22:00")
    for _ in range(4):
        events, wait = feed.poll(now)
        waits.append(wait)
        statuses += kinds(events)
        now += pd.Timedelta(seconds=wait)
    assert statuses == [DISCONNECTED] and waits == [2, 4, 5, 5]  # said once; doubling, capped

    source.down = False
    events, _ = feed.poll(now)
    assert kinds(events) == [DELAYED, LIVE] and len(bars(events)) == 19


def test_down_too_long_ends_the_feed_with_the_reason(source: TableSource) -> None:
    feed = poller(source, give_up_s=60)
    source.down = True
    assert not any(isinstance(e, FeedEnd) for e in feed.poll(T("2024-12-27 22:00"))[0])
    events, _ = feed.poll(T("2024-12-27 22:01"))
    end = [e for e in events if isinstance(e, FeedEnd)]
    assert end and end[0].error and "unreachable for 60 s" in end[0].reason and "connection refused" in end[0].reason


def test_malformed_answers_are_survived(source: TableSource) -> None:
    feed = poller(source)
    feed.poll(T("2024-12-23 22:00"))
    source.answers.append(SourceUnavailableError("NVDA: malformed chart answer (missing ['close'])"))
    events, wait = feed.poll(T("2024-12-24 19:00"))
    assert kinds(events) == [DISCONNECTED] and "malformed" in events[0].reason

    broken = source.table.copy()
    bad = broken.index[broken.index.tz_convert(DAILY.tz).normalize().tz_localize(None) == "2024-12-24"][0]
    broken.loc[bad, "high"] = broken.loc[bad, "low"] / 2  # high below low: breaks the validator's rule
    source.table = broken
    events, _ = feed.poll(T("2024-12-27 22:00"))
    assert pd.Timestamp("2024-12-24") not in bars(events)
    assert bars(events) == [pd.Timestamp("2024-12-26"), pd.Timestamp("2024-12-27")]
    invalid = notices(events, "invalid")
    assert len(invalid) == 1 and "high >= max(open, close)" in invalid[0]
    assert kinds(events)[-1] == LIVE


def test_clock_jumps_are_reported_and_deliver_nothing_twice(source: TableSource) -> None:
    feed = poller(source)
    _, wait = feed.poll(T("2024-12-23 22:00"))
    events, _ = feed.poll(T("2024-12-23 22:00") - pd.Timedelta(hours=3))
    assert bars(events) == [] and "clock went back" in notices(events, "clock")[0]

    events, _ = feed.poll(T("2024-12-27 22:00"))  # days ahead of the planned wait
    assert "clock jumped" in notices(events, "clock")[0]
    assert bars(events) == [pd.Timestamp(d) for d in ("2024-12-24", "2024-12-26", "2024-12-27")]
    assert kinds(events) == ["Notice", DELAYED, LIVE]  # a catch-up batch is announced as delayed, even when live


def test_bars_outside_sessions_or_in_the_future_are_dropped(source: TableSource) -> None:
    feed = poller(source)
    feed.poll(T("2024-12-23 22:00"))
    odd = source.table.iloc[[-1, -1]].copy()
    odd.index = pd.DatetimeIndex([T("2024-12-25 05:00"), T("2025-03-03 05:00")])  # Christmas; months ahead
    source.answers.append(pd.concat([source.table.iloc[-30:-20], odd]))
    events, _ = feed.poll(T("2024-12-24 22:00"))
    assert len(notices(events, "outside")) == 1 and "2024-12-25" in notices(events, "outside")[0]
    assert len(notices(events, "future")) == 1 and "2025-03-03" in notices(events, "future")[0]


def test_an_overdue_bar_keeps_polling_then_is_given_up(source: TableSource) -> None:
    feed = poller(source, retry_s=30, gap_after_s=600)
    source.table = source.table[source.table.index < T("2024-12-24")]  # the source lags behind
    events, wait = feed.poll(T("2024-12-24 18:05"))
    assert kinds(events) == [DELAYED] and wait == 30  # the 24th closed at 18:00 but has not come
    events, _ = feed.poll(T("2024-12-24 18:05") + pd.Timedelta(seconds=700))
    assert "have not come" in notices(events, "overdue")[0] and kinds(events)[-1] == LIVE


def test_resume_after_a_label_skips_what_was_delivered_before(source: TableSource) -> None:
    feed = BarPoller(source, DAILY, history_start=T("2024-12-01"), resume_after=pd.Timestamp("2024-12-20"))
    events, _ = feed.poll(T("2024-12-24 22:00"))
    assert bars(events) == [pd.Timestamp("2024-12-23"), pd.Timestamp("2024-12-24")]
    assert notices(events, "past") == []


def test_the_end_time_ends_the_feed(source: TableSource) -> None:
    feed = BarPoller(source, DAILY, history_start=T("2024-12-01"), until=T("2024-12-20 22:00"))
    events, _ = feed.poll(T("2024-12-20 22:00"))
    assert isinstance(events[-1], FeedEnd) and not events[-1].error
