"""Per-label decision thresholds, tuned on the validation split and stored with the model."""

from __future__ import annotations

import numpy as np

# A coarse grid: finer steps only fit the noise of a few hundred validation sentences.
GRID = np.round(np.arange(0.05, 0.951, 0.025), 3)


def tune_thresholds(Y: np.ndarray, proba: np.ndarray, fallback: float = 0.5) -> np.ndarray:
    """For each label, the grid threshold with the best F1 on (Y, proba).

    Ties go to the threshold nearest 0.5 (the calibrated default); a label with no positive
    example in ``Y`` keeps ``fallback``.
    """
    thresholds = np.full(Y.shape[1], fallback, dtype=np.float64)
    for j in range(Y.shape[1]):
        truth = Y[:, j].astype(bool)
        if not truth.any():
            continue
        predicted = proba[:, j][None, :] >= GRID[:, None]  # (grid, n)
        tp = (predicted & truth).sum(axis=1)
        fp = (predicted & ~truth).sum(axis=1)
        fn = (~predicted & truth).sum(axis=1)
        f1 = 2 * tp / np.maximum(2 * tp + fp + fn, 1)
        best = np.flatnonzero(np.isclose(f1, f1.max()))
        thresholds[j] = GRID[best[np.argmin(np.abs(GRID[best] - 0.5))]]
    return thresholds
