"""The shipped corpus (v2) keeps the shape data/README.md promises."""

import json
from collections import Counter, defaultdict

import pytest

from training.config import DEFAULT_LABELS, DataConfig
from training.data import read_rows

from helpers import CORPUS


@pytest.fixture(scope="module")
def rows():
    return [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines()]


def test_every_row_passes_the_training_checks(rows):
    # Schema, label set, empty text and duplicates: the same checks `readout train` applies.
    assert len(read_rows(DataConfig(path=CORPUS))) == len(rows)
    fields = {"text", "labels", "doc_id", "split", "pair", "register", "source", "clauses"}
    assert all(set(row) == fields for row in rows)
    assert all(row["labels"] == [l for l in DEFAULT_LABELS if l in row["labels"]] for row in rows)


def test_size_and_variety(rows):
    docs = Counter(row["doc_id"] for row in rows)
    assert len(rows) >= 10_000
    assert len(docs) >= 1_000
    assert len({row["pair"] for row in rows}) >= 150
    registers = Counter(row["register"] for row in rows)
    assert len(registers) >= 9 and min(registers.values()) >= 200, registers
    words = [len(row["text"].split()) for row in rows]
    assert max(words) <= 80 and sum(w >= 40 for w in words) >= 300  # long run-on sentences are there


def test_label_shares(rows):
    counts = Counter(label for row in rows for label in row["labels"])
    assert all(counts[label] >= 1_500 for label in DEFAULT_LABELS), counts
    none = sum(not row["labels"] for row in rows) / len(rows)
    multi = sum(len(row["labels"]) >= 2 for row in rows) / len(rows)
    assert 0.25 <= none <= 0.40
    assert multi >= 0.15


def test_every_codebook_clause_is_covered(rows):
    """Each clause of codebook v2 has at least 40 positive sentences and 20 near misses in the
    part written for v2 (the writers name the clauses a sentence exercises)."""
    clauses = Counter(clause for row in rows for clause in row["clauses"])
    rules_and_areas = [c for c in clauses if not c.startswith(("near:", "none."))]
    assert len(rules_and_areas) >= 40
    thin = {c: clauses[c] for c in rules_and_areas if clauses[c] < 40}
    assert not thin, thin
    few_near = {c: clauses[f"near:{c}"] for c in rules_and_areas if clauses[f"near:{c}"] < 20}
    assert not few_near, few_near


def test_no_document_in_two_splits_and_every_split_has_every_label(rows):
    homes = defaultdict(set)
    for row in rows:
        homes[row["doc_id"]].add(row["split"])
    assert all(len(splits) == 1 for splits in homes.values())
    for split in ("train", "validation", "test"):
        labels = Counter(label for row in rows if row["split"] == split for label in row["labels"])
        assert all(labels[label] >= 50 for label in DEFAULT_LABELS), (split, labels)


def _grams(text: str) -> set[str]:
    text = " ".join(text.lower().split())
    return {text[i:i + 5] for i in range(len(text) - 4)}


def test_no_near_twins(rows):
    """Character 5-gram Jaccard >= 0.8 marks a near twin; the corpus has none."""
    grams = [_grams(row["text"]) for row in rows]
    index = defaultdict(list)
    for i, g in enumerate(grams):
        for gram in g:
            index[gram].append(i)
    twins = set()
    for i, g in enumerate(grams):
        # Twins share most 5-grams, so they share some of each other's rarest ones: those
        # nominate candidates (fast), and the Jaccard itself is exact.
        rarest = sorted(g, key=lambda gram: len(index[gram]))[:12]
        for j in {j for gram in rarest for j in index[gram] if j > i}:
            if len(g & grams[j]) / len(g | grams[j]) >= 0.8:
                twins.update((i, j))
    assert not twins, [rows[i]["text"] for i in sorted(twins)[:10]]


def test_near_duplicate_check_catches_a_twin():
    a = _grams("The two sides agreed to expand cooperation in trade, energy and defence.")
    b = _grams("The two sides agreed to expand cooperation in trade, energy and defense.")
    assert len(a & b) / len(a | b) >= 0.8
