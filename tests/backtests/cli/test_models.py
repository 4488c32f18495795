"""`bt-models`: list, show, export and prune through click, with user errors as one line and exit code 2."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from click.testing import CliRunner

import ml.store
from backtests.cli.models import main
from ml.networks.base import ForecastNetwork
from ml.store import ModelStore, save_network, save_networks
from tests.ml.test_trainer import TinyNet, TinyQuantileNet


def _build(cls_name: str, **hparams: Any) -> ForecastNetwork:
    return {"tiny": TinyNet, "tiny_q": TinyQuantileNet}[cls_name](**hparams)


@pytest.fixture()
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModelStore:
    monkeypatch.setattr(ml.store, "_registry_builder", lambda: _build)  # the tiny test networks are not registered
    return ModelStore(tmp_path / "models_saved")


def _run(store: ModelStore, *args: str) -> Any:
    return CliRunner().invoke(main, ["--store", str(store.root), *args])


def _tensors(seed: int) -> dict[str, torch.Tensor]:
    return {"w": torch.full((2, 2), float(seed))}


def test_list_and_show(store: ModelStore) -> None:
    assert "no models" in _run(store, "list").output
    torch.manual_seed(0)
    v = save_network(store, "GM", "nvda", TinyNet(input_size=4, horizon=1, n_features=2), {"metrics": {"mse": 0.25}})
    res = _run(store, "list")
    assert res.exit_code == 0 and v.ref in res.output and "tiny" in res.output
    res = _run(store, "show", "GM/nvda")
    assert res.exit_code == 0 and json.loads(res.output)["metrics"] == {"mse": 0.25}
    res = _run(store, "show", "--verify", f"GM/nvda/{v.version}")
    assert res.exit_code == 0 and "verified" in res.stderr


def test_user_errors_are_one_line_exit_2(store: ModelStore) -> None:
    store.save("GM", "nvda", _tensors(0), {})
    for args, text in [
        (["show", "GM"], "bad model reference"),
        (["show", "GM/nvdx"], "did you mean 'nvda'"),
        (["show", "gm/nvda"], "did you mean 'GM'"),
        (["prune", "GM/nvda/abc", "--keep", "1"], "not a version"),
    ]:
        res = _run(store, *args)
        assert res.exit_code == 2, res.output
        assert text in res.stderr and len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.output


def test_tampered_weights_fail_to_show_verified(store: ModelStore) -> None:
    v = store.save("GM", "nvda", _tensors(0), {})
    wfile = v.path / "weights.safetensors"
    wfile.write_bytes(wfile.read_bytes()[:-3])
    res = _run(store, "show", "--verify", "GM/nvda")
    assert res.exit_code == 2 and "truncated" in res.stderr


def test_export_ensemble(store: ModelStore, tmp_path: Path) -> None:
    torch.manual_seed(0)
    nets = {"a": TinyNet(input_size=4, horizon=2, n_features=2), "b": TinyQuantileNet(input_size=4, horizon=2, n_features=2, n_future=1)}
    v = save_networks(store, "GM", "ens", nets, {})
    res = _run(store, "export", "GM/ens", "--format", "export", "--format", "torchscript", "--out", str(tmp_path / "x"))
    assert res.exit_code == 0, res.output
    assert res.output.count(" ok ") == 4 and "FAILED" not in res.output
    assert sorted(p.name for p in (tmp_path / "x").iterdir()) == ["a.pt", "a.pt2", "b.pt", "b.pt2"]
    res = _run(store, "export", f"GM/ens/{v.version}", "--format", "onnx")
    assert res.exit_code == 0 and (v.path / "export" / "a.onnx").exists()


def test_prune_spares_versions_reports_use(store: ModelStore, tmp_path: Path) -> None:
    vs = [store.save("GM", "nvda", _tensors(i), {}) for i in range(4)]
    reports = tmp_path / "reports"
    (reports / "run-1").mkdir(parents=True)
    (reports / "run-1" / "run.json").write_text(json.dumps({"model_versions": [vs[0].ref, "GM/other/x"]}))
    res = _run(store, "prune", "GM/nvda", "--keep", "2", "--reports", str(reports))
    assert res.exit_code == 0, res.output
    assert f"removed {vs[1].ref}" in res.stdout and vs[0].ref not in res.stdout
    assert {v.version for v in store.list()} == {vs[0].version, vs[2].version, vs[3].version}
    (reports / "run-2").mkdir()
    (reports / "run-2" / "run.json").write_text("{broken")
    res = _run(store, "prune", "GM/nvda", "--keep", "2", "--reports", str(reports))
    assert res.exit_code == 2 and "run-2" in res.stderr and "--force" in res.stderr
    res = _run(store, "prune", "GM/nvda", "--keep", "0", "--force", "--reports", str(reports))
    assert res.exit_code == 0 and store.list() == []


def test_a_broken_version_does_not_break_list_and_prune_removes_it(store: ModelStore) -> None:
    good = store.save("GM", "nvda", _tensors(0), {})
    bad = store.save("GM", "nvda", _tensors(1), {})
    (bad.path / "meta.json").write_text("{truncated", encoding="utf-8")
    res = _run(store, "list")
    assert res.exit_code == 0, res.output
    assert good.ref in res.stdout and f"{bad.ref}" in res.stdout and "BROKEN: meta.json is not valid JSON" in res.stdout
    assert "1 broken version(s)" in res.stderr
    assert _run(store, "show", "GM/nvda").exit_code == 0  # latest is the readable one
    res = _run(store, "prune", "GM/nvda", "--keep", "1", "--reports", str(store.root / "no-reports"))
    assert res.exit_code == 0, res.output
    assert f"removed {bad.ref}" in res.stdout and "1 removed, 1 kept" in res.stdout


def test_export_of_a_sentiment_model_says_not_supported(store: ModelStore) -> None:
    store.save("LLM", "headlines", _tensors(0), {"class": "sentiment-head"})
    res = _run(store, "export", "LLM/headlines")
    assert res.exit_code == 2
    assert "export is not supported for LLM (sentiment) models" in res.stderr and "Traceback" not in res.output
