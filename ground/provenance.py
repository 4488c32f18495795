"""Provenance: content fingerprints of price frames and installed library versions, so runs and model versions
record exactly which data and code produced them."""
from __future__ import annotations

import hashlib
import platform
from collections.abc import Iterable
from importlib import metadata

import numpy as np
import pandas as pd


def fingerprint_frame(frame: pd.DataFrame) -> str:
    """sha256 over the dates, column names and values of a frame (independent of memory layout)."""
    h = hashlib.sha256()
    h.update(",".join(map(str, frame.columns)).encode("utf-8"))
    h.update(np.ascontiguousarray(frame.index.asi8 if isinstance(frame.index, pd.DatetimeIndex) else frame.index.to_numpy()).tobytes())
    h.update(np.ascontiguousarray(frame.to_numpy(dtype=float)).tobytes())
    return h.hexdigest()


def library_versions(names: Iterable[str]) -> dict[str, str]:
    """Python's version and each named distribution's installed version ("not installed" when absent)."""
    out = {"python": platform.python_version()}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out
