"""The head of the families that fit logistic regression on fixed features (TF-IDF, frozen
embeddings): one binary model per label, kept as plain arrays (coef, intercept), scored with a sigmoid.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from models.base import EpochCallback, macro_f1, mean_log_loss


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


def report_single_epoch(predict_proba: Callable[[Sequence[str]], np.ndarray], texts, Y: np.ndarray,
                        validation, on_epoch: EpochCallback | None) -> None:
    """A closed-form fit reported as one epoch, with the metrics the iterative families report."""
    if on_epoch is None:
        return
    metrics = {"train_loss": mean_log_loss(Y, predict_proba(texts))}
    if validation is not None:
        Y_val, P_val = np.asarray(validation[1]), predict_proba(validation[0])
        metrics |= {"val_loss": mean_log_loss(Y_val, P_val), "val_macro_f1": macro_f1(Y_val, P_val)}
    on_epoch(1, metrics)
