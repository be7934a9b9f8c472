"""Likely label errors in the training data: out-of-fold predictions (k folds by document, the
config's own family) ranked by cleanlab's multi-label label-issue finder.

Every sentence is scored by a model that never saw its readout; cleanlab
(``cleanlab.filter.find_label_issues(..., multi_label=True)``) flags the rows whose given labels
those scores contradict, ranked by cleanlab's multi-label label quality score (lowest first).
The labels the out-of-fold model would give (per-label thresholds tuned on the out-of-fold
scores, as training tunes them on validation) are shown beside the given ones, with what to
check: the sentence's own codebook clauses where the data names them (``clauses`` in the corpus),
else the codebook sections of the labels in question.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from training.config import Config
from training.errors import ReadoutError


@dataclass
class Finding:
    rank: int
    quality: float  # cleanlab's label quality score, 0 (surely wrong) .. 1
    text: str
    doc_id: str
    where: str  # file:line
    given: list[str]
    suggested: list[str]
    scores: dict[str, float]  # out-of-fold probabilities
    check: str

    def to_dict(self) -> dict:
        return {"rank": self.rank, "quality": round(self.quality, 4), "text": self.text, "doc_id": self.doc_id,
                "where": self.where, "labels": self.given, "suggested": self.suggested,
                "scores": {k: round(v, 4) for k, v in self.scores.items()}, "check": self.check}


def out_of_fold(config: Config, texts: list[str], Y: np.ndarray, groups: list[str], k: int,
                progress: Callable[[str], None] = lambda message: None) -> np.ndarray:
    """Each row's probabilities from a model fitted on the other folds; folds are whole documents."""
    from sklearn.model_selection import GroupKFold

    from models import classifier_for

    n_docs = len(set(groups))
    if not 2 <= k <= n_docs:
        raise ReadoutError(f"-k must be between 2 and the number of documents ({n_docs}), got {k}")
    proba = np.zeros(Y.shape, dtype=np.float64)
    folds = GroupKFold(n_splits=k, shuffle=True, random_state=config.seed).split(texts, Y, groups)
    for fold, (train, held_out) in enumerate(folds, start=1):
        progress(f"fold {fold}/{k}: fitting {config.family} on {len(train)} sentences, scoring {len(held_out)}")
        model = classifier_for(config.model, config.seed)
        model.fit([texts[i] for i in train], Y[train], [groups[i] for i in train])
        # held_out is in file order, so each held-out readout is read in reading order
        proba[held_out] = model.predict_proba([texts[i] for i in held_out], [groups[i] for i in held_out])
    return proba


def audit(config: Config, k: int = 5, progress: Callable[[str], None] = lambda message: None) -> list[Finding]:
    """The likely label errors of the config's data, most likely first."""
    from training.data import binarize, read_rows
    from training.thresholds import tune_thresholds

    rows = read_rows(config.data)
    labels = config.data.labels
    texts, groups = [r["text"] for r in rows], [r["group"] for r in rows]
    Y = binarize([r["labels"] for r in rows], labels)
    proba = out_of_fold(config, texts, Y, groups, k, progress)
    from cleanlab.filter import find_label_issues
    from cleanlab.multilabel_classification import get_label_quality_scores

    given = [list(np.flatnonzero(row)) for row in Y]
    progress(f"finding label issues among {len(rows)} sentences (cleanlab)")
    flagged = find_label_issues(given, proba, multi_label=True, return_indices_ranked_by="self_confidence")
    quality = get_label_quality_scores(given, proba)
    thresholds = tune_thresholds(Y, proba, fallback=config.thresholds.value, tolerance=config.thresholds.tolerance)
    decided = proba >= thresholds
    findings = []
    for rank, i in enumerate(sorted(flagged, key=lambda i: quality[i]), start=1):
        row = rows[i]
        suggested = [label for label, on in zip(labels, decided[i]) if on]
        findings.append(Finding(rank=rank, quality=float(quality[i]), text=row["text"], doc_id=row["group"],
                                where=f"{row['file']}:{row['line']}", given=row["labels"], suggested=suggested,
                                scores=dict(zip(labels, map(float, proba[i]))),
                                check=_what_to_check(row, suggested, proba[i], Y[i], labels)))
    return findings


def _what_to_check(row: dict, suggested: list[str], proba: np.ndarray, y: np.ndarray, labels: list[str]) -> str:
    """The clauses the sentence was labelled under, where the data names them, else the codebook
    sections of the labels in question (the ones given and suggested disagree on)."""
    clauses = row["record"].get("clauses")
    disputed = sorted(set(row["labels"]) ^ set(suggested), key=labels.index)
    if not disputed:  # cleanlab doubts a label the thresholds keep: the one furthest from its score
        disputed = [labels[int(np.argmax(np.abs(y - proba)))]]
    sections = "codebook: " + ", ".join(disputed) + ("; No label" if not suggested else "")
    if isinstance(clauses, list) and clauses:
        return f"clauses {', '.join(map(str, clauses))} ({sections})"
    return sections
