"""Paper-trading latency: from a bar's arrival in the bar loop to its order's submission (or, on a bar that holds,
to its journalled decision), with the default models on this CPU.

A whole ``PaperSession`` runs over the bundled NVDA daily bars: the last ``--bars`` bars arrive one by one from an
in-memory source on an accelerated clock (``--seconds-per-bar`` of wall time per trading day: 3 s by default, so
bars do not queue up and a day's news work, about 1.3 s of CPU with the default sentiment model, fits between two
bars as it does in real time), everything before them is the warm-up history. The GM model is the default preset's ensemble, trained once on
that history (the time is reported) and then asked ``predict_one`` per bar; background retraining at the schedule's
boundaries stays on unless ``--no-retrain``, as in a default session (the GM versions go to a temporary store).
News (unless ``--news 0``): a temporary archive holds ``--news`` headlines about NVDA over the 300 days before the
first live bar (already scored and embedded, as a running session's news thread would have left them), and
``--news-per-bar`` more arrive during each live trading day, a third of them re-published by a second source half an
hour later (one story, two items). A feeder thread plays the news collection thread: it stores items and then runs
the session's ``NewsPreparer`` (scoring and embedding them), as the real thread does after each collection. In real
time that work takes well under a second per poll and is done hours before the bar's cutoff; on the accelerated
clock a trading day lasts ``--seconds-per-bar`` of wall time, so the feeder works one session day ahead (the archive
hides an item from the bar loop until it is visible, so storing it early changes no signal). ``--no-prepare``
leaves all of that work to the bar loop instead (the worst case: no news thread, or one that fell behind). Headlines come
from ``ml/sentiment/data/headlines_train.csv``. The sentiment model is the one stored in ``models_saved/LLM`` under
the configured name if there is one, else one trained now with ``bt-train sentiment``'s defaults (``--fallback-
sentiment``: the n-gram fallback, faster to train); the table says which.

A model that found no skill on its validation data has no opinion (P(up) exactly 0.5 on every bar), so the hybrid
strategy would never order and there would be no submission to time. Unless ``--as-trained``, such a model's P(up)
is replaced after its full forecast by a fixed map of its own forecast mean (0.8 when it forecasts a rise, 0.2
otherwise): the bar costs the same, and orders flow. The table says whether that happened.

    python bench/paper_latency.py [--bars 120] [--seconds-per-bar 3.0] [--no-retrain] [--as-trained] [--news 2000]
        [--news-per-bar 10] [--fallback-sentiment] [--no-prepare] [--no-append]
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from backtests.paper.models import Forecaster, GMForecaster, gm_trainer  # noqa: E402
from backtests.paper.sentiment import NewsPreparer  # noqa: E402
from backtests.paper.session import PaperSession, SessionSettings  # noqa: E402
from backtests.presets.config import load_config  # noqa: E402
from backtests.run.runner import load_frames  # noqa: E402
from bench.common import markdown_table, report, set_threads  # noqa: E402
from feeds.live.clock import ScaledClock  # noqa: E402
from feeds.live.poller import PollPolicy  # noqa: E402
from feeds.live.sessions import ExchangeSessions  # noqa: E402
from feeds.news.archive import NewsArchive  # noqa: E402
from feeds.news.items import NewsItem  # noqa: E402
from feeds.validate import PRICE_COLUMNS  # noqa: E402
from ground.errors import SourceUnavailableError  # noqa: E402
from ground.signals import GM_MU, GM_PROB  # noqa: E402
from ml.sentiment.train import TrainConfig, fallback_config, train_and_save  # noqa: E402
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
    """The session's checkpoint hook: the time from the bar's arrival to its decision and to its submission, and
    whether background work (a GM training, a news preparation) ran during the bar."""

    def __init__(self) -> None:
        self.session: PaperSession | None = None
        self.feeder: NewsFeeder | None = None
        self.decided: list[float] = []
        self.submitted: list[float] = []
        self.per_bar: list[float] = []
        self.busy: list[bool] = []
        self._bar_of_last: float = -1.0

    def __call__(self, point: str) -> None:
        assert self.session is not None and self.session.data is not None
        arrived = self.session.data.arrived
        now = time.perf_counter()
        elapsed = now - arrived
        if point == "decision":
            self.decided.append(elapsed)
            self.per_bar.append(elapsed)
            self.busy.append(self._busy(arrived, now))
            self._bar_of_last = arrived
        elif point == "submitted" and arrived == self._bar_of_last:
            self.submitted.append(elapsed)
            self.per_bar[-1] = elapsed  # a bar that orders ends at its submission
            self.busy[-1] = self.busy[-1] or self._busy(arrived, now)

    def _busy(self, start: float, end: float) -> bool:
        assert self.session is not None
        retrainer = self.session.retrainer
        training = retrainer is not None and retrainer.state().running_since is not None
        return training or (self.feeder is not None and self.feeder.overlaps(start, end))


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


HEADLINES = ROOT / "ml" / "sentiment" / "data" / "headlines_train.csv"


def news_items(first_live: pd.Timestamp, live_days: pd.DatetimeIndex, history_count: int, per_bar: int,
               seed: int = 0) -> tuple[list[NewsItem], list[NewsItem]]:
    """Archived headlines before ``first_live``, and the ones that arrive during each live trading day."""
    table = pd.read_csv(HEADLINES)
    heads = list(zip(table["text"].astype(str), table["lang"].astype(str)))
    rng = np.random.default_rng(seed)
    count = 0

    def item(published: pd.Timestamp, source: str, head: tuple[str, str], delay_min: float) -> NewsItem:
        nonlocal count
        count += 1
        published = published.floor("s")
        return NewsItem(id=f"{source}-{count}", published=published.to_pydatetime(), title=head[0], summary="",
                        source=source, link=f"https://news.example/{source}/{count}", lang=head[1],
                        symbols=("NVDA",), fetched_at=(published + pd.Timedelta(minutes=delay_min)).floor("s").to_pydatetime())

    def pick() -> tuple[str, str]:
        return heads[int(rng.integers(len(heads)))]

    start = first_live.tz_localize("America/New_York").tz_convert("UTC")
    history = [item(start - pd.Timedelta(minutes=float(rng.uniform(60, 300 * 24 * 60))), "wire", pick(), 0.0)
               for _ in range(history_count)]
    live: list[NewsItem] = []
    for day in live_days:
        opening = pd.Timestamp(f"{day.date()} 09:30", tz="America/New_York").tz_convert("UTC")
        for _ in range(per_bar):
            at, head = opening + pd.Timedelta(minutes=float(rng.uniform(0, 360))), pick()
            live.append(item(at, "wire", head, 2.0))
            if rng.random() < 1 / 3:
                live.append(item(at + pd.Timedelta(minutes=30), "mirror", head, 2.0))
    return history, live


class NewsFeeder:
    """The news thread's part: stores live items as the clock passes their fetch times, then prepares them."""

    def __init__(self, path: Path, items: list[NewsItem], clock: ScaledClock, prepare: NewsPreparer | None,
                 every_s: float = 900.0, lead: pd.Timedelta = pd.Timedelta(days=1)) -> None:
        self.path, self.clock, self.prepare, self.every_s, self.lead = path, clock, prepare, every_s, lead
        self.items = sorted(items, key=lambda it: it.fetched_at)
        self.runs: list[tuple[float, float]] = []  # (start, end) of each preparation, perf_counter seconds
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="bench-news", daemon=True)

    def overlaps(self, start: float, end: float) -> bool:
        """Whether a preparation ran during [start, end] (the last few runs are enough: bars come in order)."""
        return any(a <= end and b >= start for a, b in self.runs[-50:])

    def _run(self) -> None:
        i = 0
        with NewsArchive(self.path) as archive:
            while not self.stop.is_set():
                ahead = pd.Timestamp(self.clock.now()) + self.lead
                due = []
                while i < len(self.items) and self.items[i].fetched_at <= ahead:
                    due.append(self.items[i])
                    i += 1
                if due:
                    archive.add(due)
                    if self.prepare is not None:
                        started = time.perf_counter()
                        self.runs.append((started, float("inf")))
                        self.prepare.prepare()
                        self.runs[-1] = (started, time.perf_counter())
                if self.clock.wait(self.every_s, self.stop):
                    break


