"""Runs a ``BarPoller`` in a background thread and hands its events over a queue, so that the bar loop waits
on the queue with a timeout and never on the network."""
from __future__ import annotations

import logging
import queue
import threading
from collections import deque

from feeds.live.clock import Clock
from feeds.live.poller import BarPoller, Event, FeedEnd, Notice, StatusChange

logger = logging.getLogger(__name__)


class LiveFeedRunner:
    """The poller's thread. ``get(timeout)`` returns the next event or None; a ``FeedEnd`` is the last one."""

    def __init__(self, poller: BarPoller, clock: Clock, *, keep_notices: int = 200) -> None:
        self.poller = poller
        self.clock = clock
        self._events: queue.Queue[Event] = queue.Queue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.notices: deque[Notice] = deque(maxlen=keep_notices)
        self.status = ""

    def start(self) -> None:
        """Start polling (once)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"live-{self.poller.source.symbol}", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the thread to stop and wait up to ``timeout`` seconds (a fetch in flight keeps its own timeout)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def get(self, timeout: float) -> Event | None:
        """The next event, waiting at most ``timeout`` seconds; None when nothing came."""
        try:
            event = self._events.get(timeout=max(0.0, timeout)) if timeout > 0 else self._events.get_nowait()
        except queue.Empty:
            return None
        if isinstance(event, StatusChange):
            self.status = event.status
        elif isinstance(event, Notice):
            self.notices.append(event)
        return event

    def pending(self) -> int:
        """Events waiting in the queue."""
        return self._events.qsize()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                events, wait = self.poller.poll(self.clock.now())
                for event in events:
                    self._events.put(event)
                if any(isinstance(e, FeedEnd) for e in events):
                    return
                if self.clock.wait(wait, self._stop):
                    break
            self._events.put(FeedEnd("stop requested"))
        except Exception as exc:  # a bug must end the feed visibly, never leave the bar loop waiting forever
            logger.exception("live feed for %s failed", self.poller.source.symbol)
            self._events.put(FeedEnd(f"live feed failed: {type(exc).__name__}: {exc}", error=True))
