"""Export a trained network to ``torch.export`` (.pt2), ONNX (.onnx) and TorchScript (.pt), and check each file.

Every format gets its own result (ok, or failed with the reason) instead of an exception, because some networks
cannot be expressed in some formats and the command line must say which and why. Each written file is loaded
back and run on the example inputs, and its outputs are compared with eager PyTorch within ``atol``; it is then
run again (an export that carries state between calls fails) and on other inputs at another batch size (an
export that froze values or shapes of the example fails).
"""
from __future__ import annotations

import logging
import math
import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from torch import nn

from ml.errors import ModelError
from ml.networks.base import ForecastNetwork
from ml.store import check_name

log = logging.getLogger(__name__)

FORMATS: dict[str, str] = {"export": ".pt2", "onnx": ".onnx", "torchscript": ".pt"}
INPUT_NAMES = ("x_past", "x_future")
EXAMPLE_BATCH, CHECK_BATCH = 2, 5
Runner = Callable[..., torch.Tensor]


@dataclass(frozen=True)
class ExportResult:
    """Outcome of one format: ``ok`` with the file and the largest difference from eager, or the failure reason."""

    format: str
    ok: bool
    path: Path | None = None
    reason: str = ""
    max_abs_diff: float | None = None
    checked_by: str = ""
    notes: tuple[str, ...] = ()


