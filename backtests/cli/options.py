"""Parsing of command-line values shared by the verbs: loose dates and ``--set key=value`` overrides."""
from __future__ import annotations

import calendar
import re
import tomllib
from datetime import date
from typing import Any

from ground.errors import UserInputError


def parse_date(text: str, option: str, *, end: bool = False) -> date:
    """``2020``, ``2020-03`` or ``2020-03-15`` to a date.

    A shorter form means the first day of that year or month, or its last day when ``end`` (so ``--to 2023``
    includes all of 2023).
    """
    match = re.fullmatch(r"(\d{4})(?:-(\d{1,2}))?(?:-(\d{1,2}))?", text.strip())
    if match:
        year = int(match[1])
        month = int(match[2] or (12 if end else 1))
        try:
            if match[3]:
                return date(year, month, int(match[3]))
            if end:
                return date(year, month, calendar.monthrange(year, month)[1])
            return date(year, month, 1)
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


# Flag name -> the config key it sets.
FLAG_KEYS = {
    "strategy": "run.strategy", "symbol": "run.symbols", "start": "run.start", "end": "run.end", "data": "run.data",
    "csv": "run.csv", "cash": "run.cash", "device": "run.device", "seed": "run.seed", "reports_dir": "run.reports_dir",
    "models_dir": "run.models_dir", "commission_bps": "costs.commission_bps", "slippage_bps": "costs.slippage_bps",
    "offline": "run.offline", "accept_jumps": "run.accept_jumps",
}


def overrides_from_flags(**flags: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """Dotted config overrides from the flags the user actually gave (None means not given), and the flag each
    came from (``run.cash`` -> ``--cash``) so that an error can name it; ``--set`` overrides come last."""
    out: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for flag, key in FLAG_KEYS.items():
        value = flags.get(flag)
        if value is None or value == () or (flag in ("offline", "accept_jumps") and not value):
            continue
        out[key] = list(value) if isinstance(value, tuple) else value
        origin[key] = "--" + {"start": "from", "end": "to"}.get(flag, flag).replace("_", "-")
    for item in flags.get("overrides") or ():
        key, value = parse_override(item)
        out[key] = value
        origin[key] = f"--set {key}"
    return out, origin
