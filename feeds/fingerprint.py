"""Content fingerprints of price frames, so runs and model versions record exactly which data they saw."""
from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd


def fingerprint_frame(frame: pd.DataFrame) -> str:
    """sha256 over the dates, column names and values of a frame (independent of memory layout)."""
    h = hashlib.sha256()
    h.update(",".join(map(str, frame.columns)).encode("utf-8"))
    h.update(np.ascontiguousarray(frame.index.asi8 if isinstance(frame.index, pd.DatetimeIndex) else frame.index.to_numpy()).tobytes())
    h.update(np.ascontiguousarray(frame.to_numpy(dtype=float)).tobytes())
    return h.hexdigest()
