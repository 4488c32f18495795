"""The model store: versioned safetensors weights plus JSON metadata under ``<root>/<KIND>/<name>/<version>/``.

A version id is derived from the content (the weights' bytes and the metadata less ``created_at``), so the same
training gives the same id and saving it twice is a no-op. Writes go to a temp folder that is renamed into
place, so a crash never leaves a half-written version. Loading verifies size, hash, schema and id before
anything is built, and never unpickles.

Names and versions come from users (command lines, configs, report references) and become folder names, so
each is checked against a strict pattern before it touches a path: no '/', '\\', '..', NUL or drive prefix
ever reaches the file system. A version whose meta.json is unreadable is listed as broken (``problem``)
instead of hiding its model: ``latest`` skips it and ``prune`` can delete it.
"""
from __future__ import annotations

import builtins
import hashlib
import json
import logging
import math
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from ground.choices import choice_hint, suggest
from ground.provenance import library_versions
from ml.errors import IntegrityError, ModelError
from ml.networks.base import ForecastNetwork

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
KINDS = ("GM", "LLM")
WEIGHTS_FILE = "weights.safetensors"
META_FILE = "meta.json"
MEMBER_PREFIX = "member."
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_STORE_KEYS = ("schema_version", "sha256", "weights_bytes", "created_at", "version")
_LIBRARIES = ("torch", "numpy", "pandas", "safetensors", "bt-hybrid")


@dataclass(frozen=True)
class ModelVersion:
    """One stored version; ``ref`` is the ``KIND/name/version`` string that reports record."""

    kind: str
    name: str
    version: str
    path: Path
    created_at: str
    weights_bytes: int
    classes: tuple[str, ...]
    problem: str = ""  # why this version cannot be read ("" when it can)
    fix: str = ""  # how to repair it, when known

    @property
    def ref(self) -> str:
        return f"{self.kind}/{self.name}/{self.version}"

    @property
    def broken(self) -> bool:
        """True when the version's meta.json could not be read: listed, prunable, never loaded."""
        return bool(self.problem)


def _check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise ModelError(f"unknown model kind '{kind}'", fix=choice_hint(kind.upper(), KINDS))
    return kind


def check_name(name: str, what: str = "model name") -> str:
    """``name`` if it is safe as one folder or file name (no separators, '..', NUL or drive), else ModelError."""
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise ModelError(f"invalid {what} {name!r}",
                         fix="use 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit")
    return name


_check_name = check_name


def _jsonable(obj: Any) -> Any:
    """Plain JSON values: numpy scalars/arrays become lists, tuples lists, non-finite floats null (JSON has no NaN)."""
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if not isinstance(k, str):
                raise ModelError(f"meta keys must be strings, got {k!r}")
            out[k] = _jsonable(v)
        return out
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.ndarray, np.generic)):
        return _jsonable(obj.tolist())
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    if isinstance(obj, Path):
        return str(obj)
    raise ModelError(f"meta value {obj!r} of type {type(obj).__name__} cannot be stored as JSON")


