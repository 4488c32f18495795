"""Reliable publication dates: parse the raw date string ourselves, or reject it with a reason.

feedparser's lenient ISO 8601 handler reads "2024年1月4日 10:00" as 2024-11-01 without flagging anything, and
a wrong date silently breaks point-in-time backtests. So the raw string is parsed here by strict grammars
(RFC 822, W3C/ISO 8601, Chinese formats) that must match the whole string; anything else is rejected.

A value without a time of day is taken as the END of that day: the item existed by then, so a bar never sees
it earlier than it could have.
"""
from __future__ import annotations

import re
import unicodedata
from datetime import datetime, timedelta, timezone, tzinfo

from ground.errors import DataError
from ground.lang import HAN_RANGES

CHINA_TZ = timezone(timedelta(hours=8), "UTC+08:00")
_MIN_YEAR, _MAX_YEAR = 1900, 2200

_MONTHS = {m: i for i, m in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], start=1)}
# RFC 822 zone names. CST is US Central by the RFC; Chinese sites use it for China Standard Time (see below).
_ZONE_HOURS = {
    "UT": 0, "UTC": 0, "GMT": 0, "Z": 0, "EST": -5, "EDT": -4, "CST": -6, "CDT": -5, "MST": -7, "MDT": -6,
    "PST": -8, "PDT": -7, "CET": 1, "CEST": 2, "HKT": 8, "SGT": 8, "JST": 9, "KST": 9,
}
_OFFSET = r"(?P<tz>Z|UTC|GMT|[+-]\d{2}:?\d{2}|[+-]\d{2}|(?:GMT|UTC)\s*[+-]\d{1,2}(?::?\d{2})?)"

_RFC822 = re.compile(
    r"^(?:(?P<wd>[A-Za-z]{3,9})\.?,?\s+)?(?P<d>\d{1,2})\s+(?P<mon>[A-Za-z]{3,9})\.?,?\s+(?P<y>\d{2}|\d{4}),?\s+"
    r"(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?(?:\s*(?P<zone>[+-]\d{4}|[A-Za-z]{1,5}))?$"
)
_ISO = re.compile(
    r"^(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})"
    r"(?:[T ](?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:[.,](?P<frac>\d{1,9}))?)?)?"
    r"\s*" + _OFFSET + r"?$"
)
_SLASH = re.compile(
    r"^(?P<y>\d{4})/(?P<m>\d{1,2})/(?P<d>\d{1,2})(?:\s+(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?)?"
    r"\s*" + _OFFSET + r"?$"
)
_CJK = re.compile(f"[\u3000-\u303f{HAN_RANGES}]")  # Han plus CJK punctuation
_ZH_NOISE = re.compile(r"星期[一二三四五六日天]|周[一二三四五六日天]|礼拜[一二三四五六日天]|北京时间|[（(]\s*[)）]")
_ZH_RELATIVE = re.compile(r"前|今天|昨天|前天|刚刚|今日|昨日")
_ZH = re.compile(
    r"^(?P<y>\d{4})\s*年\s*(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*[日号]\s*,?\s*"
    r"(?:(?P<ampm>凌晨|早上|早晨|上午|中午|下午|傍晚|晚上|晚间)?\s*"
    r"(?P<H>\d{1,2})\s*(?:[:点时])\s*(?:(?P<M>\d{1,2})\s*分?)?\s*(?:[:]?\s*(?P<S>\d{1,2})\s*秒?)?)?"
    r"\s*" + _OFFSET + r"?$"
)


class UnreliableDateError(DataError, ValueError):
    """A date string that cannot be turned into a trustworthy instant; the message is the reason.

    A DataError (the project's own error for bad data) and, for callers that collect row problems, a ValueError.
    """


def _offset_tz(text: str, *, cst_is_china: bool) -> tzinfo:
    token = text.strip().upper()
    if token in _ZONE_HOURS:
        hours = 8 if token == "CST" and cst_is_china else _ZONE_HOURS[token]
        return timezone(timedelta(hours=hours))
    match = re.fullmatch(r"(?:GMT|UTC)?\s*([+-])(\d{1,2}):?(\d{2})?", token)
    if not match:
        raise UnreliableDateError(f"unknown time zone {text.strip()!r}")
    sign = -1 if match.group(1) == "-" else 1
    hours, minutes = int(match.group(2)), int(match.group(3) or 0)
    if hours > 14 or minutes > 59:
        raise UnreliableDateError(f"time zone offset out of range {text.strip()!r}")
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def _build(
    raw: str, y: int, m: int, d: int, hh: str | None, mm: str | None, ss: str | None, tz: tzinfo,
    micro: int = 0,
) -> datetime:
    if not _MIN_YEAR <= y <= _MAX_YEAR:
        raise UnreliableDateError(f"implausible year {y} in {raw!r}")
    try:
        if hh is None:
            # Date only: the end of that day, so the item is never visible before it existed.
            value = datetime(y, m, d, 23, 59, 59, tzinfo=tz)
        else:
            value = datetime(y, m, d, int(hh), int(mm or 0), int(ss or 0), micro, tzinfo=tz)
    except ValueError as exc:
        raise UnreliableDateError(f"impossible date {raw!r}: {exc}") from None
    return value.astimezone(timezone.utc)


