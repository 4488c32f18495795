"""The live feed's logic, without threads or backtrader: ask the source, keep only new finished bars, say what
happened. ``BarPoller.poll(now)`` is one step (events out, how long to wait before the next step), so every rule
below is tested by calling it with chosen times and answers.

- A bar is delivered once its slot has ended and ``settle_s`` has passed (sources revise a bar just after it
  closes); slots come from the exchange calendar, so nothing is expected on holidays or outside hours, and the
  next poll is timed to the next slot's end rather than to a fixed period.
- Repeated bars (same label, same values) are skipped. A delivered bar that comes back with other values is a
  revision: it cannot change the past of a running strategy, so it is reported (``Notice`` kind ``revision``) and
  dropped. A bar older than the last delivered one that was never delivered is a bar "from the past" and dropped.
- Missing slots between delivered bars are reported as gaps; every bar goes through ``validate_prices`` and a bar
  that breaks a rule is dropped with the validator's message.
- A failed fetch turns the status to DISCONNECTED and the next try waits ``backoff_s`` doubled per failure, up to
  ``max_backoff_s``; after ``give_up_s`` of failures the feed ends with the reason. A batch of catch-up bars is
  announced as DELAYED, and LIVE follows once no finished bar is missing.
- The clock is checked on every step: a step back or a jump forward is reported and the feed carries on.
"""
from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from feeds.live.sessions import ExchangeSessions, Slot
from feeds.live.source import BarSource
from feeds.validate import PRICE_COLUMNS, validate_prices
from ground.errors import DataError, SourceUnavailableError

logger = logging.getLogger(__name__)

LIVE, DELAYED, DISCONNECTED = "LIVE", "DELAYED", "DISCONNECTED"


@dataclass(frozen=True)
class LiveBar:
    """One finished bar: label (naive exchange-local, what backtrader shows) and prices."""

    label: pd.Timestamp
    end: pd.Timestamp
    open: float
    high: float
    low: float
    close: float
    volume: float

    def values(self) -> tuple[float, float, float, float, float]:
        return (self.open, self.high, self.low, self.close, self.volume)


@dataclass(frozen=True)
class StatusChange:
    """The feed's state moved to ``status`` (LIVE, DELAYED or DISCONNECTED) for ``reason``."""

    status: str
    reason: str


@dataclass(frozen=True)
class Notice:
    """Something a user should hear about that the feed survived: gap, revision, past, future, outside, invalid,
    clock."""

    kind: str
    text: str


@dataclass(frozen=True)
class FeedEnd:
    """The feed stops here, for ``reason`` (replay finished, stop requested, source down too long)."""

    reason: str
    error: bool = False


Event = LiveBar | StatusChange | Notice | FeedEnd


@dataclass(frozen=True)
class PollPolicy:
    """Timing rules, in seconds of the feed's clock."""

    settle_s: float = 120.0
    retry_s: float = 30.0
    backoff_s: float = 2.0
    max_backoff_s: float = 300.0
    give_up_s: float | None = None
    gap_after_s: float = 3600.0
    lookback_bars: int = 3
    clock_tolerance_s: float = 5.0
    keep_bars: int = 64


