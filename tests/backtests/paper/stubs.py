"""A small forecaster for session tests: the real GM ensemble takes minutes to train on this machine, this one
answers at once from the prices themselves, through the same ``Forecaster`` interface the session swaps."""
from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class MomentumForecaster:
    """``gm_prob`` from the close against its ``window``-bar mean (a logistic of the gap, scaled by ``gain``)."""

    version: str = "GM/momentum/v1"
    valid_from: pd.Timestamp | None = None
    window: int = 5
    gain: float = 40.0

    def predict_one(self, frame: pd.DataFrame) -> dict[str, float | pd.Timestamp]:
        close = frame["close"]
        gap = float(close.iloc[-1] / close.iloc[-self.window:].mean() - 1.0)
        prob = 1.0 / (1.0 + math.exp(-self.gain * gap))
        return {"date": pd.Timestamp(frame.index[-1]), "gm_mu": gap, "gm_prob": prob, "gm_unc": abs(gap)}


class GatedTrainer:
    """A trainer that waits until ``release`` is set (a training that takes as long as the test wants), then
    returns a forecaster of a new version valid from the frame's last bar."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.started = threading.Event()
        self.frames: list[pd.DataFrame] = []

    def __call__(self, frame: pd.DataFrame) -> MomentumForecaster:
        self.frames.append(frame)
        self.started.set()
        if not self.release.wait(30):
            raise TimeoutError("the test never released the training")
        return MomentumForecaster(version=f"GM/momentum/v{len(self.frames) + 1}", valid_from=frame.index[-1],
                                  gain=80.0)
