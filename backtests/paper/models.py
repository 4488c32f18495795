"""The paper session's forecaster: one model version in use, retrained in the background at the walk-forward
schedule's boundaries and swapped in between bars.

The bar loop only ever reads ``ModelSlot.current()`` (a reference read under a lock) and calls
``ModelSlot.swap_pending()`` at the start of a bar: a version that finished training while a bar was being handled
waits until the next bar, so one bar's decision never mixes two versions. Training runs in its own thread on a
copy of the prices up to the boundary bar; the loop never waits for it, and a failed training leaves the version in
use in place (logged, and reported by ``state()``).
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pandas as pd

from backtests.presets.config import RunConfig
from backtests.signals.producer import gm_model_name
from ml.errors import ModelError
from ml.gm.ensemble import GMEnsemble, load_ensemble
from ml.gm.predictor import GMPredictor
from ml.gm.runner import run_gm_walk_forward
from ml.store import ModelStore

logger = logging.getLogger(__name__)


class Forecaster(Protocol):
    """What the session asks of a model: its store reference, the first bar it is valid for, one bar's forecast."""

    @property
    def version(self) -> str:
        """The model store reference (``GM/<name>/<version>``), journalled with every decision."""
        ...

    @property
    def valid_from(self) -> pd.Timestamp | None:
        """The first bar of the fold this version was trained for (None: unknown, retrain at once)."""
        ...

    def predict_one(self, frame: pd.DataFrame) -> dict[str, float | pd.Timestamp]:
        """``gm_mu``, ``gm_prob``, ``gm_unc`` for the last bar of ``frame``."""
        ...


@dataclass(frozen=True)
class GMForecaster:
    """A stored GM ensemble behind the backtest's own ``GMPredictor``."""

    version: str
    valid_from: pd.Timestamp | None
    predictor: GMPredictor

    @classmethod
    def of(cls, ensemble: GMEnsemble, version: str, cpu_threads: int | None = 1) -> GMForecaster:
        valid = ensemble.info.get("valid_from")
        return cls(version, pd.Timestamp(valid) if valid else None, GMPredictor(ensemble, cpu_threads=cpu_threads))

    def predict_one(self, frame: pd.DataFrame) -> dict[str, float | pd.Timestamp]:
        return self.predictor.predict_one(frame)


Trainer = Callable[[pd.DataFrame], Forecaster]


def gm_trainer(cfg: RunConfig, symbol: str) -> Trainer:
    """Training for the next bar, as ``bt-train gm`` does: the walk-forward fold whose test window starts at the
    frame's last bar (data up to an embargo before it), stored as a version."""
    store = ModelStore(Path(cfg.run.models_dir))

    def train(frame: pd.DataFrame) -> Forecaster:
        last = frame.index[-1]
        result = run_gm_walk_forward(frame, test_start=last, test_end=last, wf=cfg.walkforward,
                                     ens=cfg.effective_gm(), store=store, model_name=gm_model_name(symbol))
        return GMForecaster.of(result.ensembles[-1], result.versions[-1], cfg.effective_gm().cpu_threads)

    return train


def stored_forecaster(cfg: RunConfig, symbol: str) -> GMForecaster | None:
    """The latest stored GM ensemble of this symbol, or None when the store has none."""
    store = ModelStore(Path(cfg.run.models_dir))
    name = gm_model_name(symbol)
    try:
        path = store.resolve("GM", name, "latest")
    except ModelError:
        return None
    return GMForecaster.of(load_ensemble(store, name, path.name), f"GM/{name}/{path.name}",
                           cfg.effective_gm().cpu_threads)


class ModelSlot:
    """The version in use and the one waiting to replace it."""

    def __init__(self, forecaster: Forecaster | None) -> None:
        self._lock = threading.Lock()
        self._current = forecaster
        self._pending: Forecaster | None = None

    def current(self) -> Forecaster | None:
        with self._lock:
            return self._current

    def offer(self, forecaster: Forecaster) -> None:
        """A newly trained version; it takes over at the next ``swap_pending``."""
        with self._lock:
            self._pending = forecaster

    def swap_pending(self) -> Forecaster | None:
        """Between bars: install the waiting version, if any; returns the one now in use."""
        with self._lock:
            if self._pending is not None:
                old = self._current.version if self._current is not None else "(none)"
                self._current, self._pending = self._pending, None
                logger.info("model %s replaces %s", self._current.version, old)
            return self._current


@dataclass(frozen=True)
class RetrainState:
    """What ``bt-paper status`` shows of the background training."""

    running_since: float | None
    started: int
    trained: int
    last_error: str
    last_seconds: float


class Retrainer:
    """Starts a training in a background thread each ``every`` bars after the version in use became valid."""

    def __init__(self, slot: ModelSlot, trainer: Trainer, every: int) -> None:
        if every < 1:
            raise ValueError("every must be >= 1")
        self.slot, self.trainer, self.every = slot, trainer, every
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._since: float | None = None
        self._started = 0
        self._trained = 0
        self._error = ""
        self._seconds = 0.0
        self._boundary: pd.Timestamp | None = None

    def due(self, frame: pd.DataFrame) -> bool:
        """True when the frame's last bar is a schedule boundary: ``every`` bars after the newest version's start."""
        model = self.slot.current()
        start = self._boundary or (model.valid_from if model is not None else None)
        if start is None:
            return True
        return int((frame.index > start).sum()) >= self.every

    def on_bar(self, frame: pd.DataFrame) -> bool:
        """Start training when a boundary is reached and no training runs; True when one was started."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return False
            if not self.due(frame):
                return False
            self._boundary = pd.Timestamp(frame.index[-1])
            self._since = time.monotonic()
            self._started += 1
            self._thread = threading.Thread(target=self._train, args=(frame.copy(),), name="paper-retrain",
                                            daemon=True)
            self._thread.start()
        logger.info("retraining for the fold that starts at %s, in the background", frame.index[-1])
        return True

    def join(self, timeout: float | None = None) -> bool:
        """Wait for a running training (tests, a clean stop); True when none runs any more."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return True

    def state(self) -> RetrainState:
        with self._lock:
            return RetrainState(self._since, self._started, self._trained, self._error, self._seconds)

    def _train(self, frame: pd.DataFrame) -> None:
        started = time.monotonic()
        try:
            forecaster = self.trainer(frame)
        except Exception as exc:  # a failed training keeps the version in use; the session goes on
            logger.exception("background retraining failed; keeping the model in use")
            with self._lock:
                self._error, self._since = f"{type(exc).__name__}: {exc}", None
            return
        self.slot.offer(forecaster)
        with self._lock:
            self._trained += 1
            self._seconds = time.monotonic() - started
            self._since = None
            self._error = ""