class BarPoller:
    """Turns repeated answers of a ``BarSource`` into new, finished, validated bars in order."""

    def __init__(
        self,
        source: BarSource,
        sessions: ExchangeSessions,
        *,
        history_start: datetime,
        resume_after: pd.Timestamp | None = None,
        until: datetime | None = None,
        policy: PollPolicy = PollPolicy(),
    ) -> None:
        self.source, self.sessions, self.policy = source, sessions, policy
        self._history_start = pd.Timestamp(history_start).tz_convert("UTC")
        self._floor = pd.Timestamp(resume_after) if resume_after is not None else None
        self._until = pd.Timestamp(until).tz_convert("UTC") if until is not None else None
        self._delivered: OrderedDict[pd.Timestamp, tuple[float, ...]] = OrderedDict()
        self._last: Slot | None = self.sessions.slot_of(self._floor) if self._floor is not None else None
        self._reported: OrderedDict[tuple[str, object], None] = OrderedDict()
        self.status = ""
        self._failures = 0
        self._failing_since: pd.Timestamp | None = None
        self._last_now: pd.Timestamp | None = None
        self._planned_wait = 0.0

    @property
    def last_label(self) -> pd.Timestamp | None:
        """Label of the last bar delivered (or resumed after)."""
        return self._last.label if self._last is not None else self._floor

    def poll(self, now: datetime) -> tuple[list[Event], float]:
        """One step at ``now``: the events to pass on, and the seconds to wait before the next step."""
        now_ts = pd.Timestamp(now).tz_convert("UTC")
        events: list[Event] = list(self._check_clock(now_ts))
        try:
            raw = self.source.fetch(self._window_start().to_pydatetime(), (now_ts + self.sessions.step).to_pydatetime())
        except SourceUnavailableError as exc:
            return self._failed(now_ts, events, exc.what)
        self._failures, self._failing_since = 0, None
        bars = self._new_bars(raw, now_ts, events)
        overdue = self._overdue(now_ts, events)
        if bars and (self.status != LIVE or len(bars) > 1):
            events.append(self._status(DELAYED, f"{len(bars)} bar(s) to catch up, up to {bars[-1].label}"))
        events.extend(bars)
        if not overdue:
            if self.status != LIVE:
                events.append(self._status(LIVE, f"up to date at {self.last_label}"))
            if self._until is not None and now_ts >= self._until:
                events.append(FeedEnd(f"reached the end time {self._until}"))
        wait = self.policy.retry_s if overdue else self._until_next(now_ts)
        return events, self._plan(wait)

    # ------------------------------------------------------------------------------------------ steps

    def _window_start(self) -> pd.Timestamp:
        if self._last is None:
            return self._history_start
        back = self.sessions.step * (self.policy.lookback_bars + 1)
        return self._last.label.tz_localize(self.sessions.tz).tz_convert("UTC") - back

    def _failed(self, now: pd.Timestamp, events: list[Event], reason: str) -> tuple[list[Event], float]:
        self._failures += 1
        self._failing_since = self._failing_since or now
        if self.status != DISCONNECTED:
            events.append(self._status(DISCONNECTED, reason))
        logger.warning("%s: fetch %d failed: %s", self.source.symbol, self._failures, reason)
        give_up = self.policy.give_up_s
        if give_up is not None and (now - self._failing_since).total_seconds() >= give_up:
            events.append(FeedEnd(f"{self.source.name} unreachable for {give_up:g} s: {reason}", error=True))
        wait = min(self.policy.backoff_s * 2 ** (self._failures - 1), self.policy.max_backoff_s)
        return events, self._plan(wait)

    def _new_bars(self, raw: pd.DataFrame, now: pd.Timestamp, events: list[Event]) -> list[LiveBar]:
        """The rows of ``raw`` that are new finished bars, validated, in order; notices for the rest."""
        settle = pd.Timedelta(seconds=self.policy.settle_s)
        fresh: list[tuple[Slot, tuple[float, ...]]] = []
        for start, row in zip(raw.index, raw.to_numpy(dtype="float64", na_value=np.nan), strict=True):
            label = self.sessions.label_for_start(start)
            slot = self.sessions.slot_of(label)
            values = tuple(float(v) for v in row)
            if slot is None:
                self._notice(events, "outside", label, f"bar {label} is outside {self.sessions.exchange} sessions; dropped")
            elif slot.start > now + self.sessions.step:
                self._notice(events, "future", label, f"bar {label} starts after the clock's now {now}; dropped")
            elif slot.end + settle > now:
                continue  # still forming or not settled: a later poll takes it
            elif self.last_label is not None and label <= self.last_label:
                self._seen_before(label, values, events)
            elif not fresh or label > fresh[-1][0].label:
                fresh.append((slot, values))
        valid = self._validate(fresh, events)
        bars: list[LiveBar] = []
        for slot, values in valid:
            self._report_gaps(slot, events)
            bars.append(LiveBar(slot.label, slot.end, *values))
            self._remember(slot, values)
        return bars

    def _seen_before(self, label: pd.Timestamp, values: tuple[float, ...], events: list[Event]) -> None:
        known = self._delivered.get(label)
        if known is None:
            if self._floor is None or label > self._floor:
                self._notice(events, "past", label, f"bar {label} arrived after {self.last_label} was delivered; "
                             "dropped (bars are delivered in order)")
        elif not np.allclose(known, values, rtol=1e-9, atol=0.0, equal_nan=True):
            self._notice(events, "revision", (label, values), f"bar {label} was revised after delivery "
                         f"(was {known}, now {values}); the delivered values stand")

    def _validate(
        self, fresh: list[tuple[Slot, tuple[float, ...]]], events: list[Event]
    ) -> list[tuple[Slot, tuple[float, ...]]]:
        """Every bar through the project's validator; a bar that breaks a rule is dropped with the reason."""
        if not fresh:
            return []
        origin = f"{self.source.name} live"
        try:
            self._check(fresh, origin)
            return fresh
        except DataError:
            pass
        kept = []
        for item in fresh:
            try:
                self._check([item], origin)
                kept.append(item)
            except DataError as exc:
                self._notice(events, "invalid", item[0].label, f"bar {item[0].label} dropped: {exc}")
        return kept

    def _check(self, items: list[tuple[Slot, tuple[float, ...]]], origin: str) -> None:
        frame = pd.DataFrame([v for _, v in items], columns=list(PRICE_COLUMNS),
                             index=pd.DatetimeIndex([s.label for s, _ in items], name="date"))
        validate_prices(frame, symbol=self.source.symbol, origin=origin, jumps="skip")

    def _report_gaps(self, slot: Slot, events: list[Event]) -> None:
        if self._last is None:
            return
        missing = self.sessions.slots_ending(self._last.end, slot.end)[:-1]
        if missing:
            shown = ", ".join(str(s.label) for s in missing[:3]) + (" ..." if len(missing) > 3 else "")
            self._notice(events, "gap", slot.label, f"{len(missing)} bar(s) missing before {slot.label}: {shown}")

    def _overdue(self, now: pd.Timestamp, events: list[Event]) -> bool:
        """True while a finished, settled slot after the last bar has not come yet (short of ``gap_after_s``)."""
        after = self._last.end if self._last is not None else self._history_start
        due = self.sessions.slots_ending(after, now - pd.Timedelta(seconds=self.policy.settle_s))
        if not due:
            return False
        late = (now - due[0].end).total_seconds() - self.policy.settle_s
        if late < self.policy.gap_after_s:
            return True
        self._notice(events, "overdue", due[-1].label, f"{len(due)} finished bar(s) up to {due[-1].label} have "
                     f"not come after {late:.0f} s; carrying on without them")
        return False

    def _until_next(self, now: pd.Timestamp) -> float:
        after = now - pd.Timedelta(seconds=self.policy.settle_s)
        if self._last is not None:
            after = max(after, self._last.end)
        nxt = self.sessions.next_slot_end(after) + pd.Timedelta(seconds=self.policy.settle_s)
        if self._until is not None:
            nxt = min(nxt, max(self._until, now))
        return max(0.0, float((nxt - now).total_seconds()))

    def _check_clock(self, now: pd.Timestamp) -> list[Event]:
        last, self._last_now = self._last_now, now
        if last is None:
            return []
        moved = (now - last).total_seconds()
        tol = self.policy.clock_tolerance_s
        if moved < -tol:
            return [self._log(Notice("clock", f"clock went back {-moved:.0f} s (from {last} to {now}); "
                                              "bars already delivered are not delivered again"))]
        if moved > self._planned_wait + max(tol, 0.5 * self._planned_wait):
            return [self._log(Notice("clock", f"clock jumped {moved:.0f} s where {self._planned_wait:.0f} s were "
                                              "planned; catching up"))]
        return []

    # ----------------------------------------------------------------------------------------- helpers

    def _plan(self, wait: float) -> float:
        self._planned_wait = wait
        return wait

    def _remember(self, slot: Slot, values: tuple[float, ...]) -> None:
        self._delivered[slot.label] = values
        while len(self._delivered) > self.policy.keep_bars:
            self._delivered.popitem(last=False)
        self._last = slot

    def _status(self, status: str, reason: str) -> StatusChange:
        self.status = status
        logger.info("%s feed %s: %s", self.source.symbol, status, reason)
        return StatusChange(status, reason)

    def _notice(self, events: list[Event], kind: str, key: object, text: str) -> None:
        if (kind, key) in self._reported:
            return
        self._reported[(kind, key)] = None
        while len(self._reported) > 4 * self.policy.keep_bars:  # said once per bar, remembered for a while
            self._reported.popitem(last=False)
        events.append(self._log(Notice(kind, text)))

    def _log(self, notice: Notice) -> Notice:
        logger.warning("%s feed: %s", self.source.symbol, notice.text)
        return notice
