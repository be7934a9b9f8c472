"""Families that score a linear head over per-sentence features: TF-IDF n-grams, frozen
embeddings, or a fine-tuned encoder's pooled output. The head sees each sentence's features
beside the mean features of its neighbours (``models.context``), one logistic score per label.

Serving is the same for all of them: features -> context -> ``sigmoid(X @ coef_.T + intercept_)``;
the head is kept as plain arrays in ``head.npz`` (read with ``allow_pickle=False``).
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from annotated_types import Ge, Gt

from models.base import Classifier, Params, sigmoid
from models.context import with_context
from models.scoring import mean_log_loss

HEAD_FILE = "head.npz"


@dataclass
class LinearHeadParams(Params):
    """The head's hyper-parameters, shared by the linear families (each sets its own default C)."""

    C: Annotated[float, Gt(0)] = 4.0  # inverse L2 strength of each label's logistic regression
    class_weight: Literal["balanced"] | None = "balanced"
    max_iter: Annotated[int, Ge(10)] = 2000


class LinearHeadClassifier(Classifier):
    run_name_keys = {"C": "C", "class_weight": "cw"}
    @abstractmethod
    def _features(self, texts: list[str]):
        """Per-sentence features (sparse or dense), one row per text, no context."""

    def _predict_proba(self, texts, doc_ids):
        return self._head(self._features(texts), doc_ids)

    def _head(self, X, doc_ids) -> np.ndarray:
        """Probabilities from per-sentence features ``X``: context, then the linear head."""
        return sigmoid(self._logits(with_context(X, doc_ids, self.params.context)))

    def _logits(self, features) -> np.ndarray:
        """The head's log-odds for features that already hold their context blocks."""
        return np.asarray(features @ self.coef_.T) + self.intercept_

    def word_evidence(self, texts: list[str], doc_ids, rows) -> dict:
        """Per row in ``rows``: ``(start, end, weights)`` for each word, ``weights[k]`` its part in
        label k's log-odds (``models.evidence``; leave-one-word-out unless a family knows better)."""
        from models.evidence import occlusion

        return occlusion(self, list(texts), doc_ids, list(rows))

    def _fit_head(self, X, Y, doc_ids, validation, on_epoch) -> None:
        """A closed-form fit on features ``X``, reported as one epoch like the iterative families."""
        p = self.params
        X = with_context(X, doc_ids, p.context)
        self.coef_, self.intercept_ = fit_linear_head(X, Y, p.C, p.class_weight, self.seed, p.max_iter)
        if on_epoch is not None:
            train_loss = mean_log_loss(Y, sigmoid(X @ self.coef_.T + self.intercept_))
            on_epoch(1, self.epoch_metrics(train_loss, validation))

    def _save_head(self, folder: Path) -> None:
        np.savez(folder / HEAD_FILE, coef=self.coef_, intercept=self.intercept_)

    def _load_head(self, folder: Path) -> None:
        with np.load(folder / HEAD_FILE, allow_pickle=False) as arrays:
            self.coef_, self.intercept_ = arrays["coef"], arrays["intercept"]


def fit_linear_head(X, Y: np.ndarray, C: float, class_weight, seed: int,
                    max_iter: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    """One logistic regression per label: (coef (n_labels, n_features), intercept (n_labels,)).

    Sparse n-gram features use liblinear, in its dual form when features outnumber sentences
    (~30x faster there, same solution); dense embeddings use lbfgs.
    """
    import scipy.sparse as sp
    from sklearn.linear_model import LogisticRegression

    if sp.issparse(X):
        solver = {"solver": "liblinear", "dual": X.shape[1] > X.shape[0]}
    else:
        solver = {"solver": "lbfgs"}
    coef, intercept = np.zeros((Y.shape[1], X.shape[1])), np.zeros(Y.shape[1])
    for j in range(Y.shape[1]):
        if Y[:, j].min() == Y[:, j].max():  # a label that is always (or never) on: constant score
            intercept[j] = 20.0 if Y[0, j] else -20.0
            continue
        head = LogisticRegression(C=C, class_weight=class_weight, max_iter=max_iter, random_state=seed,
                                  **solver).fit(X, Y[:, j])
        coef[j], intercept[j] = head.coef_[0], head.intercept_[0]
    return coef, intercept
