"""Multi-label scores in NumPy: the one F1 implementation that training, threshold tuning and
evaluation share (per label, macro, micro), and the loss every family reports."""

from __future__ import annotations

import numpy as np


def counts(Y: np.ndarray, decisions: np.ndarray, axis: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """True positives, false positives and false negatives of 0/1 arrays, summed over ``axis``."""
    truth, predicted = np.asarray(Y).astype(bool), np.asarray(decisions).astype(bool)
    tp = (truth & predicted).sum(axis=axis)
    fp = (~truth & predicted).sum(axis=axis)
    fn = (truth & ~predicted).sum(axis=axis)
    return tp, fp, fn


def f1(tp, fp, fn) -> np.ndarray:
    """F1 from counts; 0 where a label has neither predictions nor positives (scikit-learn's zero_division=0)."""
    tp, fp, fn = (np.asarray(v, dtype=np.float64) for v in (tp, fp, fn))
    return np.divide(2 * tp, 2 * tp + fp + fn, out=np.zeros_like(tp), where=(2 * tp + fp + fn) > 0)


def per_label(Y: np.ndarray, decisions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(precision, recall, F1) per label."""
    tp, fp, fn = (v.astype(np.float64) for v in counts(Y, decisions))
    precision = np.divide(tp, tp + fp, out=np.zeros_like(tp), where=(tp + fp) > 0)
    recall = np.divide(tp, tp + fn, out=np.zeros_like(tp), where=(tp + fn) > 0)
    return precision, recall, f1(tp, fp, fn)


def macro_f1(Y: np.ndarray, decisions: np.ndarray) -> float:
    return float(np.mean(per_label(Y, decisions)[2]))


def micro_f1(Y: np.ndarray, decisions: np.ndarray) -> float:
    tp, fp, fn = (v.sum() for v in counts(Y, decisions))
    return float(f1(tp, fp, fn))


def mean_log_loss(Y: np.ndarray, P: np.ndarray) -> float:
    """Binary cross-entropy averaged over labels and sentences."""
    P = np.clip(P, 1e-7, 1 - 1e-7)
    return float(-np.mean(Y * np.log(P) + (1 - Y) * np.log(1 - P)))
