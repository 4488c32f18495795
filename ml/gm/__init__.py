"""The GM ("guessing model") pipeline: features, windows, walk-forward folds, the ensemble, calibration and the
predictor. Shared pieces (networks, trainer, store, device, export, fusion) live beside it in ml/."""
