"""The one interface every model family honours; the training pipeline never branches on family.

A family is a ``Classifier`` subclass with
- ``name``: its ``model.family`` value, and ``Params``: a dataclass of its hyper-parameters
  (``models.checked``: bounds as ``Annotated`` constraints) whose ``family`` field is
  ``Literal[name]`` (the config's discriminator);
- ``__init__(params, seed)``: the validated ``Params`` and a seed, nothing learned (scikit-learn style);
- ``_fit(texts, Y, doc_ids, validation, on_epoch)``: ``Y`` is an (n, n_labels) 0/1 array,
  ``doc_ids`` the readout of each row (None: each row alone; see ``models.context``),
  ``validation`` an optional ``Labelled`` for early stopping, ``on_epoch(step, metrics)`` called
  once per epoch with ``epoch_metrics``;
- ``_predict_proba(texts, doc_ids)``: an (n, n_labels) array in the label order of ``Y``;
- ``_save(folder)`` / ``_load(folder)``: the learned state (the base writes ``params.json``);
- optionally ``requirements`` (what serving needs beyond the base pins), ``run_name_keys``
  (the params that name a run) and ``missing_resources(params)`` (a one-line problem, say a
  missing encoder folder, found before any work starts).

What is learned ends in ``_``. Modules of families import heavy libraries inside methods, so
reading a config stays instant.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, NamedTuple

import numpy as np

from models.checked import Checked
from models.context import Context
from models.scoring import macro_f1, mean_log_loss

EpochCallback = Callable[[int, dict[str, float]], None]
PARAMS_FILE = "params.json"


@dataclass
class Params(Checked):
    """Base of each family's hyper-parameters (a config's unknown keys are errors: training.config)."""

    context: Context = field(default_factory=Context)


class Labelled(NamedTuple):
    """Sentences with their 0/1 labels and the readout each belongs to (None: alone)."""

    texts: list[str]
    Y: np.ndarray
    doc_ids: list[str | None] | None = None


class Classifier(ABC):
    name: ClassVar[str]
    Params: ClassVar[type[Params]]
    requirements: ClassVar[tuple[str, ...]] = ()  # pip names serving needs beyond the base pins
    run_name_keys: ClassVar[dict[str, str]] = {}  # param -> short name in a run's name

    def __init__(self, params: Params | None = None, seed: int = 0) -> None:
        self.params = params if params is not None else self.Params()
        self.seed = seed

    # ---- the contract ---------------------------------------------------------------------

    def fit(self, texts: Sequence[str], Y, doc_ids: Sequence[str | None] | None = None,
            validation: Labelled | tuple | None = None, on_epoch: EpochCallback | None = None) -> Classifier:
        Y = np.asarray(Y)
        self.n_labels_ = Y.shape[1]
        validation = Labelled(list(validation[0]), np.asarray(validation[1]), *validation[2:]) if validation else None
        self._fit(list(texts), Y, _ids(doc_ids), validation, on_epoch)
        return self

    def predict_proba(self, texts: Sequence[str], doc_ids: Sequence[str | None] | None = None) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.n_labels_))
        return self._predict_proba(texts, _ids(doc_ids))

    def save(self, folder: Path) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        state = {"seed": self.seed, "n_labels": self.n_labels_, "params": self.params.to_dict()}
        (folder / PARAMS_FILE).write_text(json.dumps(state))
        self._save(folder)

    @classmethod
    def load(cls, folder: Path) -> Classifier:
        folder = Path(folder)
        state = json.loads((folder / PARAMS_FILE).read_text())
        model = cls(cls.Params(**state["params"]), seed=state["seed"])
        model.n_labels_ = state["n_labels"]
        model._load(folder)
        return model

    @classmethod
    def missing_resources(cls, params: Params) -> str | None:
        return None

    @classmethod
    def run_name(cls, params: Params) -> str:
        parts = [cls.name] + [f"{short}={getattr(params, key)}" for key, short in cls.run_name_keys.items()]
        if params.context.enabled:
            weight = "" if params.context.weight == 1 else f"x{params.context.weight:g}"
            readout = "+doc" if params.context.readout else ""
            parts.append(f"ctx={params.context.before}+{params.context.after}{readout}{weight}")
        return " ".join(parts)

    # ---- what each family writes ----------------------------------------------------------

    @abstractmethod
    def _fit(self, texts: list[str], Y: np.ndarray, doc_ids: list | None, validation: Labelled | None,
             on_epoch: EpochCallback | None) -> None: ...

    @abstractmethod
    def _predict_proba(self, texts: list[str], doc_ids: list | None) -> np.ndarray: ...

    @abstractmethod
    def _save(self, folder: Path) -> None: ...

    @abstractmethod
    def _load(self, folder: Path) -> None: ...

    # ---- shared by the families -----------------------------------------------------------

    def epoch_metrics(self, train_loss: float, validation: Labelled | None, proba=None) -> dict[str, float]:
        """What every family reports per epoch: train loss and, with validation data, its loss
        and macro-F1 at threshold 0.5 (tuned thresholds come after training). ``proba(texts,
        doc_ids)`` scores the model as it is mid-training (default: ``predict_proba``)."""
        metrics = {"train_loss": train_loss}
        if validation is not None:
            P = (proba or self.predict_proba)(validation.texts, validation.doc_ids)
            metrics |= {"val_loss": mean_log_loss(validation.Y, P),
                        "val_macro_f1": macro_f1(validation.Y, P >= 0.5)}
        return metrics


def _ids(doc_ids) -> list | None:
    return None if doc_ids is None else [None if d is None else str(d) for d in doc_ids]


def sigmoid(scores) -> np.ndarray:
    """Probabilities from logits (every family scores each label independently)."""
    return 1.0 / (1.0 + np.exp(-np.asarray(scores, dtype=np.float64)))
