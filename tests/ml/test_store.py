"""Model store: content-derived ids, atomic no-op re-saves, integrity checks, pruning, network round trips."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from ml.errors import IntegrityError, ModelError
from ml.networks.base import ForecastNetwork
from ml.store import (
    SCHEMA_VERSION,
    ModelStore,
    load_network,
    load_networks,
    save_network,
    save_networks,
)
from tests.ml.test_trainer import TinyNet, TinyQuantileNet

META = {"features": ["ret_1", "vol_20"], "scaler": {"mean": np.array([0.1, 0.2]), "std": [1.0, 2.0]}, "metrics": {"mse": 0.5}}


def _tensors(seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {"w": torch.randn(3, 4, generator=g), "b": torch.randn(4, generator=g), "step": torch.tensor(7)}


def _build(cls_name: str, **hparams: Any) -> ForecastNetwork:
    return {"tiny": TinyNet, "tiny_q": TinyQuantileNet}[cls_name](**hparams)


def test_save_load_round_trip_and_meta(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    v = store.save("GM", "nvda-ens", _tensors(), META)
    assert v.path == tmp_path / "GM" / "nvda-ens" / v.version
    assert sorted(p.name for p in v.path.iterdir()) == ["meta.json", "weights.safetensors"]
    tensors, meta = store.load("GM", "nvda-ens")
    assert all(torch.equal(tensors[k], t) for k, t in _tensors().items())
    assert meta["schema_version"] == SCHEMA_VERSION and meta["version"] == v.version
    assert meta["scaler"]["mean"] == [0.1, 0.2] and meta["features"] == ["ret_1", "vol_20"]
    assert {"torch", "numpy", "safetensors", "python"} <= set(meta["libraries"]) and meta["created_at"]
    assert store.show("GM", "nvda-ens", v.version)["sha256"] == meta["sha256"]


def test_version_id_is_content_derived_and_resave_is_a_noop(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    a = store.save("GM", "m", _tensors(), META)
    mtime = (a.path / "meta.json").stat().st_mtime_ns
    b = store.save("GM", "m", _tensors(), META)
    assert a.version == b.version and (a.path / "meta.json").stat().st_mtime_ns == mtime
    assert ModelStore(tmp_path / "other").save("GM", "m", _tensors(), META).version == a.version
    assert store.save("GM", "m", _tensors(seed=1), META).version != a.version
    assert store.save("GM", "m", _tensors(), {**META, "metrics": {"mse": 0.4}}).version != a.version
    assert len(store.list("GM")) == 3
    assert not [p for p in (tmp_path / "GM" / "m").iterdir() if p.name.startswith(".")]  # no temp folders left


def test_latest_is_the_newest(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    store.save("GM", "m", _tensors(0), META)
    newest = store.save("GM", "m", _tensors(1), META)
    assert store.load("GM", "m")[1]["version"] == newest.version


def test_tampered_truncated_and_edited_files_fail_clearly(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    v = store.save("GM", "m", _tensors(), META)
    wfile = v.path / "weights.safetensors"
    good = wfile.read_bytes()
    wfile.write_bytes(good[:-10])
    with pytest.raises(IntegrityError, match="truncated"):
        store.load("GM", "m")
    wfile.write_bytes(good[:-1] + bytes([good[-1] ^ 1]))
    with pytest.raises(IntegrityError, match="sha256"):
        store.load("GM", "m")
    wfile.write_bytes(good)
    mfile = v.path / "meta.json"
    meta = json.loads(mfile.read_text())
    mfile.write_text(json.dumps({**meta, "metrics": {"mse": 0.01}}))
    with pytest.raises(IntegrityError, match="edited"):
        store.load("GM", "m")
    mfile.write_text(json.dumps({**meta, "schema_version": SCHEMA_VERSION + 1}))
    with pytest.raises(IntegrityError, match="newer.*upgrade bt-hybrid"):
        store.load("GM", "m")
    mfile.write_text("{not json")
    with pytest.raises(IntegrityError, match="not valid JSON"):
        store.load("GM", "m", v.version)


def test_bad_names_and_unknown_models_suggest_fixes(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    store.save("GM", "nvda-ens", _tensors(), META)
    with pytest.raises(ModelError, match="did you mean 'GM'"):
        store.save("gm", "x", _tensors(), META)
    with pytest.raises(ModelError, match="invalid model name"):
        store.save("GM", "../escape", _tensors(), META)
    with pytest.raises(ModelError, match="did you mean 'nvda-ens'"):
        store.load("GM", "nvda-en")
    with pytest.raises(ModelError, match="no version"):
        store.load("GM", "nvda-ens", "0123456789abcdef")
    with pytest.raises(ModelError, match="written by the store"):
        store.save("GM", "x", _tensors(), {"sha256": "x"})
    with pytest.raises(ModelError, match="cannot be stored as JSON"):
        store.save("GM", "x", _tensors(), {"when": object()})


def test_prune_keeps_newest_and_protected_unless_forced(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    vs = [store.save("GM", "m", _tensors(i), META) for i in range(4)]
    removed = store.prune("GM", "m", keep=1, protected={vs[0].ref})
    assert sorted(r.version for r in removed) == sorted([vs[1].version, vs[2].version])
    assert [v.version for v in store.list()] == [vs[0].version, vs[3].version]
    assert [r.version for r in store.prune("GM", "m", keep=1, protected={vs[0].ref}, force=True)] == [vs[0].version]
    assert [v.version for v in store.list()] == [vs[3].version]
    with pytest.raises(ModelError, match="keep"):
        store.prune("GM", "m", keep=-1, protected=set())


def test_network_round_trip_reproduces_outputs(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    torch.manual_seed(0)
    net = TinyNet(input_size=6, horizon=2, n_features=3, n_targets=2, hidden=5).eval()
    v = save_network(store, "GM", "tiny", net, {"features": ["a", "b", "c"]})
    back = load_network(store, "GM", "tiny", v.version, build=_build)
    x = torch.randn(4, 6, 3)
    assert type(back) is TinyNet and back.hparams == net.hparams
    assert torch.equal(back(x), net(x))


def test_ensemble_round_trip(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    torch.manual_seed(0)
    nets = {
        "tiny": TinyNet(input_size=6, horizon=2, n_features=3).eval(),
        "tiny_q": TinyQuantileNet(input_size=6, horizon=2, n_features=3, n_future=1).eval(),
    }
    v = save_networks(store, "GM", "ens", nets, {"weights": {"tiny": 0.4, "tiny_q": 0.6}})
    assert v.classes == ("tiny", "tiny_q")
    back, meta = load_networks(store, "GM", "ens", build=_build)
    assert list(back) == ["tiny", "tiny_q"] and meta["weights"]["tiny_q"] == 0.6
    x, xf = torch.randn(3, 6, 3), torch.randn(3, 2, 1)
    assert torch.equal(back["tiny"](x), nets["tiny"](x))
    assert torch.equal(back["tiny_q"](x, xf), nets["tiny_q"](x, xf))
    save_network(store, "GM", "one", nets["tiny"], {})
    with pytest.raises(IntegrityError, match="single network"):
        load_networks(store, "GM", "one", build=_build)


def test_weights_that_do_not_fit_the_class_fail(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    net = TinyNet(input_size=6, horizon=2, n_features=3)
    store.save("GM", "bad", {k: v for k, v in net.state_dict().items() if k != "body.0.bias"}, {"class": "tiny", "hparams": net.hparams})
    with pytest.raises(IntegrityError, match="do not fit tiny"):
        load_network(store, "GM", "bad", build=_build)


def test_registry_network_round_trip(tmp_path: Path) -> None:
    from ml.networks.registry import build_network, default_hparams

    store = ModelStore(tmp_path)
    torch.manual_seed(0)
    net = build_network("nbeats", input_size=12, horizon=3, n_features=2, **default_hparams("nbeats", "tiny")).eval()
    v = save_network(store, "GM", "nb", net, {})
    back = load_network(store, "GM", "nb", v.version)  # rebuilt through the registry, no builder given
    x = torch.randn(5, 12, 2)
    assert type(back) is type(net) and torch.equal(back(x), net(x))


def test_a_version_stored_by_another_revision_of_the_network_is_refused(tmp_path: Path) -> None:
    """A network whose computation changed under the same hyperparameters bumps ``REVISION``; old versions then
    fail with a clear error instead of loading into the new computation."""
    store = ModelStore(tmp_path)
    net = TinyNet(input_size=6, horizon=2, n_features=3)
    v = save_network(store, "GM", "tiny", net, {})
    assert json.loads((v.path / "meta.json").read_text())["revision"] == TinyNet.REVISION == 1
    old = {"class": "tiny", "hparams": net.hparams}  # written before revisions were recorded: revision 1
    store.save("GM", "old", net.state_dict(), old)
    assert torch.equal(load_network(store, "GM", "old", build=_build).body[0].bias, net.body[0].bias)

    class TinyNetV2(TinyNet):
        REVISION = 2

    with pytest.raises(IntegrityError, match="revision 1 of tiny.*revision 2.*retrain") as err:
        load_network(store, "GM", "old", build=lambda name, **hp: TinyNetV2(**hp))
    assert "GM/old/" in str(err.value)
    save_networks(store, "GM", "ens", {"tiny": net}, {})
    with pytest.raises(IntegrityError, match="revision 1 of tiny"):
        load_networks(store, "GM", "ens", build=lambda name, **hp: TinyNetV2(**hp))


@pytest.mark.parametrize("bad", ["../escape", "a/b", "..", ".hidden", "x\x00y", "C:evil", "C:\\evil", "\\\\srv\\share",
                                 "/abs", "a" * 200, ""])
def test_unsafe_names_and_versions_never_reach_the_file_system(tmp_path: Path, bad: str) -> None:
    store = ModelStore(tmp_path / "store")
    with pytest.raises(ModelError, match="invalid model name"):
        store.save("GM", bad, _tensors(), META)
    with pytest.raises(ModelError, match="invalid model name"):
        store.resolve("GM", bad)
    store.save("GM", "ok", _tensors(), META)
    with pytest.raises(ModelError, match="invalid version"):
        store.resolve("GM", "ok", bad or "x/")
    with pytest.raises(ModelError, match="invalid model name"):
        store.prune("GM", bad, keep=0, protected=set())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["store"]


def _break(store: ModelStore, kind: str, name: str, version: str) -> None:
    (store.root / kind / name / version / "meta.json").write_text("{not json", encoding="utf-8")


def test_a_broken_version_is_listed_and_skipped_by_latest_and_prunable(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    old = store.save("GM", "nvda", _tensors(0), META)
    new = store.save("GM", "nvda", _tensors(1), META)
    other = store.save("GM", "amd", _tensors(2), META)
    _break(store, "GM", "nvda", new.version)
    listed = {v.ref: v for v in store.list()}
    assert set(listed) == {old.ref, new.ref, other.ref}
    assert listed[new.ref].broken and "not valid JSON" in listed[new.ref].problem and not listed[old.ref].broken
    assert store.resolve("GM", "nvda") == old.path  # latest readable
    removed = store.prune("GM", "nvda", keep=1, protected=set())
    assert [v.ref for v in removed] == [new.ref]
    assert [v.ref for v in store.list("GM")] == [other.ref, old.ref]


def test_a_model_with_only_broken_versions_says_how_to_clean_up(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    only = store.save("GM", "nvda", _tensors(0), META)
    _break(store, "GM", "nvda", only.version)
    with pytest.raises(IntegrityError, match=r"no readable version of 'GM/nvda' \(1 broken\)") as err:
        store.resolve("GM", "nvda")
    assert "not valid JSON" in str(err.value) and "bt-models prune GM/nvda --keep 0" in str(err.value)
    assert [v.ref for v in store.prune("GM", "nvda", keep=0, protected=set())] == [only.ref]


def test_a_tampered_member_name_is_refused_before_any_path(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    v = save_networks(store, "GM", "ens", {"a": TinyNet(input_size=4, horizon=1, n_features=2)}, {})
    meta_path = v.path / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta["members"] = {"../../evil": meta["members"]["a"]}
    # Re-derive the content id the way an attacker who knows the scheme would, so only the name check is left.
    from ml.store import _version_id
    meta["version"] = _version_id(meta["sha256"], meta)
    forged = v.path.parent / meta["version"]
    v.path.rename(forged)
    meta_path = forged / "meta.json"
    meta_path.write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(IntegrityError, match="not a safe name"):
        load_networks(store, "GM", "ens", meta["version"], build=_build)
