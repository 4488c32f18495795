"""GM signals from a trained fold ensemble, for many bars at once (backtests) or one bar at a time (paper trading).

Both paths build a bar's inputs the same way, from rows up to that bar only: the causal, window-local features of
``ml.gm.features``, scaled with the fold's training statistics, and the calendar of the business days after the bar.
So a live session that sees a bar's close produces the signal the backtest recorded for that bar.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch

from ground.signals import GM_FORECAST, GM_MU, GM_PROB, GM_UNC
from ml.device import torch_threads
from ml.errors import ModelError
from ml.gm.ensemble import GMEnsemble
from ml.gm.features import WARMUP_BARS, FeatureSet, build_features


class GMPredictor:
    """Turns feature rows into ``gm_mu`` (H-bar log return), ``gm_prob`` (P(up), calibrated) and ``gm_unc``."""

    def __init__(self, ensemble: GMEnsemble, cpu_threads: int | None = 1) -> None:
        """``cpu_threads``: torch threads while forecasting (see ``GMEnsembleConfig.cpu_threads``)."""
        self.ensemble = ensemble
        self.cpu_threads = cpu_threads

    @property
    def horizon(self) -> int:
        return self.ensemble.horizon

    def _inputs(self, features: FeatureSet, rows: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        L = self.ensemble.sequence_length
        if features.horizon != self.ensemble.horizon:
            raise ModelError(
                f"features were built for horizon {features.horizon}, the model forecasts {self.ensemble.horizon}",
                fix=f"build features with horizon={self.ensemble.horizon}",
            )
        if len(rows) and (rows.min() < L - 1 or rows.max() >= len(features)):
            bad = int(rows.min()) if rows.min() < L - 1 else int(rows.max())
            raise ModelError(
                f"feature row {bad} cannot be forecast: it needs {L} rows of features up to it "
                f"and the feature set has {len(features)}",
                fix=f"provide at least {L} bars of features (plus the warm-up) before the first bar to forecast",
            )
        lo = int(rows.min()) - L + 1 if len(rows) else 0
        hi = int(rows.max()) + 1 if len(rows) else 0
        scaled = self.ensemble.scaler.transform(features.past[lo:hi])  # only rows up to the newest bar asked for
        gather = (rows - lo)[:, None] + np.arange(-L + 1, 1)[None, :]  # [N, L] row numbers into ``scaled``
        x_past = torch.tensor(scaled[gather], dtype=torch.float32)  # [N, L, F]
        x_future = torch.tensor(features.future[rows], dtype=torch.float32)  # [N, H, K]
        return x_past, x_future

    def predict_batch(self, features: FeatureSet, rows: Sequence[int] | np.ndarray | range) -> pd.DataFrame:
        """Signals for feature rows ``rows`` (indexed by their dates)."""
        r = np.asarray(list(rows) if isinstance(rows, range) else rows, dtype=np.int64)
        index = features.index[r]
        if len(r) == 0:
            return pd.DataFrame({c: np.array([], dtype=np.float64) for c in GM_FORECAST}, index=index)
        with torch_threads(self.cpu_threads):
            fc = self.ensemble.forecast(*self._inputs(features, r))
        return pd.DataFrame({GM_MU: fc.mu, GM_PROB: fc.prob, GM_UNC: fc.unc}, index=index)

    def predict_one(self, frame: pd.DataFrame) -> dict[str, float | pd.Timestamp]:
        """The signal for the last bar of a price frame that ends at that bar (paper trading, one bar at a time).

        Only the last ``sequence_length + WARMUP_BARS`` bars are read: every feature comes from its own trailing
        window, so they give the same numbers, bit for bit, as the whole history would (and a bar costs the same
        on the first day of a session as after years of it).
        """
        tail = frame.iloc[-(self.ensemble.sequence_length + WARMUP_BARS):]
        features = build_features(tail, horizon=self.ensemble.horizon)
        row = self.predict_batch(features, [len(features) - 1])
        out: dict[str, float | pd.Timestamp] = {"date": pd.Timestamp(row.index[0])}
        out.update({c: float(row[c].iloc[0]) for c in GM_FORECAST})
        return out