def _canonical(meta: dict[str, Any]) -> bytes:
    return json.dumps(meta, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _version_id(weights_sha: str, meta: dict[str, Any]) -> str:
    content = {k: v for k, v in meta.items() if k not in ("created_at", "version")}
    return hashlib.sha256(weights_sha.encode() + b"\n" + _canonical(content)).hexdigest()[:16]


class ModelStore:
    """Versions of trained models on disk; see the module docstring for the guarantees."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    # -- writing ---------------------------------------------------------------------------------------------
    def save(self, kind: str, name: str, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> ModelVersion:
        """Store a flat state dict and its metadata; returns the (content-derived) version."""
        _check_kind(kind)
        _check_name(name)
        if not tensors:
            raise ModelError(f"nothing to save for {kind}/{name}: the state dict is empty")
        reserved = sorted(set(meta) & set(_STORE_KEYS))
        if reserved:
            raise ModelError(f"meta keys {reserved} are written by the store itself", fix="remove them from meta")
        cpu = {k: v.detach().to("cpu").contiguous().clone() for k, v in tensors.items()}  # clone: no shared storage
        blob = st_save(cpu)
        sha = hashlib.sha256(blob).hexdigest()
        full = _jsonable(dict(meta))
        full.setdefault("libraries", library_versions(_LIBRARIES))
        full.update(schema_version=SCHEMA_VERSION, sha256=sha, weights_bytes=len(blob))
        version = _version_id(sha, full)
        full["version"] = version
        full["created_at"] = datetime.now(UTC).isoformat(timespec="microseconds")

        parent = self.root / kind / name
        final = parent / version
        if final.exists():
            log.info("%s/%s/%s already stored; nothing written", kind, name, version)
            return self._version(kind, name, final)
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=parent))
        try:
            for fname, data in ((WEIGHTS_FILE, blob), (META_FILE, json.dumps(full, indent=2, sort_keys=True).encode())):
                with open(tmp / fname, "wb") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
            try:
                os.rename(tmp, final)
            except OSError:
                if not final.exists():  # lost a race to an identical save: fine; anything else is real
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        log.info("saved %s/%s/%s (%d bytes)", kind, name, version, len(blob))
        return self._version(kind, name, final)

    # -- reading ---------------------------------------------------------------------------------------------
    def _read_meta(self, path: Path) -> dict[str, Any]:
        try:
            meta = json.loads((path / META_FILE).read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise IntegrityError(f"{META_FILE} is missing", where=str(path), fix="delete this version or restore it") from exc
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise IntegrityError(f"{META_FILE} is not valid JSON ({exc})", where=str(path / META_FILE)) from exc
        if not isinstance(meta, dict) or not isinstance(meta.get("schema_version"), int):
            raise IntegrityError(f"{META_FILE} has no integer schema_version", where=str(path / META_FILE))
        if meta["schema_version"] > SCHEMA_VERSION:
            raise IntegrityError(
                f"{META_FILE} has schema_version {meta['schema_version']}, newer than the {SCHEMA_VERSION} this version of "
                "bt-hybrid reads",
                where=str(path / META_FILE),
                fix="upgrade bt-hybrid to load this model",
            )
        return meta

    def _version(self, kind: str, name: str, path: Path) -> ModelVersion:
        meta = self._read_meta(path)
        if "members" in meta and isinstance(meta["members"], dict):
            classes = tuple(str(m.get("class", "?")) for m in meta["members"].values())
        else:
            classes = (str(meta.get("class", "?")),)
        return ModelVersion(kind, name, path.name, path, str(meta.get("created_at", "")), int(meta.get("weights_bytes", 0)), classes)

    def _version_or_broken(self, kind: str, name: str, path: Path) -> ModelVersion:
        try:
            return self._version(kind, name, path)
        except IntegrityError as exc:
            log.warning("%s/%s/%s is broken: %s", kind, name, path.name, exc.what)
            return ModelVersion(kind, name, path.name, path, "", 0, (), problem=exc.what, fix=exc.fix)

    def _versions_of(self, kind: str, name: str) -> list[ModelVersion]:
        """Every version folder, oldest first; broken ones (no created_at) sort before all others."""
        parent = self.root / kind / name
        if not parent.is_dir():
            return []
        found = [self._version_or_broken(kind, name, p) for p in parent.iterdir()
                 if p.is_dir() and not p.name.startswith(".")]
        return sorted(found, key=lambda v: (v.created_at, v.version))

    def resolve(self, kind: str, name: str, version: str = "latest") -> Path:
        """The folder of a stored version (``latest`` = newest created_at); unknown names suggest close ones."""
        _check_kind(kind)
        _check_name(name)
        parent = self.root / kind / name
        if not parent.is_dir():
            names = sorted(p.name for p in (self.root / kind).iterdir()) if (self.root / kind).is_dir() else []
            fix = suggest(name, names) or "run `bt-models list` to see what is stored"
            raise ModelError(f"no model '{kind}/{name}' in the store", where=str(self.root), fix=fix)
        if version == "latest":
            versions = self._versions_of(kind, name)
            healthy = [v for v in versions if not v.broken]
            if not versions:
                raise ModelError(f"model '{kind}/{name}' has no versions", where=str(parent))
            if not healthy:
                newest = versions[-1]
                raise IntegrityError(
                    f"no readable version of '{kind}/{name}' ({len(versions)} broken); {newest.version}: "
                    f"{newest.problem}",
                    where=str(newest.path),
                    fix=newest.fix or f"remove broken versions with `bt-models prune {kind}/{name} --keep 0`",
                )
            return healthy[-1].path
        _check_name(version, "version")
        path = parent / version
        if not path.is_dir():
            have = [p.name for p in parent.iterdir() if p.is_dir() and not p.name.startswith(".")]
            raise ModelError(
                f"no version '{version}' of '{kind}/{name}'",
                where=str(parent),
                fix=suggest(version, have) or f"stored versions: {', '.join(sorted(have)) or 'none'}",
            )
        return path

    def show(self, kind: str, name: str, version: str = "latest") -> dict[str, Any]:
        """The metadata of a version (schema checked, weights not read)."""
        return self._read_meta(self.resolve(kind, name, version))

    def load(self, kind: str, name: str, version: str = "latest") -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """Weights and metadata, after checking schema, size, sha256 and the content-derived version id."""
        path = self.resolve(kind, name, version)
        meta = self._read_meta(path)
        wfile = path / WEIGHTS_FILE
        try:
            blob = wfile.read_bytes()
        except FileNotFoundError as exc:
            raise IntegrityError(f"{WEIGHTS_FILE} is missing", where=str(path)) from exc
        if len(blob) != meta.get("weights_bytes"):
            raise IntegrityError(
                f"{WEIGHTS_FILE} has {len(blob)} bytes but meta.json records {meta.get('weights_bytes')} (truncated or replaced)",
                where=str(wfile),
                fix="re-train or restore this version",
            )
        if hashlib.sha256(blob).hexdigest() != meta.get("sha256"):
            raise IntegrityError(
                f"{WEIGHTS_FILE} does not match the sha256 in meta.json (modified after saving)",
                where=str(wfile),
                fix="re-train or restore this version",
            )
        if _version_id(meta["sha256"], meta) != path.name:
            raise IntegrityError(
                f"{META_FILE} does not match its content-derived version id (edited after saving)", where=str(path / META_FILE)
            )
        try:
            tensors = st_load(blob)
        except SafetensorError as exc:
            raise IntegrityError(f"{WEIGHTS_FILE} is not a valid safetensors file ({exc})", where=str(wfile)) from exc
        return tensors, meta

    def list(self, kind: str | None = None) -> list[ModelVersion]:
        """Every stored version (of one kind, or all), ordered by kind, name, then age."""
        kinds = [_check_kind(kind)] if kind is not None else list(KINDS)
        out: list[ModelVersion] = []
        for k in kinds:
            base = self.root / k
            if base.is_dir():
                for model_dir in sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith(".")):
                    out.extend(self._versions_of(k, model_dir.name))
        return out

    # -- pruning ---------------------------------------------------------------------------------------------
    def prune(
        self, kind: str, name: str, keep: int, protected: set[str], force: bool = False
    ) -> builtins.list[ModelVersion]:
        """Delete all but the newest ``keep`` versions; versions whose ``KIND/name/version`` is in ``protected``
        (referenced by a report) survive unless ``force``. Returns what was removed."""
        if isinstance(keep, bool) or not isinstance(keep, int) or keep < 0:
            raise ModelError(f"keep={keep!r} must be an integer >= 0")
        _check_kind(kind)
        _check_name(name)
        if not (self.root / kind / name).is_dir():
            self.resolve(kind, name, "latest")  # raises the "no such model, did you mean" error
        versions = self._versions_of(kind, name)
        # Broken versions go first and never count towards the `keep` newest readable ones.
        healthy = [v for v in versions if not v.broken]
        candidates = [v for v in versions if v.broken] + healthy[: max(0, len(healthy) - keep)]
        removed = []
        for v in candidates:
            if v.ref in protected and not force:
                log.info("keeping %s: referenced by a report", v.ref)
                continue
            shutil.rmtree(v.path)
            removed.append(v)
        return removed


# -- networks --------------------------------------------------------------------------------------------------
Builder = Callable[..., ForecastNetwork]


def _registry_builder() -> Builder:
    # The registry imports every network: load it only when a network is rebuilt.
    from ml.networks.registry import build_network

    return build_network


def _state_of(net: ForecastNetwork) -> dict[str, torch.Tensor]:
    return {k: v for k, v in net.state_dict().items()}


def _build(spec: dict[str, Any], state: dict[str, torch.Tensor], build: Builder, where: str) -> ForecastNetwork:
    if "class" not in spec or not isinstance(spec.get("hparams"), dict):
        raise IntegrityError("meta.json lacks the network's 'class' and 'hparams'", where=where)
    net = build(spec["class"], **spec["hparams"])
    stored = spec.get("revision", 1)  # versions written before revisions were recorded are revision 1
    if stored != net.REVISION:
        raise IntegrityError(
            f"stored by revision {stored} of {spec['class']}, but this code builds revision {net.REVISION}, which "
            "computes differently from the same weights: retrain (bt-train) to store a current version",
            where=where,
        )
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise IntegrityError(f"stored weights do not fit {spec['class']} ({str(exc).splitlines()[0]})", where=where) from exc
    return net.eval()


def _spec(net: ForecastNetwork) -> dict[str, Any]:
    """What rebuilds ``net``: its registry name, hyperparameters and revision."""
    return {"class": net.name, "hparams": net.hparams, "revision": net.REVISION}


def save_network(store: ModelStore, kind: str, name: str, net: ForecastNetwork, meta: dict[str, Any]) -> ModelVersion:
    """Save one network; ``meta`` gets its registry name (``class``), ``hparams`` and ``revision`` to rebuild it."""
    return store.save(kind, name, _state_of(net), {**meta, **_spec(net)})


def load_network(
    store: ModelStore, kind: str, name: str, version: str = "latest", *, build: Builder | None = None
) -> ForecastNetwork:
    """Rebuild a saved network from its hyperparameters (``build(class, **hparams)``, the registry by default)."""
    tensors, meta = store.load(kind, name, version)
    return _build(meta, tensors, build or _registry_builder(), f"{kind}/{name}/{meta['version']}")


def save_networks(
    store: ModelStore, kind: str, name: str, nets: dict[str, ForecastNetwork], meta: dict[str, Any]
) -> ModelVersion:
    """Save an ensemble as one version: member ``m``'s weights under ``member.m.``, its spec in ``meta['members']``."""
    tensors: dict[str, torch.Tensor] = {}
    members = {}
    for key, net in nets.items():
        _check_name(key, "member name")
        tensors.update({f"{MEMBER_PREFIX}{key}.{k}": v for k, v in _state_of(net).items()})
        members[key] = _spec(net)
    return store.save(kind, name, tensors, {**meta, "members": members})


def load_networks(
    store: ModelStore, kind: str, name: str, version: str = "latest", *, build: Builder | None = None
) -> tuple[dict[str, ForecastNetwork], dict[str, Any]]:
    """Rebuild every member of a saved ensemble; returns the members (in saved order) and the metadata."""
    tensors, meta = store.load(kind, name, version)
    where = f"{kind}/{name}/{meta['version']}"
    if not isinstance(meta.get("members"), dict):
        raise IntegrityError("meta.json has no 'members': this version is a single network", where=where, fix="use load_network")
    builder = build or _registry_builder()
    nets = {}
    for key, spec in meta["members"].items():
        try:
            _check_name(key, "member name")
        except ModelError as exc:
            raise IntegrityError(f"meta.json names a member {key!r} that is not a safe name", where=where) from exc
        prefix = f"{MEMBER_PREFIX}{key}."
        state = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
        nets[key] = _build(spec, state, builder, where)
    return nets, meta
