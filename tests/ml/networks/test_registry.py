"""The network registry: names, lookups with suggestions, validated construction, size presets."""
from __future__ import annotations

import pytest

from ml.errors import ModelError
from ml.networks.base import ForecastNetwork
from ml.networks.registry import NETWORK_NAMES, SIZES, build_network, default_hparams, get_network, valid_hparams

DATA = {"input_size": 16, "horizon": 4, "n_features": 3, "n_targets": 1}


def test_names_are_the_single_source_and_each_class_carries_its_name() -> None:
    assert NETWORK_NAMES == ("informer", "tft", "nbeats", "tsmixer", "tsmixerx")
    for name in NETWORK_NAMES:
        cls = get_network(name)
        assert issubclass(cls, ForecastNetwork) and cls.name == name and get_network(name) is cls


def test_reading_names_imports_no_network() -> None:
    import subprocess
    import sys

    code = "import sys, ml.networks.registry as r; r.NETWORK_NAMES; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_unknown_name_suggests_close_matches() -> None:
    with pytest.raises(ModelError, match="'informer'") as err:
        get_network("infromer")
    assert "tsmixer" in str(err.value)  # the valid names are listed too


def test_unknown_hyperparameter_names_the_valid_ones() -> None:
    with pytest.raises(ModelError, match="'d_model'") as err:
        build_network("informer", **DATA, d_modle=32)
    assert "n_heads" in str(err.value)
    assert set(valid_hparams("tft")) >= {"input_size", "horizon", "hidden_size", "n_static", "quantiles"}


def test_bad_values_and_missing_dimensions_are_model_errors() -> None:
    with pytest.raises(ModelError, match="divisible"):
        build_network("informer", **DATA, d_model=30, n_heads=4)
    with pytest.raises(ModelError, match="'layer'"):
        build_network("tsmixer", **DATA, norm="layers")
    with pytest.raises(ModelError, match="n_targets"):
        build_network("nbeats", **{**DATA, "n_targets": 4})
    with pytest.raises(ModelError, match="input_size"):
        build_network("tft", horizon=4, n_features=3)


@pytest.mark.parametrize("name", list(NETWORK_NAMES))
def test_presets_build_and_grow_with_size(name: str) -> None:
    counts = []
    for size in ("tiny", "small"):
        net = build_network(name, **DATA, **default_hparams(name, size))
        assert net.hparams == {**net.hparams, **default_hparams(name, size)}
        counts.append(sum(p.numel() for p in net.parameters()))
    assert counts[0] < counts[1]
    assert set(default_hparams(name, "base")) <= set(valid_hparams(name))
    assert set(SIZES) == set(get_network(name).SIZES)


def test_presets_are_fresh_copies_and_unknown_sizes_fail() -> None:
    preset = default_hparams("tft", "tiny")
    preset["hidden_size"] = 999
    assert default_hparams("tft", "tiny")["hidden_size"] != 999
    with pytest.raises(ModelError, match="'small'"):
        default_hparams("tft", "smal")
