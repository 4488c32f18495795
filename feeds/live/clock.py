"""Clocks the live feed and the news poller run on: the wall clock, or a scaled one for replays and tests.

Every wait goes through ``Clock.wait`` on a ``threading.Event``, so a stop request ends any wait at once and no
loop ever spins. A scaled clock runs ``speed`` times faster than real time from a chosen start, which is how a
recorded session is replayed bar by bar in seconds.
"""
from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Protocol


class Clock(Protocol):
    """What the pollers need from time: the current UTC time and an interruptible wait."""

    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""

    def wait(self, seconds: float, stop: threading.Event) -> bool:
        """Wait ``seconds`` of this clock's time or until ``stop`` is set; True when stopped."""


class WallClock:
    """Real time."""

    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    def wait(self, seconds: float, stop: threading.Event) -> bool:
        return stop.wait(max(0.0, seconds))


class ScaledClock:
    """Time that starts at ``start`` and runs ``speed`` times faster than the wall clock.

    ``jump(delta)`` moves it by ``delta`` at once (forward or back), as a corrected system clock would.
    """

    def __init__(self, start: datetime, speed: float = 1.0) -> None:
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        if speed <= 0:
            raise ValueError("speed must be positive")
        self._start = start.astimezone(timezone.utc)
        self._speed = speed
        self._t0 = time.monotonic()
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            elapsed = (time.monotonic() - self._t0) * self._speed
            return self._start + timedelta(seconds=elapsed)

    def wait(self, seconds: float, stop: threading.Event) -> bool:
        return stop.wait(max(0.0, seconds) / self._speed)

    def jump(self, delta: timedelta) -> None:
        """Shift the clock by ``delta`` from now on."""
        with self._lock:
            self._start += delta
