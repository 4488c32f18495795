"""Paper-trading latency: from a bar's arrival in the bar loop to its order's submission (or, on a bar that holds,
to its journalled decision), with the default models on this CPU.

A whole ``PaperSession`` runs over the bundled NVDA daily bars: the last ``--bars`` bars arrive one by one from an
in-memory source on an accelerated clock (``--seconds-per-bar`` of wall time per trading day, so bars do not queue
up), everything before them is the warm-up history. The GM model is the default preset's ensemble, trained once on
that history (the time is reported) and then asked ``predict_one`` per bar; background retraining at the schedule's
boundaries stays on unless ``--no-retrain``, as in a default session (the GM versions go to a temporary store).
Sentiment uses the configured sentiment model in ``models_saved/LLM`` when one is stored and the news archive exists;
otherwise the table says that sentiment had no opinion.

A model that found no skill on its validation data has no opinion (P(up) exactly 0.5 on every bar), so the hybrid
strategy would never order and there would be no submission to time. Unless ``--as-trained``, such a model's P(up)
is replaced after its full forecast by a fixed map of its own forecast mean (0.8 when it forecasts a rise, 0.2
otherwise): the bar costs the same, and orders flow. The table says whether that happened.

    python bench/paper_latency.py [--bars 120] [--seconds-per-bar 1.0] [--no-retrain] [--as-trained] [--no-append]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from backtests.paper.models import Forecaster, GMForecaster, gm_trainer  # noqa: E402
from backtests.paper.session import PaperSession, SessionSettings  # noqa: E402
from backtests.presets.config import load_config  # noqa: E402
from backtests.run.runner import load_frames  # noqa: E402
from backtests.signals.news import archive_path, sentiment_signals  # noqa: E402
from bench.common import markdown_table, report, set_threads  # noqa: E402
from feeds.live.clock import ScaledClock  # noqa: E402
from feeds.live.poller import PollPolicy  # noqa: E402
from feeds.live.sessions import ExchangeSessions  # noqa: E402
from feeds.validate import PRICE_COLUMNS  # noqa: E402
from ground.errors import SourceUnavailableError  # noqa: E402
from ground.signals import GM_MU, GM_PROB  # noqa: E402
from ml.errors import ModelError  # noqa: E402
from ml.store import ModelStore  # noqa: E402


class FrameSource:
    """The bars of a daily frame, stamped as Yahoo stamps them (the session's local midnight, in UTC)."""

    name = "bundled"

    def __init__(self, symbol: str, frame: pd.DataFrame, tz: str) -> None:
        self.symbol = symbol
        self.frame = frame.set_axis(frame.index.tz_localize(tz).tz_convert("UTC"))

    def fetch(self, start: datetime, end: datetime) -> pd.DataFrame:
        part = self.frame[(self.frame.index >= pd.Timestamp(start)) & (self.frame.index < pd.Timestamp(end))]
        if part.empty:
            raise SourceUnavailableError(f"{self.symbol}: no bars in the window", where="bench")
        return part[list(PRICE_COLUMNS)]


class Stopwatch:
    """The session's checkpoint hook: the time from the bar's arrival to its decision and to its submission."""

    def __init__(self) -> None:
        self.session: PaperSession | None = None
        self.decided: list[float] = []
        self.submitted: list[float] = []
        self.per_bar: list[float] = []
        self._bar_of_last: float = -1.0

    def __call__(self, point: str) -> None:
        assert self.session is not None and self.session.data is not None
        arrived = self.session.data.arrived
        elapsed = time.perf_counter() - arrived
        if point == "decision":
            self.decided.append(elapsed)
            self.per_bar.append(elapsed)
            self._bar_of_last = arrived
        elif point == "submitted" and arrived == self._bar_of_last:
            self.submitted.append(elapsed)
            self.per_bar[-1] = elapsed  # a bar that orders ends at its submission


@dataclass(frozen=True)
class Opinionated:
    """A forecaster whose P(up) follows the sign of its forecast mean when its calibrator has no opinion."""

    inner: Forecaster

    @property
    def version(self) -> str:
        return self.inner.version

    @property
    def valid_from(self) -> pd.Timestamp | None:
        return self.inner.valid_from

    @property
    def forced(self) -> bool:
        return isinstance(self.inner, GMForecaster) and not self.inner.predictor.ensemble.calibrator.has_opinion

    def predict_one(self, frame: pd.DataFrame) -> dict[str, float | pd.Timestamp]:
        out = self.inner.predict_one(frame)
        if self.forced:
            out[GM_PROB] = 0.8 if float(out[GM_MU]) > 0 else 0.2
        return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=120)
    parser.add_argument("--seconds-per-bar", type=float, default=1.0)
    parser.add_argument("--no-retrain", action="store_true")
    parser.add_argument("--as-trained", action="store_true", help="keep a model without opinion as it is")
    parser.add_argument("--no-append", action="store_true")
    args = parser.parse_args()
    set_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        cfg = load_config("default", {"run.strategy": "hybrid", "run.data": "bundled", "run.start": "",
                                      "run.models_dir": f"{tmp}/models"})
        frame = load_frames(cfg, warmup_bars=None)["NVDA"].frame
        history, live = frame.iloc[: -args.bars], frame.iloc[-args.bars:]
        started = time.perf_counter()
        trained = gm_trainer(cfg, "NVDA")
        trainer = trained if args.as_trained else (lambda frame: Opinionated(trained(frame)))
        forecaster = trainer(history)
        train_s = time.perf_counter() - started
        forced = isinstance(forecaster, Opinionated) and forecaster.forced
        default_store = ModelStore(ROOT / "models_saved")
        sentiment = _sentiment_note(cfg, default_store)
        sessions = ExchangeSessions("XNYS", "1d")
        start = sessions.slot_of(history.index[-1]).end + pd.Timedelta(hours=1)
        speed = 86400 / args.seconds_per_bar
        watch = Stopwatch()
        session = PaperSession(
            cfg, SessionSettings("NVDA", Path(tmp) / "journal.sqlite",
                                 until=(sessions.slot_of(live.index[-1]).end + pd.Timedelta(hours=2)).to_pydatetime(),
                                 qcheck_s=0.05),
            source=FrameSource("NVDA", frame, sessions.tz), history=history,
            clock=ScaledClock(start.to_pydatetime(), speed=speed), forecaster=forecaster, trainer=trainer,
            sentiment=lambda c, symbol, bars, _store: sentiment_signals(c, symbol, bars, default_store),
            policy=PollPolicy(clock_tolerance_s=speed), checkpoint=watch, retrain=not args.no_retrain)
        watch.session = session
        result = session.run()
        state = session.retrainer.state() if session.retrainer is not None else None

    rows = [_row("bar arrival -> order submitted (bars that ordered)", watch.submitted),
            _row("bar arrival -> decision journalled (every bar)", watch.decided),
            _row("bar arrival -> end of the bar's work (submission, else decision)", watch.per_bar)]
    body = "\n".join([
        markdown_table(["measure", "bars", "p50 ms", "p95 ms", "max ms"], rows),
        "",
        f"Session: {result.decisions} decisions over {args.bars} bundled NVDA daily bars "
        f"({live.index[0].date()}..{live.index[-1].date()}), one bar per {args.seconds_per_bar:g} s of wall time; "
        f"ended: {result.reason}.",
        f"GM: the default preset's ensemble ({', '.join(cfg.gm.members)}, size {cfg.gm.size}), trained once on "
        f"{len(history)} bars in {train_s:.1f} s, then predict_one per bar; background retraining "
        + (f"started {state.started} time(s) during the run (a cold fold: about {train_s:.0f} s, competing for the "
           f"cores with the bar loop from then on), {state.trained} finished by the end" if state else "off") + ".",
        ("The trained model had no opinion (no skill on its validation data); its P(up) was replaced by 0.8/0.2 "
         "from the sign of its forecast mean after each full forecast, so that orders flow." if forced else
         "The trained model's own P(up) drove the decisions."),
        f"Sentiment: {sentiment}",
        "Target: 200 ms at the 95th percentile (bar arrival to order submission).",
    ])
    report("Paper trading: bar arrival to order submission", body, append=not args.no_append)


def _row(name: str, values: list[float]) -> list[object]:
    if not values:
        return [name, 0, None, None, None]
    ms = np.asarray(values) * 1000
    return [name, len(ms), float(np.percentile(ms, 50)), float(np.percentile(ms, 95)), float(ms.max())]


def _sentiment_note(cfg, store: ModelStore) -> str:  # noqa: ANN001 - a RunConfig
    try:
        version = store.resolve("LLM", cfg.sentiment.model, cfg.sentiment.version)
    except ModelError:
        return (f"no sentiment model '{cfg.sentiment.model}' is stored in models_saved/LLM, so sentiment "
                "had no opinion on any bar (the archive lookup still ran per bar); the figures exclude scoring.")
    if not archive_path(cfg).is_file():
        return f"model {version.name} stored, but no news archive at {archive_path(cfg)}: no opinion on any bar."
    return f"model {version.name} scored the archive's items for each bar."


if __name__ == "__main__":
    main()
