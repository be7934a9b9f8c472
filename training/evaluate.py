"""Multi-label metrics, plots and a text report; one metric vocabulary for every family.

Metric names: ``{split}_macro_f1``, ``{split}_micro_f1``, ``{split}_subset_accuracy``, and per
label ``{split}_f1_{label}``, ``{split}_precision_{label}``, ``{split}_recall_{label}``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def metrics(Y: np.ndarray, decisions: np.ndarray, labels: list[str], prefix: str) -> dict[str, float]:
    from sklearn.metrics import f1_score, precision_recall_fscore_support

    precision, recall, f1, _ = precision_recall_fscore_support(Y, decisions, average=None, zero_division=0)
    result = {
        f"{prefix}_macro_f1": f1_score(Y, decisions, average="macro", zero_division=0),
        f"{prefix}_micro_f1": f1_score(Y, decisions, average="micro", zero_division=0),
        f"{prefix}_subset_accuracy": float(np.mean(np.all(Y == decisions, axis=1))),
    }
    for j, label in enumerate(labels):
        result[f"{prefix}_f1_{label}"] = f1[j]
        result[f"{prefix}_precision_{label}"] = precision[j]
        result[f"{prefix}_recall_{label}"] = recall[j]
    return {name: round(float(value), 6) for name, value in result.items()}


def report(Y: np.ndarray, decisions: np.ndarray, labels: list[str]) -> str:
    from sklearn.metrics import classification_report

    return classification_report(Y, decisions, target_names=labels, zero_division=0, digits=3)


def plot_confusion_matrices(Y: np.ndarray, decisions: np.ndarray, labels: list[str], path: Path, title: str) -> Path:
    from sklearn.metrics import multilabel_confusion_matrix

    plt = _pyplot()
    matrices = multilabel_confusion_matrix(Y, decisions)
    fig, axes = plt.subplots(1, len(labels), figsize=(3.2 * len(labels), 3.2), squeeze=False)
    for ax, label, matrix in zip(axes[0], labels, matrices):
        ax.imshow(matrix, cmap="Blues")
        for (i, j), count in np.ndenumerate(matrix):
            ax.text(j, i, str(count), ha="center", va="center", color="white" if count > matrix.max() / 2 else "black")
        ax.set_title(label)
        ax.set_xticks([0, 1], ["no", "yes"])
        ax.set_yticks([0, 1], ["no", "yes"])
        ax.set_xlabel("predicted")
    axes[0][0].set_ylabel("true")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_precision_recall(Y: np.ndarray, proba: np.ndarray, thresholds: np.ndarray, labels: list[str], path: Path,
                          title: str) -> Path:
    from sklearn.metrics import average_precision_score, precision_recall_curve

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 5))
    for j, label in enumerate(labels):
        if not Y[:, j].any():
            continue
        precision, recall, cut = precision_recall_curve(Y[:, j], proba[:, j])
        ap = average_precision_score(Y[:, j], proba[:, j])
        line, = ax.plot(recall, precision, label=f"{label} (AP {ap:.2f}, t={thresholds[j]:.2f})")
        at = min(np.searchsorted(cut, thresholds[j]), len(cut) - 1)  # the operating point
        ax.plot(recall[at], precision[at], "o", color=line.get_color())
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.legend(loc="lower left", fontsize=8)
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only; never open a window
    import matplotlib.pyplot as plt

    return plt
