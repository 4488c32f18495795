"""Progress of long work on stderr: a tqdm bar (count, elapsed time, ETA) on a terminal, plain lines otherwise.

``Progress`` is also a walk-forward ``ProgressFn`` (``ml.gm.runner``: ``(folds done, folds in total, summary)``),
so the CLI can hand it to the runner without the ml layer knowing how progress is shown.
"""
from __future__ import annotations

import logging
import re
import sys
import time
from typing import Any, TextIO


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 else \
        f"{seconds // 60}:{seconds % 60:02d}"


class Progress:
    """A progress display for ``total`` steps of ``what`` (folds, files, batches)."""

    def __init__(self, what: str, total: int | None = None, unit: str = "step", stream: TextIO | None = None,
                 bar: bool | None = None) -> None:
        self.what, self.total, self.unit = what, total, unit
        self.stream = stream or sys.stderr
        self.done = 0
        self.started = time.monotonic()
        use_bar = self.stream.isatty() if bar is None else bar
        self._bar: Any = None
        if use_bar:
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=what, unit=unit, file=self.stream, dynamic_ncols=True, leave=True)

    def __call__(self, done: int, total: int, summary: str = "") -> None:
        """The walk-forward callback: ``done`` of ``total`` finished, ``summary`` describing the last one."""
        self.total = total
        self.update(done, summary)

    def step(self, detail: str = "") -> None:
        self.update(self.done + 1, detail)

    def update(self, done: int, detail: str = "") -> None:
        if self._bar is not None:
            if self.total is not None and self._bar.total != self.total:
                self._bar.total = self.total
            self._bar.update(done - self.done)
            if detail:
                self._bar.set_postfix_str(detail[:60], refresh=True)
            self.done = done
            return
        self.done = done
        self.stream.write(self.line(detail) + "\n")
        self.stream.flush()

    def line(self, detail: str = "") -> str:
        """The plain form: ``what 3/10 (30%) elapsed 0:42 eta 1:38: detail``."""
        elapsed = time.monotonic() - self.started
        if self.total:
            eta = elapsed / self.done * (self.total - self.done) if self.done else float("nan")
            head = f"{self.what} {self.done}/{self.total} ({self.done / self.total:.0%}) elapsed {_clock(elapsed)}"
            head += f" eta {_clock(eta)}" if eta == eta else ""
        else:
            head = f"{self.what} {self.done} {self.unit}(s) elapsed {_clock(elapsed)}"
        return f"{head}: {detail}" if detail else head

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


class LogProgress(logging.Handler):
    """Progress driven by a library's INFO log lines, for steps that offer no callback.

    While active, the INFO lines of ``logger_name`` feed the display instead of printing: a line matching
    ``pattern`` (``fold 3/10``) sets the count and total, any other line is a step. A line matching ``restart``
    begins a new bar, labelled by the last ``phase`` line seen on the ``phase_logger`` (those lines still print):
    the leakage audit's re-run of a fold then shows as "leakage audit", not as a restart of training.
    Warnings and errors always print.
    """

    def __init__(self, logger_name: str, what: str, unit: str = "step", *,
                 pattern: str = r"\bfold (\d+)/(\d+)", restart: str = r"$^",
                 phase_logger: str | None = None, phases: dict[str, str] | None = None,
                 stream: TextIO | None = None, bar: bool | None = None) -> None:
        super().__init__(logging.INFO)
        self.loggers = [logging.getLogger(logger_name)]
        self.phase_logger = logging.getLogger(phase_logger) if phase_logger else None
        self.pattern, self.restart = re.compile(pattern), re.compile(restart)
        self.phases = {re.compile(k): v for k, v in (phases or {}).items()}
        self.what, self.unit, self.stream, self.bar = what, unit, stream, bar
        self.label = what
        self.progress: Progress | None = None
        self._propagate = [lg.propagate for lg in self.loggers]

    def _current(self) -> Progress:
        if self.progress is None:
            self.progress = Progress(self.label, None, self.unit, self.stream, self.bar)
        return self.progress

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage().splitlines()[0]
        if self.phase_logger is not None and record.name == self.phase_logger.name:
            for pattern, label in self.phases.items():
                if pattern.search(message):
                    self.label = label
            return  # phase lines print through the usual handlers
        if record.levelno >= logging.WARNING:
            for handler in logging.getLogger().handlers:
                if record.levelno >= handler.level:
                    handler.handle(record)
            return
        if self.restart.search(message):
            if self.progress is not None:
                self.progress.close()
            self.progress = Progress(self.label, None, self.unit, self.stream, self.bar)
            return
        progress = self._current()
        match = self.pattern.search(message)
        if match:
            progress(int(match[1]), int(match[2]), message)
        elif progress.total is None:
            progress.step(message)
        else:
            progress.update(progress.done, message)

    def __enter__(self) -> LogProgress:
        for lg in self.loggers:
            lg.addHandler(self)
            lg.propagate = False
        if self.phase_logger is not None:
            self.phase_logger.addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        for lg, propagate in zip(self.loggers, self._propagate):
            lg.removeHandler(self)
            lg.propagate = propagate
        if self.phase_logger is not None:
            self.phase_logger.removeHandler(self)
        if self.progress is not None:
            self.progress.close()
