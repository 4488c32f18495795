"""Export: each format is written, loaded back and matches eager outputs; failures are results, not crashes."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ml.errors import ModelError
from ml.export import FORMATS, export_network
from tests.ml.test_trainer import TinyNet, TinyQuantileNet


class BranchyNet(TinyNet):
    """Takes a Python branch on the data: torch.export refuses it, and a trace bakes in one branch."""

    name = "branchy"

    def forward(self, x_past: torch.Tensor, x_future: torch.Tensor | None = None) -> torch.Tensor:
        out = super().forward(x_past, x_future)
        return out + 1.0 if float(x_past.sum()) > 0 else out - 1.0


def test_all_formats_round_trip(tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = TinyQuantileNet(input_size=6, horizon=2, n_features=3, n_future=2, dropout=0.5)
    net.train()
    results = export_network(net, tmp_path, name="tq")
    assert set(results) == set(FORMATS)
    for fmt, res in results.items():
        assert res.ok, (fmt, res.reason)
        assert res.path == tmp_path / f"tq{FORMATS[fmt]}" and res.path.stat().st_size > 0
        assert res.max_abs_diff is not None and res.max_abs_diff <= 1e-4
    assert results["onnx"].checked_by == "onnxruntime"
    assert net.training  # the caller's mode is restored


def test_unexportable_network_reports_why(tmp_path: Path) -> None:
    torch.manual_seed(0)
    results = export_network(BranchyNet(input_size=4, horizon=1, n_features=1), tmp_path, formats=["export", "torchscript"])
    assert not results["export"].ok and results["export"].reason  # data-dependent branch
    ts = results["torchscript"]  # the trace succeeds but freezes the branch taken on the example
    assert not ts.ok and "differs" in ts.reason and "other inputs" in ts.reason
    assert any("TracerWarning" in n for n in ts.notes)
    assert ts.path is None and not list(tmp_path.iterdir())  # the wrong file was removed


def test_unknown_format_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="unknown export format"):
        export_network(TinyNet(input_size=4, horizon=1, n_features=1), tmp_path, formats=["tflite"])


@pytest.mark.slow
@pytest.mark.parametrize("name", ["informer", "tft", "nbeats", "tsmixer", "tsmixerx"])
def test_every_registry_network_exports_to_every_format(name: str, tmp_path: Path) -> None:
    from ml.networks.registry import build_network, default_hparams

    torch.manual_seed(0)
    n_future = 2 if name in ("tft", "tsmixerx") else 0
    net = build_network(name, input_size=16, horizon=3, n_features=2, n_future=n_future, **default_hparams(name, "tiny"))
    results = export_network(net, tmp_path)
    assert all(r.ok for r in results.values()), {k: r.reason for k, r in results.items()}
