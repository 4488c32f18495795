"""A route that averages the class probabilities of several trained routes (``e5+fallback``, ``minilm-ft+e5``...).

The routes fail differently: a sentence encoder reads the whole headline but blurs polarity words that sit close
in its space ("narrower" and "wider" losses), while the hashed n-gram fallback keys on exactly those words and
characters ("收窄", "扭亏") but knows no paraphrase. Averaging their probabilities, with equal weights so that
nothing is fitted on validation data, corrected errors of each on our selection rows (docs/benchmarks.md).
Each member trains on the route's rows exactly as it would alone; the ensemble has no weights of its own.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

ENSEMBLE_SEP = "+"


def is_ensemble_spec(spec: str) -> bool:
    """Whether a routing entry names an ensemble of routes (``a+b``)."""
    return ENSEMBLE_SEP in spec


def member_specs(spec: str) -> list[str]:
    """The member specs of an ensemble entry, in order, without blanks."""
    return [part.strip() for part in spec.split(ENSEMBLE_SEP) if part.strip()]


class EnsembleRoute:
    """Equal-weight mean of the members' class probabilities; ``module`` holds the members' modules as ``m0``,
    ``m1``... so that the model's weights and ``state_dict`` cover every member."""

    kind = "ensemble"

    def __init__(self, specs: Sequence[str], members: Sequence[Any]) -> None:
        if len(members) < 2 or len(specs) != len(members):
            raise ValueError("EnsembleRoute: need two or more members, one spec each")
        self.specs, self.members = list(specs), list(members)
        self.module = nn.ModuleDict({f"m{i}": m.module for i, m in enumerate(self.members)})

    def featurize(self, texts: Sequence[str]) -> list[Any]:
        """Each member's features of the texts."""
        return [m.featurize(texts) for m in self.members]

    def prepare(self, features: Any, train_idx: np.ndarray) -> None:
        """Members prepare themselves when they are trained."""

    def logits(self, features: list[Any], idx: np.ndarray | None = None) -> torch.Tensor:
        """``[n, 3]`` log of the mean of the members' probabilities (a softmax of it gives that mean back)."""
        probs = torch.stack([torch.softmax(m.logits(f, idx).double(), dim=-1)
                             for m, f in zip(self.members, features, strict=True)])  # [M, n, 3]
        return probs.mean(dim=0).clamp(min=1e-12).log().float()  # [M, n, 3] -> [n, 3]

    def describe(self) -> dict[str, Any]:
        """JSON that rebuilds the ensemble: each member's own description."""
        return {"type": self.kind, "encoder": ENSEMBLE_SEP.join(self.specs),
                "members": [m.describe() for m in self.members]}

    @classmethod
    def from_description(cls, desc: dict[str, Any], wrap: Any,
                         route_types: Mapping[str, Callable[..., Any]]) -> EnsembleRoute:
        """Rebuild the members from their descriptions (``route_types``: the model's registry of route kinds)."""
        members = [route_types[m["type"]](m, wrap) for m in desc["members"]]
        return cls(member_specs(desc["encoder"]), members)
