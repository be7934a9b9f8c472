"""Evaluation: a ``Report`` of a tagger on the validation and test splits (metrics, plots, a text
report), and the score of a model on any labelled file. One metric vocabulary for every family.

Metric names: ``{split}_macro_f1``, ``{split}_micro_f1``, ``{split}_subset_accuracy``, and per
label ``{split}_f1_{label}``, ``{split}_precision_{label}``, ``{split}_recall_{label}``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from models import scoring

PREFIXES = {"validation": "val", "test": "test"}


@dataclass
class SplitScores:
    split: str
    Y: np.ndarray
    proba: np.ndarray
    decisions: np.ndarray


@dataclass
class Report:
    """How a tagger scores on the evaluated splits: what a run logs and a sweep compares."""

    labels: list[str]
    thresholds: dict[str, float]
    splits: list[SplitScores] = field(default_factory=list)

    @cached_property  # read by the run log and the run result: computed once, after evaluate() fills it
    def metrics(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for s in self.splits:
            out |= metrics(s.Y, s.decisions, self.labels, PREFIXES.get(s.split, s.split))
        return out

    def write(self, folder: Path) -> None:
        """Plots per split, the classification report and the thresholds, as files in ``folder``."""
        texts = []
        for s in self.splits:
            plot_confusion_matrices(s.Y, s.decisions, self.labels, folder / f"confusion_{s.split}.png",
                                    f"{s.split}: per-label confusion")
            plot_precision_recall(s.Y, s.proba, np.array(list(self.thresholds.values())), self.labels,
                                  folder / f"pr_curve_{s.split}.png", f"{s.split}: precision-recall (dot = threshold)")
            texts.append(f"== {s.split} ==\n" + report(s.Y, s.decisions, self.labels))
        (folder / "classification_report.txt").write_text("\n".join(texts))
        (folder / "thresholds.json").write_text(json.dumps(self.thresholds, indent=2))


def evaluate(tagger, data, splits=("validation", "test"), known: dict[str, np.ndarray] | None = None) -> Report:
    """Score ``tagger`` on ``splits`` of ``data``, each readout read in order; ``known`` holds
    probabilities already computed for a split (the validation ones used to tune thresholds)."""
    known = known or {}
    result = Report(tagger.labels, dict(zip(tagger.labels, map(float, tagger.thresholds_))))
    for split in splits:
        proba = known.get(split)
        if proba is None:
            proba = tagger.predict_proba(data.texts(split), data.doc_ids(split))
        result.splits.append(SplitScores(split, data.Y(split), proba, tagger.decide(proba)))
    return result


def evaluate_file(path: Path, tagger) -> dict[str, float]:
    """Scores of ``tagger`` on a labelled JSONL/CSV file, readouts (``doc_id``) read in order."""
    from training.config import DataConfig
    from training.data import binarize, read_rows

    rows = read_rows(DataConfig(path=path, labels=tagger.labels, split_field=None), require_group=False)
    Y = binarize([r["labels"] for r in rows], tagger.labels)
    decisions = tagger.decide(tagger.predict_proba([r["text"] for r in rows], [r["group"] for r in rows]))
    scores = {k.removeprefix("eval_"): v for k, v in metrics(Y, decisions, tagger.labels, "eval").items()}
    return scores | {"sentences": len(rows)}


def metrics(Y: np.ndarray, decisions: np.ndarray, labels: list[str], prefix: str) -> dict[str, float]:
    precision, recall, f1 = scoring.per_label(Y, decisions)
    result = {
        f"{prefix}_macro_f1": float(np.mean(f1)),
        f"{prefix}_micro_f1": scoring.micro_f1(Y, decisions),
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
