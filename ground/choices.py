"""The one "unknown choice, did you mean" helper: every registry and enumerated setting answers a typo the same way."""
from __future__ import annotations

import difflib
from collections.abc import Iterable


def close_matches(name: str, choices: Iterable[str]) -> list[str]:
    """Up to three choices close to ``name``, closest first."""
    return difflib.get_close_matches(str(name), [str(c) for c in choices], n=3, cutoff=0.5)


def suggest(name: str, choices: Iterable[str], prefix: str = "") -> str:
    """'did you mean ...?' text for an unknown name (empty when nothing is close).

    ``prefix`` is shown before each match but not compared, so a dotted key suggests the full key
    (``sma.fsat`` -> ``'sma.fast'``) while only its last part decides what is close.
    """
    close = close_matches(name, choices)
    return f"did you mean {', '.join(repr(prefix + c) for c in close)}?" if close else ""


def choice_hint(name: str, choices: Iterable[str]) -> str:
    """The fix for an unknown name: close matches, or else every valid choice."""
    options = [str(c) for c in choices]
    return suggest(name, options) or f"choose one of: {', '.join(options)}"
