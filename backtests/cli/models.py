"""`bt-models list|show|export|prune`: inspect, export and clean the model store."""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from backtests.cli.common import examples, group, setup_logging, user_errors
from backtests.cli.progress import Progress
from ml.errors import ModelError

if TYPE_CHECKING:
    from ml.store import ModelStore

# ml.export.FORMATS is the source of truth (a test keeps them equal); importing it here would import torch for --help.
EXPORT_FORMATS = ("export", "onnx", "torchscript")


def _parse_ref(ref: str, *, need_version: bool = False) -> tuple[str, str, str]:
    """``KIND/name[/version]`` (the form reports record) -> (kind, name, version or "latest")."""
    parts = ref.strip().strip("/").split("/")
    if len(parts) not in (2, 3) or not all(parts) or (need_version and len(parts) != 3):
        form = "KIND/name/version" if need_version else "KIND/name[/version]"
        raise ModelError(f"bad model reference '{ref}'", fix=f"write it as {form}, e.g. GM/nvda-ensemble")
    return parts[0], parts[1], parts[2] if len(parts) == 3 else "latest"


def _table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join([fmt.format(*headers), fmt.format(*("-" * w for w in widths))] + [fmt.format(*r) for r in rows])


def _size(n: int) -> str:
    return f"{n / 1024:.1f} KiB" if n < 1024**2 else f"{n / 1024**2:.1f} MiB"


def protected_refs(reports: Path) -> set[str]:
    """Every ``KIND/name/version`` listed under ``model_versions`` in ``reports/*/run.json``."""
    refs: set[str] = set()
    for run_json in sorted(reports.glob("*/run.json")):
        try:
            versions = json.loads(run_json.read_text(encoding="utf-8")).get("model_versions", [])
        except (json.JSONDecodeError, UnicodeDecodeError, AttributeError) as exc:
            raise ModelError(
                "cannot read which model versions this report uses", where=str(run_json), fix="repair or remove it, or pass --force"
            ) from exc
        if not isinstance(versions, list) or not all(isinstance(v, str) for v in versions):
            raise ModelError("model_versions must be a list of KIND/name/version strings", where=str(run_json))
        refs.update(v.strip("/") for v in versions)
    return refs


@group(epilog=examples(
    "bt-models list",
    "bt-models show GM/gm-nvda --verify",
    "bt-models export GM/gm-nvda --format onnx",
    "bt-models prune GM/gm-nvda --keep 3",
))
@click.option("--store", "store_path", type=click.Path(path_type=Path), default=Path("models_saved"),
              help="Root of the model store.")
@click.option("-v", "--verbose", is_flag=True, help="Debug logging on stderr (the project's, not libraries').")
@click.pass_context
def main(ctx: click.Context, store_path: Path, verbose: bool) -> None:
    """Inspect, export and prune stored model versions."""
    setup_logging(verbose)
    ctx.obj = store_path


def _open(root: Path) -> ModelStore:
    """The model store, opened only once a command runs: ``--help`` and argument errors never import torch."""
    from ml.store import ModelStore

    return ModelStore(root)


@main.command("list", epilog=examples("bt-models list", "bt-models list --kind LLM"))
@click.option("--kind", type=click.Choice(["GM", "LLM"]), default=None, help="Only this kind.")
@click.pass_obj
@user_errors
def list_cmd(root: Path, kind: str | None) -> None:
    """List every stored version, oldest first within each model."""
    store = _open(root)
    versions = store.list(kind)
    if not versions:
        click.echo(f"no models in {store.root}")
        return
    rows = [[v.ref, v.created_at[:19].replace("T", " "), ",".join(v.classes), _size(v.weights_bytes)]
            if not v.broken else [v.ref, "-", f"BROKEN: {v.problem}", "-"] for v in versions]
    click.echo(_table(["MODEL", "CREATED (UTC)", "NETWORKS", "WEIGHTS"], rows))
    broken = [v for v in versions if v.broken]
    if broken:
        click.echo(f"{len(broken)} broken version(s) cannot be loaded; remove them with "
                   f"`bt-models prune KIND/name --keep N` (broken versions go first)", err=True)


