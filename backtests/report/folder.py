"""The run folder ``reports/<run-id>/``: its id, its files, and atomic writes so a crash never leaves half a file."""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from ground.errors import UserInputError

LIBRARIES = ("bt-hybrid", "backtrader", "torch", "pandas", "numpy", "transformers", "yfinance", "feedparser", "click")


def new_run_id(strategy: str, config_text: str, now: datetime | None = None) -> str:
    """``YYYYmmdd-HHMMSS-<strategy>-<hash>``: sortable by time, distinct per configuration."""
    now = now or datetime.now(timezone.utc)
    digest = hashlib.sha256(config_text.encode("utf-8")).hexdigest()[:6]
    return f"{now:%Y%m%d-%H%M%S}-{strategy}-{digest}"


def atomic_write(path: Path, data: str | bytes) -> None:
    """Write to a temporary file in the same folder, then rename over the target."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def json_default(value: Any) -> Any:
    """JSON for the values our outputs hold (dates, numpy scalars); NaN is written as null."""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _nan_to_none(obj: Any) -> Any:
    if isinstance(obj, float) and obj != obj:
        return None
    if isinstance(obj, dict):
        return {k: _nan_to_none(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_nan_to_none(v) for v in obj]
    return obj


class RunFolder:
    """Writes the files of one run; every write is atomic."""

    def __init__(self, root: Path, run_id: str) -> None:
        """Create ``root/run_id``; a run with the same id in the same second gets ``-2``, ``-3``, ... appended."""
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserInputError(f"cannot create the reports folder: {exc.strerror}", str(root)) from None
        for attempt in range(1, 1000):
            candidate = run_id if attempt == 1 else f"{run_id}-{attempt}"
            try:
                (root / candidate).mkdir()
            except FileExistsError:
                continue
            self.run_id, self.path = candidate, root / candidate
            return
        raise UserInputError(f"too many runs named {run_id}", str(root))

    def write_json(self, name: str, obj: Any) -> Path:
        target = self.path / name
        atomic_write(target, json.dumps(_nan_to_none(obj), indent=2, default=json_default, allow_nan=False))
        return target

    def write_csv(self, name: str, frame: pd.DataFrame) -> Path:
        target = self.path / name
        atomic_write(target, frame.to_csv(float_format="%.10g"))
        return target

    def write_text(self, name: str, text: str) -> Path:
        target = self.path / name
        atomic_write(target, text)
        return target


def resolve_run(ref: str, reports_dir: Path) -> Path:
    """A run folder from a run id, a unique prefix of one, or a path; a clear error otherwise."""
    path = Path(ref)
    if (path / "metrics.json").is_file():
        return path
    candidates = sorted(p for p in reports_dir.glob(f"{ref}*") if (p / "metrics.json").is_file())
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise UserInputError(f"no run '{ref}'", str(reports_dir), "give a run id from the reports folder or a path to a run folder")
    names = ", ".join(c.name for c in candidates[:5])
    raise UserInputError(f"'{ref}' matches several runs: {names}", str(reports_dir), "give more of the run id")


def load_json(path: Path) -> dict[str, Any]:
    """Read one JSON output of a run with a clear error when it is missing or damaged."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserInputError(f"missing file {path.name}", str(path.parent)) from None
    except json.JSONDecodeError as exc:
        raise UserInputError(f"damaged JSON: {exc}", str(path)) from None
