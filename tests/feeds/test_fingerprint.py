"""Provenance helpers: frame fingerprints and library versions."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ground.provenance import fingerprint_frame, library_versions


def test_fingerprint_frame() -> None:
    idx = pd.date_range("2024-01-01", periods=5, name="date")
    df = pd.DataFrame({"close": np.arange(5.0), "volume": np.arange(5) * 10}, index=idx)
    fp = fingerprint_frame(df)
    assert len(fp) == 64 and fp == fingerprint_frame(df.copy())
    changed = df.copy()
    changed.iloc[2, 0] = 2.0000001
    assert fingerprint_frame(changed) != fp
    assert fingerprint_frame(df.rename(columns={"volume": "vol"})) != fp
    assert fingerprint_frame(df.set_axis(idx + pd.Timedelta(days=1))) != fp


def test_library_versions_name_python_and_missing_packages() -> None:
    got = library_versions(["pandas", "no-such-distribution-xyz"])
    assert got["pandas"] == pd.__version__ and got["no-such-distribution-xyz"] == "not installed" and "python" in got
