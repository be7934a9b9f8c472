"""The servable model: a fitted family classifier + its label order + per-label thresholds.

Saved as one folder (``tagger.json`` + ``classifier/``). This folder is what MLflow logs and
registers, what ``readout tag`` loads and what the pyfunc wraps: one artefact, one ``predict``,
for every consumer.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models import FAMILIES
from models.base import Classifier

FORMAT_VERSION = 3  # 3: params.json holds typed params + context; encoder families keep the head in head.npz
MANIFEST = "tagger.json"


@dataclass
class Prediction:
    sentence: str
    labels: list[str]
    scores: dict[str, float]
    # For each label on: the words that drove it, strongest first (``Tagger.explain``)
    evidence: dict[str, list[Word]] | None = None

    def to_dict(self) -> dict:
        out = {"sentence": self.sentence, "labels": self.labels, "scores": self.scores}
        if self.evidence is not None:
            out["evidence"] = {label: [w.to_dict() for w in found] for label, found in self.evidence.items()}
        return out


@dataclass
class Word:
    """A word of a sentence and its part in one label's log-odds."""

    text: str
    start: int
    end: int
    weight: float

    def to_dict(self) -> dict:
        return {"word": self.text, "start": self.start, "end": self.end, "weight": self.weight}


class Tagger:
    def __init__(self, classifier: Classifier, labels: Sequence[str], thresholds: Sequence[float]):
        if len(labels) != len(thresholds):
            raise ValueError("one threshold per label")
        self.classifier = classifier
        self.labels = list(labels)
        self.thresholds_ = np.asarray(thresholds, dtype=np.float64)
        self.created: str | None = None  # when it was saved (UTC, ISO 8601); set by save and load

    @property
    def context(self):
        return self.classifier.params.context

    def predict_proba(self, texts: Sequence[str], doc_ids: Sequence[str | None] | None = None) -> np.ndarray:
        """Rows sharing a ``doc_id`` are one readout in reading order; None (or no doc_ids): alone."""
        return self.classifier.predict_proba(list(texts), doc_ids)

    def decide(self, proba: np.ndarray) -> np.ndarray:
        """0/1 decisions: a label is on when its probability reaches its own threshold."""
        return (proba >= self.thresholds_).astype(int)

    def predict(self, texts: Sequence[str], doc_ids: Sequence[str | None] | None = None) -> list[Prediction]:
        texts = list(texts)
        proba = self.predict_proba(texts, doc_ids)
        on = self.decide(proba).astype(bool).tolist()
        labels = self.labels
        return [
            Prediction(sentence=text, labels=[label for label, flag in zip(labels, row_on) if flag],
                       scores=dict(zip(labels, row_p)))
            for text, row_p, row_on in zip(texts, np.round(proba, 4).tolist(), on)
        ]

    def explain(self, predictions: list[Prediction], doc_ids: Sequence[str | None] | None = None,
                top: int = 5) -> list[Prediction]:
        """Fill in ``evidence`` for each label that is on: up to ``top`` words that pushed it up,
        strongest first (``models.evidence``). ``predictions`` and ``doc_ids`` as ``predict`` gave
        and took them, so each sentence is explained beside the same neighbours."""
        texts = [p.sentence for p in predictions]
        rows = [i for i, p in enumerate(predictions) if p.labels]
        found = self.classifier.word_evidence(texts, doc_ids, rows) if rows else {}
        index = {label: k for k, label in enumerate(self.labels)}
        for i, p in enumerate(predictions):
            p.evidence = {}
            for label in p.labels:
                k = index[label]
                ranked = sorted(((w[k], s, e) for s, e, w in found.get(i, [])), reverse=True)
                # Words far weaker than the strongest are noise to a reader: a quarter of it at least.
                floor = max(ranked[0][0] / 4, 0) if ranked else 0
                p.evidence[label] = [Word(p.sentence[s:e], s, e, round(float(weight), 3))
                                     for weight, s, e in ranked[:top] if weight > floor]
        return predictions

    def save(self, folder: str | Path) -> Path:
        folder = Path(folder)
        self.classifier.save(folder / "classifier")
        self.created = self.created or _now()
        manifest = {
            "format": FORMAT_VERSION,
            "family": self.classifier.name,
            "labels": self.labels,
            "thresholds": {label: float(t) for label, t in zip(self.labels, self.thresholds_)},
            "created": self.created,
        }
        (folder / MANIFEST).write_text(json.dumps(manifest, indent=2))
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> Tagger:
        folder = Path(folder)
        manifest = json.loads((folder / MANIFEST).read_text())
        if manifest.get("format") != FORMAT_VERSION:
            raise ValueError(f"saved in format {manifest.get('format')}, this version reads format {FORMAT_VERSION}; "
                             "retrain it with this version")
        family = FAMILIES[manifest["family"]]
        labels = manifest["labels"]
        tagger = cls(family.load(folder / "classifier"), labels, [manifest["thresholds"][label] for label in labels])
        tagger.created = manifest.get("created")
        return tagger


def _now() -> str:
    import datetime as dt

    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()