def sentiment_model(cfg, store_root: Path, fallback: bool) -> str:  # noqa: ANN001 - a RunConfig
    """Put the sentiment model into the session's store: the stored default if there is one, else train one."""
    stored = ROOT / "models_saved" / "LLM" / cfg.sentiment.model
    if stored.is_dir() and any(stored.iterdir()):
        shutil.copytree(stored, store_root / "LLM" / cfg.sentiment.model)
        return f"the stored model models_saved/LLM/{cfg.sentiment.model}"
    started = time.perf_counter()
    config = fallback_config() if fallback else TrainConfig()
    version, _ = train_and_save(None, config, store_root, cfg.sentiment.model)
    kind = "the n-gram fallback" if fallback else "bt-train sentiment's default routing"
    return f"{version.ref} ({kind}), trained now on the project's headlines in {time.perf_counter() - started:.0f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=120)
    parser.add_argument("--seconds-per-bar", type=float, default=3.0)
    parser.add_argument("--no-retrain", action="store_true")
    parser.add_argument("--as-trained", action="store_true", help="keep a model without opinion as it is")
    parser.add_argument("--news", type=int, default=2000, help="archived headlines before the first live bar")
    parser.add_argument("--news-per-bar", type=int, default=10)
    parser.add_argument("--fallback-sentiment", action="store_true")
    parser.add_argument("--no-prepare", action="store_true", help="no news thread work: the bar loop does it all")
    parser.add_argument("--no-append", action="store_true")
    args = parser.parse_args()
    set_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "news.sqlite"
        cfg = load_config("default", {"run.strategy": "hybrid", "run.data": "bundled", "run.start": "",
                                      "run.models_dir": f"{tmp}/models", "sentiment.archive": str(archive)})
        frame = load_frames(cfg, warmup_bars=None)["NVDA"].frame
        history, live = frame.iloc[: -args.bars], frame.iloc[-args.bars:]
        started = time.perf_counter()
        trained = gm_trainer(cfg, "NVDA")
        trainer = trained if args.as_trained else (lambda frame: Opinionated(trained(frame)))
        forecaster = trainer(history)
        train_s = time.perf_counter() - started
        forced = isinstance(forecaster, Opinionated) and forecaster.forced
        sessions = ExchangeSessions("XNYS", "1d")
        start = sessions.slot_of(history.index[-1]).end + pd.Timedelta(hours=1)
        speed = 86400 / args.seconds_per_bar
        feeder, sentiment = None, "no news archive, so sentiment had no opinion on any bar."
        if args.news > 0:
            model = sentiment_model(cfg, Path(tmp) / "models", args.fallback_sentiment)
            old_news, new_news = news_items(live.index[0], live.index, args.news, args.news_per_bar)
            prepare = NewsPreparer(cfg, "NVDA", ModelStore(Path(tmp) / "models"))
            with NewsArchive(archive) as store:
                store.add(old_news)
            started = time.perf_counter()
            prepare.prepare()
            sentiment = (f"{model}; {len(old_news)} archived headlines scored and embedded before the session in "
                         f"{time.perf_counter() - started:.0f} s; {len(new_news)} more arrived during the "
                         f"{len(live)} live days ({args.news_per_bar} a day plus re-publications), stored by a "
                         "feeder thread every 15 minutes of session time, a session day ahead, "
                         + ("and left for the bar loop to score and embed (--no-prepare)." if args.no_prepare else
                            "and scored and embedded there by the session's NewsPreparer."))
        clock = ScaledClock(start.to_pydatetime(), speed=speed)  # starts now: the preparation above took its time
        if args.news > 0:
            feeder = NewsFeeder(archive, new_news, clock, None if args.no_prepare else prepare)
        watch = Stopwatch()
        session = PaperSession(
            cfg, SessionSettings("NVDA", Path(tmp) / "journal.sqlite",
                                 until=(sessions.slot_of(live.index[-1]).end + pd.Timedelta(hours=2)).to_pydatetime(),
                                 qcheck_s=0.05),
            source=FrameSource("NVDA", frame, sessions.tz), history=history,
            clock=clock, forecaster=forecaster, trainer=trainer, policy=PollPolicy(clock_tolerance_s=speed), checkpoint=watch, retrain=not args.no_retrain)
        watch.session, watch.feeder = session, feeder
        if feeder is not None:
            feeder.thread.start()
        result = session.run()
        if feeder is not None:
            feeder.stop.set()
            feeder.thread.join()
        state = session.retrainer.state() if session.retrainer is not None else None

    busy = np.asarray(watch.busy, dtype=bool)
    per_bar = np.asarray(watch.per_bar)
    rows = [_row("bar arrival -> order submitted (bars that ordered)", watch.submitted),
            _row("bar arrival -> end of the bar's work (submission, else decision)", watch.per_bar),
            _row("... bars with no background work running", list(per_bar[~busy])),
            _row("... bars during a GM training or a news preparation", list(per_bar[busy]))]
    prep_s = sum(b - a for a, b in feeder.runs if b != float("inf")) if feeder is not None else 0.0
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
        (f"Background work on the accelerated clock: news preparation {prep_s:.0f} s of wall time in "
         f"{len(feeder.runs)} runs (in real time about {prep_s / len(live):.1f} s per 6.5-hour trading day); "
         if feeder is not None else "Background work on the accelerated clock: ")
        + (f"GM training {state.last_seconds:.0f} s per fold (once per {cfg.walkforward.retrain_every} bars). "
           if state is not None and state.trained else "no GM training. ")
        + "Compressed into one bar per "
        f"{args.seconds_per_bar:g} s, they overlap {int(busy.sum())} of {len(busy)} bars; in real time a daily bar "
        "overlaps them only when it arrives during those seconds.",
        f"Each bar's sentiment: LiveSentiment (the versions visible since the last bar's cutoff, the batch's "
        "stories and aggregation).",
        "Target: 200 ms at the 95th percentile (bar arrival to order submission).",
    ])
    report("Paper trading: bar arrival to order submission", body, append=not args.no_append)


def _row(name: str, values: list[float]) -> list[object]:
    if not values:
        return [name, 0, None, None, None]
    ms = np.asarray(values) * 1000
    return [name, len(ms), float(np.percentile(ms, 50)), float(np.percentile(ms, 95)), float(ms.max())]


if __name__ == "__main__":
    main()
