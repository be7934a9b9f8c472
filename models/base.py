"""The one interface every model family honours; the training pipeline never branches on family.

A family is a class with
- ``name``: the ``model.family`` value in a config;
- ``Params``: a strict pydantic model of its hyper-parameters (validated with the config);
- ``__init__(seed=..., **params)``: hyper-parameters only, nothing learned (scikit-learn style);
- ``fit(texts, Y, validation=None, on_epoch=None) -> self``: ``Y`` is an (n, n_labels) 0/1 array;
  ``validation`` an optional ``(texts, Y)`` pair for early stopping; ``on_epoch(step, metrics)`` is
  called once per epoch with a dict of floats (train_loss, val_loss, val_macro_f1, ...);
- ``predict_proba(texts) -> ndarray`` of shape (n, n_labels), column order = the label order of ``Y``;
- ``save(folder)`` and ``classmethod load(folder)``: everything needed to predict offline;
- ``missing_resources(params) -> str | None``: a one-line problem (say, a missing encoder folder)
  found before any work starts.

Modules of families import heavy libraries inside methods, so reading a config stays instant.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict

EpochCallback = Callable[[int, dict[str, float]], None]


class Params(BaseModel):
    """Base for each family's hyper-parameter schema: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", validate_default=True)


class Classifier:
    name: ClassVar[str]
    Params: ClassVar[type[Params]]

    def __init__(self, seed: int = 0, **params: Any) -> None:
        self.seed = seed
        self.params = self.Params.model_validate(params)

    def fit(
        self,
        texts: Sequence[str],
        Y: np.ndarray,
        validation: tuple[Sequence[str], np.ndarray] | None = None,
        on_epoch: EpochCallback | None = None,
    ) -> Classifier:
        raise NotImplementedError

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        raise NotImplementedError

    def save(self, folder: Path) -> None:
        raise NotImplementedError

    @classmethod
    def load(cls, folder: Path) -> Classifier:
        raise NotImplementedError

    @staticmethod
    def missing_resources(params: dict[str, Any]) -> str | None:
        return None


def sigmoid(scores) -> np.ndarray:
    """Probabilities from logits (every family scores each label independently)."""
    return 1.0 / (1.0 + np.exp(-np.asarray(scores, dtype=np.float64)))


def mean_log_loss(Y: np.ndarray, P: np.ndarray) -> float:
    """Binary cross-entropy averaged over labels and sentences (the loss every family reports)."""
    P = np.clip(P, 1e-7, 1 - 1e-7)
    return float(-np.mean(Y * np.log(P) + (1 - Y) * np.log(1 - P)))


def macro_f1(Y: np.ndarray, proba: np.ndarray, threshold: float = 0.5) -> float:
    """Macro-F1 at one fixed threshold: the per-epoch score (tuned thresholds come after training)."""
    from sklearn.metrics import f1_score

    return float(f1_score(Y, (proba >= threshold).astype(int), average="macro", zero_division=0))
