"""GMPredictor: batch and one-bar-at-a-time signals agree on the same bars; bad requests fail clearly."""
from __future__ import annotations

import numpy as np
import pytest

from ground.signals import GM_FORECAST
from ml.errors import ModelError
from ml.gm.features import WARMUP_BARS, build_features
from ml.gm.predictor import GMPredictor
from ml.gm.runner import train_fold
from ml.gm.walkforward import make_folds
from tests.ml.gm.test_ensemble import WF, tiny_config
from tests.ml.gm.test_features import price_frame


@pytest.fixture(scope="module")
def trained():  # type: ignore[no-untyped-def]
    frame = price_frame(300, seed=11)
    features = build_features(frame, WF.horizon)
    fold = make_folds(features.index, features.index[250], None, WF)[0]
    ensemble, _ = train_fold(frame, features, fold, WF, tiny_config())
    return frame, features, GMPredictor(ensemble)


def test_batch_and_incremental_signals_are_identical(trained) -> None:  # type: ignore[no-untyped-def]
    frame, features, predictor = trained
    rows = list(range(len(features) - 12, len(features)))  # includes the last bar, whose future lies past the data
    batch = predictor.predict_batch(features, rows)
    for r in rows:
        one = predictor.predict_one(frame.iloc[: r + WARMUP_BARS + 1])  # the price frame ends at that bar
        assert one["date"] == features.index[r]
        for col in GM_FORECAST:
            assert one[col] == pytest.approx(batch.loc[features.index[r], col], abs=1e-6, rel=0), (r, col)


def test_a_live_frame_with_shorter_history_gives_the_same_signal(trained) -> None:  # type: ignore[no-untyped-def]
    frame, features, predictor = trained
    L = predictor.ensemble.sequence_length
    recent = frame.iloc[-(L + WARMUP_BARS) :]  # only the bars a live session needs
    one = predictor.predict_one(recent)
    assert one == predictor.predict_one(frame)  # bit for bit: features are window-local
    batch = predictor.predict_batch(features, [len(features) - 1])
    assert np.allclose([one[c] for c in GM_FORECAST], batch.iloc[0].to_numpy(), atol=1e-6, rtol=0)


def test_one_bar_reads_only_the_bars_its_inputs_need(trained) -> None:  # type: ignore[no-untyped-def]
    """Older history cannot reach a bar's forecast: a broken price far back changes nothing (and costs nothing)."""
    frame, _, predictor = trained
    L = predictor.ensemble.sequence_length
    broken = frame.copy()
    broken.iloc[: len(frame) - (L + WARMUP_BARS), 3] = -1.0  # closes that build_features would refuse
    assert predictor.predict_one(broken) == predictor.predict_one(frame)
    damaged = frame.copy()
    damaged.iloc[-(L + WARMUP_BARS), 3] *= 1.5  # the oldest bar it does read
    assert predictor.predict_one(damaged) != predictor.predict_one(frame)


def test_signals_do_not_depend_on_other_rows_in_the_batch(trained) -> None:  # type: ignore[no-untyped-def]
    _, features, predictor = trained
    rows = np.arange(len(features) - 30, len(features))
    whole = predictor.predict_batch(features, rows)
    shuffled = predictor.predict_batch(features, rows[::-1])
    assert np.allclose(whole.to_numpy(), shuffled.iloc[::-1].to_numpy(), atol=1e-6, rtol=0)
    assert predictor.predict_batch(features, []).empty


def test_too_little_history_and_wrong_horizon_fail_clearly(trained) -> None:  # type: ignore[no-untyped-def]
    frame, features, predictor = trained
    L = predictor.ensemble.sequence_length
    with pytest.raises(ModelError, match=f"needs {L} rows"):
        predictor.predict_batch(features, [L - 2])
    with pytest.raises(ModelError, match=f"needs {L} rows"):
        predictor.predict_one(frame.iloc[: WARMUP_BARS + L - 1])
    with pytest.raises(ModelError, match="horizon"):
        predictor.predict_batch(build_features(frame, horizon=WF.horizon + 1), [len(features) - 1])
