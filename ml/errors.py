"""Model-side user errors (bad hyperparameters, tampered model files, too little history)."""
from __future__ import annotations

from ground.errors import UserInputError


class ModelError(UserInputError):
    """A model cannot be built, trained or loaded because of something the user can fix."""


class IntegrityError(ModelError):
    """A stored model failed its integrity checks (hash mismatch, truncated file, unknown schema)."""
