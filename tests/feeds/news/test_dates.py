from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from feeds.news.dates import UnreliableDateError, parse_date


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Thu, 04 Jan 2024 14:30:00 +0000", utc(2024, 1, 4, 14, 30)),
        ("Thu, 04 Jan 2024 14:30:00 GMT", utc(2024, 1, 4, 14, 30)),
        ("04 Jan 2024 09:30 EST", utc(2024, 1, 4, 14, 30)),
        ("Thursday, 4 January 24 09:30:00 -0500", utc(2024, 1, 4, 14, 30)),
        ("2024-01-04T14:30:00Z", utc(2024, 1, 4, 14, 30)),
        ("2009-12-08T16:59:02.544-08:00", datetime(2009, 12, 9, 0, 59, 2, 544000, tzinfo=timezone.utc)),
        ("2024-01-04 14:30", utc(2024, 1, 4, 14, 30)),
        ("2024/1/4 14:30:05", utc(2024, 1, 4, 14, 30, 5)),
        ("2024-01-04", utc(2024, 1, 4, 23, 59, 59)),  # date only: the end of that day
    ],
)
def test_standard_formats(raw: str, expected: datetime) -> None:
    assert parse_date(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2024年1月4日 10:00", utc(2024, 1, 4, 2, 0)),
        ("2024年01月04日 10:00:30", utc(2024, 1, 4, 2, 0, 30)),
        ("２０２４年１月４日　１０：００", utc(2024, 1, 4, 2, 0)),
        ("2024年1月4日10时30分", utc(2024, 1, 4, 2, 30)),
        ("2024年1月4日 下午3:30", utc(2024, 1, 4, 7, 30)),
        ("2024年1月4日 星期四 10:00", utc(2024, 1, 4, 2, 0)),
        ("2024年1月4日 10:00 +0000", utc(2024, 1, 4, 10, 0)),
        ("2024-01-04 10:00 北京时间", utc(2024, 1, 4, 2, 0)),
        ("2024年1月4日", utc(2024, 1, 4, 15, 59, 59)),
    ],
)
def test_chinese_formats_default_to_beijing_time(raw: str, expected: datetime) -> None:
    assert parse_date(raw) == expected


def test_the_string_feedparser_misdates_is_parsed_to_the_right_day() -> None:
    value = parse_date("2024年1月4日 10:00")
    assert (value.year, value.month, value.day) == (2024, 1, 4)  # feedparser says 2024-11-01


def test_source_time_zone_applies_to_values_without_offset() -> None:
    assert parse_date("2024-01-04 09:30", ZoneInfo("America/New_York")) == utc(2024, 1, 4, 14, 30)
    assert parse_date("2024年1月4日 10:00", ZoneInfo("Asia/Tokyo")) == utc(2024, 1, 4, 1, 0)
    # CST is US Central by RFC 822, but China Standard Time for a source in Beijing time.
    assert parse_date("Thu, 04 Jan 2024 10:00:00 CST") == utc(2024, 1, 4, 16, 0)
    assert parse_date("Thu, 04 Jan 2024 10:00:00 CST", ZoneInfo("Asia/Shanghai")) == utc(2024, 1, 4, 2, 0)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "empty"),
        ("someday soon", "unrecognised date format"),
        ("01/04/2024", "unrecognised date format"),  # day/month order unknowable
        ("3分钟前", "relative"),
        ("昨天 10:00", "relative"),
        ("2024年1月", "unrecognised Chinese date"),
        ("2024年2月30日 10:00", "impossible date"),
        ("Thu, 04 Jan 2024 25:00:00 GMT", "impossible date"),
        ("Thu, 04 Jan 2024 10:00:00 XYZ", "unknown time zone"),
        ("Thu, 04 Foo 2024 10:00:00 GMT", "unknown month"),
        ("1850-01-01", "implausible year"),
    ],
)
def test_unreliable_dates_are_rejected_with_a_reason(raw: str, reason: str) -> None:
    with pytest.raises(UnreliableDateError, match=reason):
        parse_date(raw)


@pytest.mark.parametrize(
    ("raw", "hour"),
    [("2024年1月4日 下午3:30", 15), ("2024年1月4日 晚上8点", 20), ("2024年1月4日 下午12:10", 12),
     ("2024年1月4日 中午12:30", 12), ("2024年1月4日 中午1点", 13), ("2024年1月4日 中午11点", 11),
     ("2024年1月4日 上午9:15", 9), ("2024年1月4日 凌晨2点", 2)],
)
def test_chinese_time_of_day_words(raw: str, hour: int) -> None:
    local = parse_date(raw, timezone.utc)
    assert local.hour == hour