@main.command(epilog=examples("bt-models show GM/gm-nvda", "bt-models show LLM/sentiment/<version> --verify"))
@click.argument("ref")
@click.option("--verify", is_flag=True, help="Also read the weights and check size, sha256 and version id.")
@click.pass_obj
@user_errors
def show(root: Path, ref: str, verify: bool) -> None:
    """Print the metadata of REF (KIND/name[/version], latest by default) as JSON."""
    kind, name, version = _parse_ref(ref)
    store = _open(root)
    if verify:
        tensors, meta = store.load(kind, name, version)
        click.echo(json.dumps(meta, indent=2, sort_keys=True))
        click.echo(f"verified: {len(tensors)} tensors, sha256 {meta['sha256']}", err=True)
    else:
        click.echo(json.dumps(store.show(kind, name, version), indent=2, sort_keys=True))


@main.command(epilog=examples("bt-models export GM/gm-nvda", "bt-models export GM/gm-nvda/<version> --format onnx --out exp/"))
@click.argument("ref")
@click.option("--format", "formats", type=click.Choice(EXPORT_FORMATS), multiple=True,
              help="Format(s) to write; repeat for several.  [default: all]")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Output folder.  [default: <store>/<KIND>/<name>/<version>/export]")
@click.option("--atol", type=float, default=1e-4, show_default=True, help="Tolerance against eager outputs.")
@click.pass_obj
@user_errors
def export(root: Path, ref: str, formats: tuple[str, ...], out: Path | None, atol: float) -> None:
    """Export every network of REF and check each file against eager PyTorch.

    Prints one row per network and format; exits 1 when any export failed (the table says why).
    """
    kind, name, version = _parse_ref(ref)
    if kind == "LLM":
        raise ModelError(f"export is not supported for LLM (sentiment) models ('{ref}')",
                         fix="export works on GM forecasting networks; sentiment heads are used in place")
    store = _open(root)
    path = store.resolve(kind, name, version)
    meta = store.show(kind, name, path.name)
    from ml.export import export_network
    from ml.store import load_network, load_networks

    if not logging.getLogger().isEnabledFor(logging.DEBUG):
        # torch's ONNX exporter warns about optional torchvision ops on every export: not the user's concern
        logging.getLogger("torch.onnx").setLevel(logging.ERROR)

    if isinstance(meta.get("members"), dict):
        nets, _ = load_networks(store, kind, name, path.name)
    else:
        nets = {str(meta.get("class", name)): load_network(store, kind, name, path.name)}
    out_dir = out or path / "export"
    rows, failed = [], 0
    chosen = formats or EXPORT_FORMATS
    bar = Progress("export", total=len(nets) * len(chosen), unit="file")
    for key, net in nets.items():
        results = {}
        for one in chosen:
            results.update(export_network(net, out_dir, name=key, formats=(one,), atol=atol))
            bar.step(f"{key} {one}")
        for fmt, res in results.items():
            failed += not res.ok
            detail = f"max |diff| {res.max_abs_diff:.2g} ({res.checked_by})" if res.max_abs_diff is not None else res.checked_by
            if not res.ok:
                detail = res.reason
            elif res.notes:
                detail += "; " + "; ".join(res.notes)
            rows.append([key, fmt, "ok" if res.ok else "FAILED", str(res.path) if res.ok and res.path else "-", detail])
    bar.close()
    click.echo(_table(["NETWORK", "FORMAT", "STATUS", "FILE", "DETAIL"], rows))
    if failed:
        raise SystemExit(1)


@main.command(epilog=examples("bt-models prune GM/gm-nvda --keep 3", "bt-models prune LLM/sentiment --keep 1 --force"))
@click.argument("ref")
@click.option("--keep", type=click.IntRange(min=0), required=True, help="Newest versions to keep.")
@click.option("--force", is_flag=True, help="Also delete versions that reports still reference.")
@click.option("--reports", type=click.Path(path_type=Path), default=Path("reports"),
              help="Folder of run reports whose run.json lists the model versions they used.")
@click.pass_obj
@user_errors
def prune(root: Path, ref: str, keep: int, force: bool, reports: Path) -> None:
    """Delete all but the newest --keep versions of REF (KIND/name), sparing those a report references."""
    kind, name, version = _parse_ref(ref)
    if version != "latest":
        raise ModelError(f"prune takes KIND/name, not a version ('{ref}')", fix=f"use {kind}/{name}")
    store = _open(root)
    protected = set() if force else protected_refs(reports)
    removed: list[Any] = store.prune(kind, name, keep, protected, force=force)
    spared = sorted(p for p in protected if p.startswith(f"{kind}/{name}/"))
    for v in removed:
        click.echo(f"removed {v.ref}")
    remaining = store.list(kind)
    kept = [v.ref for v in remaining if v.name == name]
    click.echo(f"{len(removed)} removed, {len(kept)} kept" + (f" ({len(set(spared) & set(kept))} referenced by reports)" if spared else ""))
