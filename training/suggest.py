"""Which unlabelled sentences are most worth labelling: the ones the model is least sure of,
spread over labels and readouts, near-duplicates removed (what ``readout suggest`` writes).

Uncertainty is per label: how far a sentence's score is from that label's threshold, as a share
of the way to 0 (below it) or to 1 (above it), so 0 is on the threshold and 1 is certain, and a
label with a low threshold counts the same as one at 0.5. A sentence is as uncertain as its most
uncertain label, and is queued under that label. Suggestions are then taken in turn from each
label's queue (most uncertain first), with at most ``ceil(n / readouts)`` from one readout until
no other readout has candidates left, so they spread over labels and documents. A sentence is a
near-duplicate of one already taken when their normalised texts are equal or their character
5-gram sets overlap by ``NEAR_DUPLICATE`` (Jaccard) or more: readouts repeat boilerplate, and
one label for it is enough.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from training.archive import Readout
from training.batch import tag_readouts
from training.errors import ReadoutError

NEAR_DUPLICATE = 0.7  # Jaccard of character 5-grams; boilerplate with a changed date or name scores > 0.8
SHINGLE = 5
NEIGHBOURS = 2  # sentences kept before and after each suggestion, shown when labelling


@dataclass
class Candidate:
    readout: int  # position in the input
    index: int  # sentence position in its readout
    text: str
    scores: np.ndarray
    distance: float  # to the nearest threshold, 0 (on it) .. 1 (certain)
    label: int  # the label whose threshold it is nearest


def threshold_distance(proba: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Per label, 0 on the threshold and 1 at 0 or 1: the way from the threshold to the nearer end."""
    t = np.clip(np.asarray(thresholds, dtype=np.float64), 1e-6, 1 - 1e-6)
    return np.where(proba >= t, (proba - t) / (1 - t), (t - proba) / t)


def normalised(text: str) -> str:
    return " ".join(re.sub(r"[^\w]+", " ", text.casefold()).split())


def shingles(text: str) -> set[str]:
    norm = normalised(text)
    return {norm[i:i + SHINGLE] for i in range(max(1, len(norm) - SHINGLE + 1))}


def suggestion_id(doc_id: str, index: int, text: str) -> str:
    """Stable across runs: the same sentence of the same readout keeps its id (labelled once)."""
    return "s-" + hashlib.sha1(f"{doc_id}\0{index}\0{text}".encode()).hexdigest()[:12]


def pick(candidates: list[Candidate], n: int, n_labels: int, exclude: set[str] = frozenset()) -> list[Candidate]:
    """Up to ``n`` candidates: in turn from each label's queue, most uncertain first, at most a
    fair share per readout while others still have candidates, no near-duplicates and nothing
    whose normalised text is in ``exclude``."""
    queues = [sorted((c for c in candidates if c.label == j), key=lambda c: c.distance) for j in range(n_labels)]
    cap = max(1, math.ceil(n / max(1, len({c.readout for c in candidates}))))
    taken: list[Candidate] = []
    grams_taken: list[set[str]] = []
    seen = {normalised(t) for t in exclude}
    per_doc: dict[int, int] = {}

    def take_from(queue: list[Candidate]) -> bool:
        dropped = set()
        found = None
        for k, c in enumerate(queue):
            norm = normalised(c.text)
            grams = shingles(c.text)
            if norm in seen or any(len(grams & g) / len(grams | g) >= NEAR_DUPLICATE for g in grams_taken):
                dropped.add(k)  # never to be taken
            elif per_doc.get(c.readout, 0) < cap:
                found = k
                taken.append(c)
                grams_taken.append(grams)
                seen.add(norm)
                per_doc[c.readout] = per_doc.get(c.readout, 0) + 1
                break
        queue[:] = [c for k, c in enumerate(queue) if k not in dropped and k != found]
        return found is not None

    while len(taken) < n and any(queues):
        progressed = False
        for queue in queues:
            if len(taken) < n and take_from(queue):
                progressed = True
        if not progressed:
            cap += 1  # only readouts that have had their share have candidates left
    return taken


def suggest(tagger, readouts: Iterable[Readout], n: int, model: dict, exclude: set[str] = frozenset(),
            on_progress: Callable[[int, int], None] | None = None) -> list[dict]:
    """The ``n`` sentences of ``readouts`` most worth labelling, as suggestion rows (most uncertain
    first within each turn): id, text, doc_id, index, neighbours, scores, thresholds, the model's
    labels, the model (reference and version), source and the readout's metadata."""
    if n < 1:
        raise ReadoutError(f"-n must be at least 1, got {n}")
    thresholds = tagger.thresholds_
    kept: list[Readout] = []
    candidates: list[Candidate] = []
    for position, (readout, predictions) in enumerate(tag_readouts(tagger, readouts, on_progress=on_progress)):
        kept.append(readout)
        proba = np.array([[p.scores[label] for label in tagger.labels] for p in predictions])
        distance = threshold_distance(proba, thresholds)
        for i, text in enumerate(readout.sentences):
            j = int(np.argmin(distance[i]))
            candidates.append(Candidate(position, i, text, proba[i], float(distance[i, j]), j))
    if not candidates:
        raise ReadoutError("no sentences to suggest from: the input is empty")
    return [_row(c, kept[c.readout], tagger, model) for c in pick(candidates, n, len(tagger.labels), exclude)]


def _row(c: Candidate, readout: Readout, tagger, model: dict) -> dict:
    labels = tagger.labels
    doc_id = readout.doc_id if readout.doc_id is not None else readout.source
    on = c.scores >= tagger.thresholds_
    version = f"models:/{model['name']}/{model['version']}" if "version" in model else model["ref"]
    return {
        "id": suggestion_id(doc_id, c.index, c.text),
        "text": c.text,
        "doc_id": doc_id,
        "sentence_index": c.index,
        "before": readout.sentences[max(0, c.index - NEIGHBOURS):c.index],
        "after": readout.sentences[c.index + 1:c.index + 1 + NEIGHBOURS],
        "scores": {label: round(float(p), 4) for label, p in zip(labels, c.scores)},
        "thresholds": {label: float(t) for label, t in zip(labels, tagger.thresholds_)},
        "labels": [label for label, flag in zip(labels, on) if flag],
        "uncertain": {"label": labels[c.label], "distance": round(c.distance, 4)},
        "model": model["ref"],
        "model_version": version,
        **({"run_id": model["run_id"]} if "run_id" in model else {}),
        "source": readout.source,
        "meta": readout.meta,
    }


def labelled_texts(paths: Iterable[str]) -> set[str]:
    """The texts of labelled JSONL/CSV files (``--exclude``): not suggested again."""
    from pathlib import Path

    from training.config import DataConfig
    from training.data import read_rows

    texts = set()
    for path in paths:
        rows = read_rows(DataConfig(path=Path(path), split_field=None, group_field=None), require_group=False)
        texts |= {r["text"] for r in rows}
    return texts


def write_suggestions(rows: list[dict], out) -> None:
    """Write the suggestions file whole or not at all (a temporary file renamed over it)."""
    import json
    import os
    from pathlib import Path

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial")
    with open(partial, "w", encoding="utf-8") as handle:
        handle.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, out)
