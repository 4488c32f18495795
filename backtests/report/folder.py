"""The run folder ``reports/<run-id>/``: its id, its files, and atomic writes so a crash never leaves half a file."""
from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from ground.errors import UserInputError

LIBRARIES = ("bt-hybrid", "backtrader", "torch", "pandas", "numpy", "transformers", "yfinance", "feedparser", "click")


# A run id: letters, digits, '.', '_' and '-', starting with a letter or digit, and never '..'. Anything else is not an
# id and never becomes part of a path under the reports folder.
RUN_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")
PARTIAL_PREFIX = ".partial-"
NONCE_HEX = 4


def is_run_id(text: str) -> bool:
    """True when ``text`` has the shape of a run id (so it is safe to join under the reports folder)."""
    return bool(RUN_ID_PATTERN.fullmatch(text)) and ".." not in text


def new_run_id(strategy: str, config_text: str, now: datetime | None = None) -> str:
    """``YYYYmmdd-HHMMSS-<strategy>-<hash>``: sortable by time, distinct per configuration.

    This is the base of the id; :class:`RunFolder` appends a fixed-length random suffix, so two runs of the same
    configuration in the same second get different ids, neither a prefix of the other.
    """
    now = now or datetime.now(timezone.utc)
    digest = hashlib.sha256(config_text.encode("utf-8")).hexdigest()[:6]
    base = f"{now:%Y%m%d-%H%M%S}-{strategy}-{digest}"
    if not is_run_id(base) or strategy.count("-"):
        raise UserInputError(f"strategy name '{strategy}' cannot be part of a run id", "--strategy",
                             "use letters, digits and '_' only")
    return base


def atomic_write(path: Path, data: str | bytes) -> None:
    """Write to a temporary file in the same folder, then rename over the target.

    The file gets the usual permissions (0666 less the umask, so 0644 by default), not mkstemp's 0600.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
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
    """Writes the files of one run into a hidden ``.partial-<id>`` folder; :meth:`commit` renames it to ``<id>``.

    A run interrupted by Ctrl-C or a crash therefore never leaves a folder that looks like a finished run:
    :meth:`discard` removes the partial folder, and one left by a hard kill stays hidden from listings.
    """

    def __init__(self, root: Path, run_id: str) -> None:
        """Reserve ``root/<run_id>-<nonce>``; the nonce is redrawn until neither the folder nor its partial exists."""
        if not is_run_id(run_id):
            raise UserInputError(f"'{run_id}' is not a valid run id", str(root), "use letters, digits, '.', '_', '-'")
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserInputError(f"cannot create the reports folder: {exc.strerror}", str(root)) from None
        for _ in range(1000):
            candidate = f"{run_id}-{secrets.token_hex(NONCE_HEX // 2)}"
            partial = root / f"{PARTIAL_PREFIX}{candidate}"
            try:
                partial.mkdir()
            except FileExistsError:
                continue
            if (root / candidate).exists():  # checked after reserving the partial name: race-free
                partial.rmdir()
                continue
            self.run_id, self.root, self.path, self.committed = candidate, root, partial, False
            return
        raise UserInputError(f"too many runs named {run_id}", str(root))

    @property
    def final_path(self) -> Path:
        """Where the run folder will be once committed."""
        return self.root / self.run_id

    def commit(self) -> Path:
        """Rename the finished folder to its run id (atomic); later writes go to the final folder."""
        if not self.committed:
            os.rename(self.path, self.final_path)
            self.path, self.committed = self.final_path, True
        return self.path

    def discard(self) -> None:
        """Remove the unfinished folder (after an interruption or an error); a committed run is kept."""
        if not self.committed:
            shutil.rmtree(self.path, ignore_errors=True)

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


def run_folders(reports_dir: Path) -> list[Path]:
    """Finished run folders (holding metrics.json), oldest first; partial and hidden folders are skipped."""
    if not reports_dir.is_dir():
        return []
    return sorted(
        p for p in reports_dir.iterdir()
        if p.is_dir() and is_run_id(p.name) and (p / "metrics.json").is_file()
    )


def resolve_run(ref: str, reports_dir: Path) -> Path:
    """A run folder from a run id, a unique prefix of one, or a path to a run folder; a clear error otherwise.

    An exact id always wins over prefixes. A reference that is not shaped like a run id (a separator, '..', NUL, a
    drive prefix) is never joined under the reports folder: it is either an explicit path to a run folder or refused.
    """
    if "\x00" in ref or re.match(r"^[A-Za-z]:", ref):
        raise UserInputError(f"{ref!r} is neither a run id nor a usable path", "RUN",
                             "give a run id from `bt-report list` or a path to a run folder")
    if is_run_id(ref):
        exact = reports_dir / ref
        if (exact / "metrics.json").is_file():
            return exact
        candidates = [p for p in run_folders(reports_dir) if p.name.startswith(ref)]
        if len(candidates) == 1:
            return candidates[0]
        if candidates:
            names = ", ".join(c.name for c in candidates[:5])
            raise UserInputError(f"'{ref}' matches several runs: {names}", str(reports_dir), "give more of the run id")
        raise UserInputError(f"no run '{ref}'", str(reports_dir),
                             "give a run id from `bt-report list` (or --reports-dir) or a path to a run folder")
    if "/" not in ref and os.sep not in ref:  # not an id and not a path: '..', '.hidden', 'a b', ...
        raise UserInputError(f"{ref!r} is not a run id", "RUN",
                             "run ids hold letters, digits, '.', '_' and '-'; write a path to a folder with a '/'")
    path = Path(ref)
    if (path / "metrics.json").is_file():
        return path
    what = "no run folder (with metrics.json)" if path.exists() else "no such folder"
    raise UserInputError(f"{what}: {ref}", "RUN", "give a run id from `bt-report list` or a path to a run folder")


def load_json(path: Path) -> dict[str, Any]:
    """Read one JSON output of a run with a clear error when it is missing or damaged."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserInputError(f"missing file {path.name}", str(path.parent)) from None
    except json.JSONDecodeError as exc:
        raise UserInputError(f"damaged JSON: {exc}", str(path)) from None