class _Positional(nn.Module):
    """Exposes ``net`` with tensor-only positional inputs (``x_past`` and, if used, ``x_future``), as exporters need."""

    def __init__(self, net: ForecastNetwork) -> None:
        super().__init__()
        self.net = net
        self.uses_future = net.n_future > 0

    def forward(self, x_past: torch.Tensor, x_future: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(x_past, x_future if self.uses_future else None)


def example_inputs(net: ForecastNetwork, batch: int = EXAMPLE_BATCH, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """Standard-normal inputs shaped for ``net`` (scaled features are roughly standard normal)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, net.input_size, net.n_features, generator=g)
    if net.n_future > 0:
        return x, torch.randn(batch, net.horizon, net.n_future, generator=g)
    return (x,)


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _reason(exc: BaseException) -> str:
    """First line of the exception and of its root cause (exporters wrap the informative error)."""
    parts: list[str] = []
    seen: BaseException | None = exc
    while seen is not None and len(parts) < 3:
        lines = [ln.strip() for ln in _ANSI.sub("", str(seen)).splitlines() if ln.strip()]
        parts.append(f"{type(seen).__name__}: {(lines[0] if lines else '')[:240]}")
        seen = seen.__cause__
    return " <- ".join(parts) if len(parts) < 3 else f"{parts[0]} <- {parts[-1]}"


def _seeded(fn: Callable[[], torch.Tensor], seed: int) -> torch.Tensor:
    """Run with a fixed RNG so that networks that sample in eval mode compare like with like."""
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(seed)
        return fn().detach().float()


def _warning_notes(caught: Sequence[warnings.WarningMessage]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for w in caught:
        seen[f"{w.category.__name__}: {str(w.message).splitlines()[0][:200]}"] = None
    return tuple(seen)


def _export_pt2(mod: _Positional, inputs: tuple[torch.Tensor, ...], path: Path) -> tuple[Runner | None, tuple[str, ...]]:
    dyn = tuple({0: torch.export.Dim.AUTO} for _ in inputs)
    # Networks that keep their last attention weights for reports assign attributes in forward; the exported
    # program simply leaves that side effect out, so torch's warning about it is kept as a note, not a failure.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        program = torch.export.export(mod, inputs, dynamic_shapes=dyn)
        torch.export.save(program, path)
        loaded = torch.export.load(path).module()
    return loaded, _warning_notes(caught)


def _export_onnx(mod: _Positional, inputs: tuple[torch.Tensor, ...], path: Path) -> tuple[Runner | None, tuple[str, ...]]:
    import onnx  # the export extra; an ImportError becomes this format's failure reason

    names = list(INPUT_NAMES[: len(inputs)])
    dyn = tuple({0: torch.export.Dim.AUTO} for _ in inputs)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # torch's own exporter trips over its pytree deprecation; nothing a caller can act on.
        warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)", category=FutureWarning)
        torch.onnx.export(
            mod, inputs, str(path), input_names=names, output_names=["forecast"], dynamic_shapes=dyn, verbose=False
        )
    onnx.checker.check_model(str(path), full_check=True)
    notes = _warning_notes(caught)
    try:
        import onnxruntime as ort
    except ImportError:
        return None, notes + ("onnxruntime not installed: graph checked with onnx.checker only",)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])

    def run(*xs: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(session.run(None, {n: x.numpy() for n, x in zip(names, xs)})[0])

    return run, notes


def _export_torchscript(mod: _Positional, inputs: tuple[torch.Tensor, ...], path: Path) -> tuple[Runner | None, tuple[str, ...]]:
    # torch 2.13 deprecates every torch.jit entry point; some consumers still need TorchScript, so that one
    # DeprecationWarning is caught here on purpose. Other warnings (e.g. TracerWarning: a Python value baked
    # into the trace) are kept as notes because they say the trace may not generalise.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.filterwarnings("ignore", message=r"`torch\.jit\.\w+` is deprecated", category=DeprecationWarning)
        traced = torch.jit.trace(mod, inputs, check_trace=False)
        torch.jit.save(traced, str(path))
        loaded = torch.jit.load(str(path))
    return loaded, _warning_notes(caught)


_EXPORTERS = {"export": _export_pt2, "onnx": _export_onnx, "torchscript": _export_torchscript}
_CHECKERS = {"export": "torch.export.load", "onnx": "onnxruntime", "torchscript": "torch.jit.load"}


def export_network(
    net: ForecastNetwork,
    out_dir: Path | str,
    *,
    name: str = "model",
    formats: Sequence[str] = tuple(FORMATS),
    atol: float = 1e-4,
    seed: int = 0,
) -> dict[str, ExportResult]:
    """Write ``out_dir/<name><suffix>`` for each format and verify it; never raises for an export failure.

    A file that fails verification is deleted, so only files that reproduce eager outputs are left behind.
    """
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ModelError(f"unknown export format(s) {unknown}", fix=f"choose from {', '.join(FORMATS)}")
    check_name(name, "export name")  # it becomes a file name
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    was_training = net.training
    mod = _Positional(net).eval()
    inputs = example_inputs(net, EXAMPLE_BATCH, seed)
    check_inputs = example_inputs(net, CHECK_BATCH, seed + 1)
    try:
        expected = _seeded(lambda: mod(*inputs), seed)
        expected_check = _seeded(lambda: mod(*check_inputs), seed)
        results = {}
        for fmt in formats:
            res = _one(fmt, mod, inputs, expected, check_inputs, expected_check, out / f"{name}{FORMATS[fmt]}", atol, seed)
            if not res.ok and res.path is not None:
                res.path.unlink(missing_ok=True)  # a file that gives wrong answers must not be picked up by mistake
                res = replace(res, path=None)
            results[fmt] = res
        return results
    finally:
        net.train(was_training)


def _one(
    fmt: str,
    mod: _Positional,
    inputs: tuple[torch.Tensor, ...],
    expected: torch.Tensor,
    check_inputs: tuple[torch.Tensor, ...],
    expected_check: torch.Tensor,
    path: Path,
    atol: float,
    seed: int,
) -> ExportResult:
    try:
        run, notes = _EXPORTERS[fmt](mod, inputs, path)
    except Exception as exc:  # an exporter's failure is a result to report, not a crash
        log.debug("export to %s failed", fmt, exc_info=True)
        return ExportResult(fmt, False, reason=_reason(exc))
    if run is None:
        return ExportResult(fmt, True, path, checked_by="onnx.checker", notes=notes)
    try:
        got = _seeded(lambda: run(*inputs), seed)
    except Exception as exc:  # noqa: BLE001 - a file that does not run is a failed export
        return ExportResult(fmt, False, path, reason=f"exported file does not run: {_reason(exc)}", notes=notes)
    if got.shape != expected.shape:
        return ExportResult(fmt, False, path, reason=f"output shape {tuple(got.shape)} != eager {tuple(expected.shape)}", notes=notes)
    diff = float((got - expected).abs().max())
    if not math.isfinite(diff) or diff > atol:
        return ExportResult(fmt, False, path, reason=f"outputs differ from eager by {diff:.3g} > atol {atol:g}", max_abs_diff=diff, notes=notes)
    try:
        again = _seeded(lambda: run(*inputs), seed)
        other = _seeded(lambda: run(*check_inputs), seed)
    except Exception as exc:  # noqa: BLE001 - a file that fails at another batch size is a failed export
        return ExportResult(fmt, False, path, reason=f"runs only at batch size {EXAMPLE_BATCH}: {_reason(exc)}", max_abs_diff=diff, notes=notes)
    if not torch.equal(again, got):
        return ExportResult(
            fmt, False, path, max_abs_diff=diff, notes=notes,
            reason="a second call on the same inputs gives other outputs: the export carries state (e.g. an RNG) between calls",
        )
    other_diff = float((other - expected_check).abs().max()) if other.shape == expected_check.shape else math.inf
    if not other_diff <= atol:
        return ExportResult(
            fmt, False, path, max_abs_diff=diff, notes=notes,
            reason=f"matches eager on the example but differs by {other_diff:.3g} on other inputs (batch {CHECK_BATCH}): "
            "values of the example were frozen in",
        )
    return ExportResult(fmt, True, path, max_abs_diff=max(diff, other_diff), checked_by=_CHECKERS[fmt], notes=notes)