def _parse_rfc822(raw: str, default_tz: tzinfo) -> datetime | None:
    match = _RFC822.match(raw)
    if not match:
        return None
    month = _MONTHS.get(match["mon"][:3].lower())
    if month is None:
        raise UnreliableDateError(f"unknown month {match['mon']!r} in {raw!r}")
    year = int(match["y"])
    if len(match["y"]) == 2:
        year += 2000 if year < 50 else 1900
    zone = match["zone"]
    china = datetime(year, 1, 1, tzinfo=default_tz).utcoffset() == timedelta(hours=8)
    tz = _offset_tz(zone, cst_is_china=china) if zone else default_tz
    if zone == "-0000":
        tz = timezone.utc  # RFC 2822: "-0000" means UTC with no local-zone information.
    return _build(raw, year, month, int(match["d"]), match["H"], match["M"], match["S"], tz)


def _parse_numeric(raw: str, pattern: re.Pattern[str], default_tz: tzinfo) -> datetime | None:
    match = pattern.match(raw)
    if not match:
        return None
    tz = _offset_tz(match["tz"], cst_is_china=False) if match["tz"] else default_tz
    frac = match.groupdict().get("frac") or ""
    micro = int((frac + "000000")[:6]) if frac else 0
    return _build(raw, int(match["y"]), int(match["m"]), int(match["d"]), match["H"], match["M"], match["S"], tz,
                  micro)


def _parse_chinese(raw: str, default_tz: tzinfo) -> datetime:
    text = _ZH_NOISE.sub(" ", raw).strip()
    if _ZH_RELATIVE.search(text):
        raise UnreliableDateError(f"relative Chinese date {raw!r} has no absolute day")
    if not _CJK.search(text):  # "2024-01-04 10:00 北京时间": numeric once the noise is gone
        value = _parse_numeric(text, _ISO, default_tz) or _parse_numeric(text, _SLASH, default_tz)
        if value is not None:
            return value
    match = _ZH.match(text)
    if not match:
        raise UnreliableDateError(f"unrecognised Chinese date format {raw!r}")
    hour = match["H"]
    if hour is not None:
        # 下午3点 is 15:00; 中午 ("noon") covers 11:00-13:00, so 中午1点 is 13:00 but 中午11点 is 11:00.
        pm = match["ampm"] in {"下午", "傍晚", "晚上", "晚间"} or (match["ampm"] == "中午" and int(hour) < 11)
        hour = str(int(hour) + 12) if pm and int(hour) < 12 else hour
    tz = _offset_tz(match["tz"], cst_is_china=True) if match["tz"] else default_tz
    return _build(raw, int(match["y"]), int(match["m"]), int(match["d"]), hour, match["M"], match["S"], tz)


def parse_date(raw: str, tz: tzinfo | None = None) -> datetime:
    """Parse a feed or import date into an aware UTC datetime, or raise UnreliableDateError with the reason.

    `tz` is the source's time zone for values without an offset; when it is None, Chinese-format values are
    taken as UTC+8 (Beijing time, what Chinese sources mean) and the others as UTC (the RSS/Atom convention).
    """
    if not isinstance(raw, str) or not raw.strip():
        raise UnreliableDateError("empty date")
    # Full-width digits, colons and spaces (common on Chinese sites) become their ASCII forms.
    text = " ".join(unicodedata.normalize("NFKC", raw).split())
    if _CJK.search(text):
        return _parse_chinese(text, tz or CHINA_TZ)
    default_tz = tz or timezone.utc
    value = (
        _parse_numeric(text, _ISO, default_tz)
        or _parse_numeric(text, _SLASH, default_tz)
        or _parse_rfc822(text, default_tz)
    )
    if value is not None:
        return value
    raise UnreliableDateError(f"unrecognised date format {raw.strip()[:60]!r}")
