"""Evidence: which words of a sentence drove each label, as contributions to the label's log-odds.

Two methods, one unit (log-odds, so figures compare across families):
- ``occlusion`` (any family with a linear head over per-sentence features): leave one word out,
  re-featurise that variant, keep the neighbours' features as they are, and take the drop in the
  label's log-odds. One extra featurisation per word of each explained sentence, batched.
- ``exact_terms`` (TF-IDF): each n-gram's term x weight product, the exact additive part of the
  logit, spread over the words it covers (a word n-gram equally over its words, a character n-gram
  onto the word it lies in).

A word is a run of letters or digits (``WORD``); evidence is a list of ``(start, end, weights)``
per sentence, ``weights[k]`` for label k, in reading order.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

import numpy as np

WORD = re.compile(r"\w+(?:['’-]\w+)*")

Evidence = list[tuple[int, int, np.ndarray]]


def words(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in WORD.finditer(text)]


def without(text: str, start: int, end: int) -> str:
    return " ".join((text[:start] + " " + text[end:]).split())


def occlusion(model, texts: list[str], doc_ids, rows: Sequence[int]) -> dict[int, Evidence]:
    """Leave-one-word-out evidence for ``rows`` of a readout batch, from a ``LinearHeadClassifier``."""
    from models.context import neighbour_blocks, side_by_side

    context = model.params.context
    X = model._features(texts)
    neighbours = neighbour_blocks(X, doc_ids, context)
    full = model._logits(side_by_side([X, *neighbours]))
    spans = {i: words(texts[i]) for i in rows}
    owners = [i for i in rows for _ in spans[i]]
    if not owners:
        return {i: [] for i in rows}
    variants = [without(texts[i], s, e) for i in rows for s, e in spans[i]]
    picked = np.asarray(owners)
    V = model._features(variants)
    dropped = full[picked] - model._logits(side_by_side([V, *(B[picked] for B in neighbours)]))
    out, k = {}, 0
    for i in rows:
        out[i] = [(s, e, dropped[k + j]) for j, (s, e) in enumerate(spans[i])]
        k += len(spans[i])
    return out


def exact_terms(text: str, occurrences: list[tuple[int, int, int]], contributions: dict[int, np.ndarray],
                n_labels: int) -> Evidence:
    """Spread each term's contribution (``contributions[term]``, one value per label) over the
    words that its occurrences ``(term, start, end)`` cover; a term found n times gives each
    occurrence 1/n of it."""
    spans = words(text)
    found = [(t, a, b) for t, a, b in occurrences if t in contributions]
    if not spans or not found:
        return [(s, e, np.zeros(n_labels)) for s, e in spans]
    times = Counter(t for t, _, _ in found)
    share = np.asarray([contributions[t] / times[t] for t, _, _ in found])  # (occurrences, labels)
    bounds = np.asarray([(a, b) for _, a, b in found])
    starts, ends = np.asarray(spans).T
    covers = (starts[None, :] < bounds[:, 1:2]) & (ends[None, :] > bounds[:, 0:1])  # (occurrences, words)
    covers = covers / np.maximum(covers.sum(axis=1, keepdims=True), 1)
    weights = covers.T @ share
    return [(s, e, weights[j]) for j, (s, e) in enumerate(spans)]
