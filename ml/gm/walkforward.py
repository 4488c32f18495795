"""The walk-forward schedule: which rows each fold trains, validates and tests on.

Rows are *decision rows* ``t`` of a feature index: a window decided at ``t`` reads inputs ``[t - L + 1, t]`` and
its label reads rows ``[t + 1, t + H]``. The schedule purges label overlap and adds an embargo on top of it:

- every training label ends before the first validation row minus the embargo
  (``train.stop - 1 + H < val.start - embargo``), so early stopping and calibration never score on data the
  weights were fitted to;
- every validation label ends before the first test row minus the embargo
  (``val.stop - 1 + H < test.start - embargo``), so nothing the fold's model saw is newer than
  ``test.start - embargo``;
- the test windows tile ``[test_start, test_end]`` with no gap and no overlap, one retrain every
  ``retrain_every`` bars.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass

import pandas as pd

from ml.errors import ModelError

SCHEMES = ("expanding", "rolling")


@dataclass(frozen=True)
class WalkForwardConfig:
    """Walk-forward settings, validated on construction.

    ``train_bars`` is the rolling window length (rolling scheme only); ``max_train_bars`` caps an expanding
    window, which then slides once it is that long (None: no cap; the default bounds the cost per fold on a 2-core
    CPU, while warm starts still carry older history forward); ``min_train_bars`` is the fewest training windows a
    fold may have; ``val_bars`` the validation tail used for early stopping and calibration.
    """

    scheme: str = "expanding"
    retrain_every: int = 63
    embargo: int = 5
    val_bars: int = 126
    min_train_bars: int = 504
    train_bars: int = 1260
    max_train_bars: int | None = 2048
    sequence_length: int = 60
    horizon: int = 5
    warm_start: bool = True

    def __post_init__(self) -> None:
        where = "walkforward config"
        if self.scheme not in SCHEMES:
            close = difflib.get_close_matches(str(self.scheme), SCHEMES, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"choose one of {', '.join(SCHEMES)}"
            raise ModelError(f"unknown walk-forward scheme '{self.scheme}'", where=where, fix=hint)
        for name in ("retrain_every", "val_bars", "min_train_bars", "train_bars", "sequence_length", "horizon"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ModelError(f"{name} must be a positive integer, got {value!r}", where=where)
        if not isinstance(self.embargo, int) or self.embargo < self.horizon:
            raise ModelError(
                f"embargo ({self.embargo}) must be an integer >= horizon ({self.horizon})",
                where=where,
                fix=f"set embargo to at least {self.horizon} bars",
            )
        if self.val_bars < 20:
            raise ModelError(
                f"val_bars ({self.val_bars}) is too small for early stopping and calibration",
                where=where,
                fix="use at least 20 validation bars",
            )
        if self.max_train_bars is not None and (
            isinstance(self.max_train_bars, bool)
            or not isinstance(self.max_train_bars, int)
            or self.max_train_bars < self.min_train_bars
        ):
            raise ModelError(
                f"max_train_bars ({self.max_train_bars!r}) must be None or an integer >= min_train_bars "
                f"({self.min_train_bars})",
                where=where,
            )
        if self.scheme == "rolling" and self.train_bars < self.min_train_bars:
            raise ModelError(
                f"rolling train_bars ({self.train_bars}) is below min_train_bars ({self.min_train_bars})",
                where=where,
                fix="raise train_bars or lower min_train_bars",
            )

    @property
    def gap(self) -> int:
        """Rows between the last decision row of one block and the first of the next: label reach + embargo."""
        return self.horizon + self.embargo


@dataclass(frozen=True)
class Fold:
    """One retraining: decision-row ranges into the feature index, and their dates (inclusive ends)."""

    fold_id: int
    train: range
    val: range
    test: range
    train_dates: tuple[pd.Timestamp, pd.Timestamp]
    val_dates: tuple[pd.Timestamp, pd.Timestamp]
    test_dates: tuple[pd.Timestamp, pd.Timestamp]

    def fit_rows(self, sequence_length: int, horizon: int) -> range:
        """Feature rows read by the training windows (inputs and labels): the only rows a scaler may see."""
        return range(self.train.start - sequence_length + 1, self.train.stop + horizon)

    def last_seen_row(self, horizon: int) -> int:
        """The newest row any part of this fold's fitting (training or validation labels) reads."""
        return self.val.stop - 1 + horizon


