"""Point-in-time use of sentiment models: a stored version's training cutoff, and the version to use for a period.

A sentiment model learns from labeled headlines; if those were published after a backtest's bars, the model may
have learnt what happened next (a company's later fortunes colour how its news is labeled). Each version records
its training cutoff (the latest row date) in ``meta.json`` as ``training_cutoff``. The backtest asks
:func:`in_sample_period` whether its bars precede that cutoff, so the report can say "sentiment in-sample for
<period>", and :func:`version_before` finds the newest version that was trained only on rows dated before a
given day. A version with no recorded cutoff (trained on undated rows, or before cutoffs were recorded) counts as
in-sample for every period: its cutoff is unknown, not early.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from ml.errors import IntegrityError
from ml.sentiment.model import DEFAULT_MODEL_NAME, MODEL_KIND
from ml.store import ModelStore, ModelVersion

CUTOFF_KEY = "training_cutoff"


def training_cutoff(meta: dict[str, Any], where: str = "meta.json") -> date | None:
    """The training cutoff recorded in a version's metadata; None when it has none."""
    value = meta.get(CUTOFF_KEY)
    if value is None:
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise IntegrityError(f"bad {CUTOFF_KEY} {value!r}", where, "retrain the model with bt-train sentiment") from exc


def model_cutoff(store: ModelStore, name: str = DEFAULT_MODEL_NAME, version: str = "latest") -> date | None:
    """The training cutoff of a stored sentiment version (``latest`` by default); None when unknown."""
    return training_cutoff(store.show(MODEL_KIND, name, version), f"{MODEL_KIND}/{name}/{version}")


@dataclass(frozen=True)
class DatedVersion:
    """A stored version with its training cutoff (None: unknown)."""

    version: ModelVersion
    cutoff: date | None


def dated_versions(store: ModelStore, name: str = DEFAULT_MODEL_NAME) -> list[DatedVersion]:
    """Every stored version of a sentiment model with its cutoff, oldest created first."""
    out = []
    for v in store.list(MODEL_KIND):
        if v.name == name:
            out.append(DatedVersion(v, training_cutoff(store.show(MODEL_KIND, name, v.version), v.ref)))
    return out


def version_before(store: ModelStore, before: date, name: str = DEFAULT_MODEL_NAME) -> DatedVersion | None:
    """The version with the latest cutoff strictly before ``before`` (ties: the newest created); None when no
    version was trained only on rows dated before it."""
    eligible = [d for d in dated_versions(store, name) if d.cutoff is not None and d.cutoff < before]
    if not eligible:
        return None
    return max(eligible, key=lambda d: (d.cutoff, d.version.created_at, d.version.version))


def in_sample_period(cutoff: date | None, start: date, end: date) -> tuple[date, date] | None:
    """The days of ``[start, end]`` on or before the model's cutoff (its training may have seen news from after
    them); ``(start, end)`` whole when the cutoff is unknown; None when every day is after the cutoff."""
    if end < start:
        raise ValueError(f"period ends ({end}) before it starts ({start})")
    if cutoff is None:
        return start, end
    if cutoff < start:
        return None
    return start, min(end, cutoff)


def in_sample_note(cutoff: date | None, start: date, end: date) -> str:
    """One line for a report: "sentiment in-sample for <from>..<to>" (or why it is not)."""
    overlap = in_sample_period(cutoff, start, end)
    if overlap is None:
        return f"sentiment out of sample: model trained on headlines up to {cutoff.isoformat()}"  # type: ignore[union-attr]
    since, until = (d.isoformat() for d in overlap)
    why = "training cutoff unknown" if cutoff is None else f"trained on headlines up to {cutoff.isoformat()}"
    return f"sentiment in-sample for {since}..{until} ({why})"
