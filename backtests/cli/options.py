"""Parsing of command-line values shared by the verbs: loose dates and ``--set key=value`` overrides."""
from __future__ import annotations

import re
import tomllib
from datetime import date
from typing import Any

from feeds.errors import UserInputError


def parse_date(text: str, option: str) -> date:
    """``2020``, ``2020-03`` or ``2020-03-15`` to a date (the first day of the period when shorter)."""
    match = re.fullmatch(r"(\d{4})(?:-(\d{1,2}))?(?:-(\d{1,2}))?", text.strip())
    if match:
        year, month, day = int(match[1]), int(match[2] or 1), int(match[3] or 1)
        try:
            return date(year, month, day)
        except ValueError:
            pass
    raise UserInputError(f"bad date '{text}'", option, "use YYYY, YYYY-MM or YYYY-MM-DD, e.g. 2020 or 2020-03-15")


def parse_override(text: str) -> tuple[str, Any]:
    """``section.key=value`` where value is a TOML value (bare words are taken as text)."""
    key, sep, raw = text.partition("=")
    if not sep or not re.fullmatch(r"[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)+", key.strip()):
        raise UserInputError(f"bad override '{text}'", "--set", "write section.key=value, e.g. --set sma.fast=10")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return key.strip(), value