def _ts(index: pd.DatetimeIndex, row: int) -> pd.Timestamp:
    return pd.Timestamp(index[row])


def history_needed(cfg: WalkForwardConfig) -> int:
    """Rows the feature index must hold before the first test row."""
    return (cfg.sequence_length - 1) + cfg.min_train_bars + cfg.gap + cfg.val_bars + cfg.gap


def make_folds(
    index: pd.DatetimeIndex,
    test_start: str | pd.Timestamp,
    test_end: str | pd.Timestamp | None,
    cfg: WalkForwardConfig,
    *,
    warmup: int = 0,
) -> list[Fold]:
    """The folds whose test windows tile ``[test_start, test_end]`` (inclusive dates; ``None``: to the end).

    ``warmup`` is only added to the bar counts in error messages, so they speak of price bars when ``index``
    is a feature index that starts ``warmup`` bars into the price history.
    """
    start_ts = pd.Timestamp(test_start)
    end_ts = pd.Timestamp(index[-1]) if test_end is None else pd.Timestamp(test_end)
    if end_ts < start_ts:
        raise ModelError(f"test end {end_ts.date()} is before test start {start_ts.date()}", fix="swap the dates")
    s0 = int(index.searchsorted(start_ts, side="left"))
    stop = int(index.searchsorted(end_ts, side="right"))
    if s0 >= stop:
        raise ModelError(
            f"no bars between {start_ts.date()} and {end_ts.date()}",
            where=f"data from {index[0].date()} to {index[-1].date()}" if len(index) else "empty data",
            fix="choose a test period inside the data",
        )
    need = history_needed(cfg)
    if s0 < need:
        raise ModelError(
            f"too little history before {pd.Timestamp(index[s0]).date()}: {s0 + warmup} bars exist, "
            f"the walk-forward schedule needs {need + warmup} "
            f"(sequence_length {cfg.sequence_length}, min_train_bars {cfg.min_train_bars}, val_bars {cfg.val_bars}, "
            f"2 x (horizon {cfg.horizon} + embargo {cfg.embargo})"
            + (f", feature warm-up {warmup}" if warmup else "")
            + ")",
            fix="start the test later, load more history, or lower min_train_bars / val_bars / sequence_length",
        )
    folds: list[Fold] = []
    for k, t0 in enumerate(range(s0, stop, cfg.retrain_every)):
        test = range(t0, min(t0 + cfg.retrain_every, stop))
        val = range(t0 - cfg.gap - cfg.val_bars, t0 - cfg.gap)
        train_stop = val.start - cfg.gap
        length = cfg.train_bars if cfg.scheme == "rolling" else cfg.max_train_bars
        train_start = cfg.sequence_length - 1
        if length is not None:
            train_start = max(train_start, train_stop - length)
        train = range(train_start, train_stop)
        folds.append(
            Fold(
                fold_id=k,
                train=train,
                val=val,
                test=test,
                train_dates=(_ts(index, train.start), _ts(index, train.stop - 1)),
                val_dates=(_ts(index, val.start), _ts(index, val.stop - 1)),
                test_dates=(_ts(index, test.start), _ts(index, test.stop - 1)),
            )
        )
    return folds


def _span(dates: tuple[pd.Timestamp, pd.Timestamp]) -> str:
    return f"{dates[0].date()} .. {dates[1].date()}"


def format_folds(folds: list[Fold]) -> str:
    """A plain-text table of the schedule, printed before training starts."""
    head = f"{'fold':>4}  {'train':<23} {'n':>5}  {'validation':<23} {'n':>4}  {'test':<23} {'n':>3}"
    lines = [head, "-" * len(head)]
    for f in folds:
        lines.append(
            f"{f.fold_id:>4}  {_span(f.train_dates):<23} {len(f.train):>5}  {_span(f.val_dates):<23} {len(f.val):>4}  "
            f"{_span(f.test_dates):<23} {len(f.test):>3}"
        )
    return "\n".join(lines)
