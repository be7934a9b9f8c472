"""Labelled sentences: read (JSONL or CSV), check every row, split by document, binarize labels.

Rows are checked line by line so an error names the file and line; the checked rows then become
a Hugging Face ``datasets.Dataset``, which is what the split, the families and MLflow's
``log_input`` consume.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from training.config import DataConfig, describe_paths
from training.errors import ReadoutError

SPLITS = ("train", "validation", "test")


@dataclass
class LabelledData:
    """The three splits of the data files, with the label order and each file's digest."""

    paths: list[Path]
    digests: dict[str, str]  # file -> sha256 digest (16 hex digits), in the order given
    labels: list[str]
    splits: dict[str, Any]  # split name -> datasets.Dataset with columns text, labels, group

    @property
    def digest(self) -> str:
        """The data's digest: the file's own for one file, else a digest of the files' digests."""
        if len(self.digests) == 1:
            return next(iter(self.digests.values()))
        return hashlib.sha256(" ".join(self.digests.values()).encode()).hexdigest()[:16]

    @property
    def name(self) -> str:
        """The files' stems joined by '+' (names the logged datasets)."""
        return "+".join(path.stem for path in self.paths)

    def describe(self) -> str:
        """The data files, comma-separated."""
        return describe_paths(self.paths)

    def column(self, split: str, name: str) -> list:
        """One column of a split as a list (``[:]`` reads it at once; iterating ``datasets``'
        column reads row by row, ~70x slower)."""
        return self.splits[split][name][:]

    def texts(self, split: str) -> list[str]:
        return self.column(split, "text")

    def doc_ids(self, split: str) -> list[str]:
        """The readout of each sentence (rows of one readout are in reading order)."""
        return self.column(split, "group")

    def Y(self, split: str) -> np.ndarray:
        return binarize(self.column(split, "labels"), self.labels)

    def counts(self) -> dict[str, dict[str, int]]:
        """Sentences per split, and per label within each split (``none`` = no label)."""
        table = {}
        for name in self.splits:
            rows = self.column(name, "labels")
            counter = Counter(label for labels in rows for label in labels)
            table[name] = {"sentences": len(rows), **{label: counter[label] for label in self.labels},
                           "none": sum(1 for labels in rows if not labels)}
        return table


def binarize(label_lists, labels: list[str]) -> np.ndarray:
    index = {label: j for j, label in enumerate(labels)}
    Y = np.zeros((len(label_lists), len(labels)), dtype=np.int64)
    for i, row in enumerate(label_lists):
        for label in row:
            Y[i, index[label]] = 1
    return Y


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def _decode(path: Path) -> str:
    from training.inputs import decode_utf8

    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ReadoutError(f"data file not found: {path}") from None
    except OSError as exc:
        raise ReadoutError(f"cannot read data file {path}: {exc.strerror}") from None
    return decode_utf8(raw, str(path))


def _jsonl_records(path: Path, text: str):
    from training.inputs import json_record

    for line_no, line in enumerate(text.splitlines(), start=1):
        record = json_record(line, path, line_no)
        if record is not None:
            yield line_no, record


def _csv_records(path: Path, text: str, labels_field: str):
    # CSV cells hold labels as "trade;energy" (empty cell = no label).
    reader = csv.DictReader(io.StringIO(text))
    for record in reader:
        cell = record.get(labels_field)
        if isinstance(cell, str):
            record[labels_field] = [part.strip() for part in cell.split(";") if part.strip()]
        yield reader.line_num, record


def read_rows(config: DataConfig, require_group: bool = True) -> list[dict[str, Any]]:
    """Checked rows ``{"text", "labels", "group", "split", "file", "line", "record"}`` of every
    data file in order (``record``: the row as read, extra fields included); any bad row is a
    ``ReadoutError`` naming its file and line.

    A row without a group is an error when the group splits the data (``require_group``), and a
    readout of its own otherwise. A text may appear once across all the files."""
    allowed = set(config.labels)
    seen: dict[str, tuple[Path, int]] = {}
    rows = []
    for path in config.paths:
        path = Path(path)
        text = _decode(path)
        if path.suffix.lower() == ".csv":
            records = _csv_records(path, text, config.labels_field)
        else:
            records = _jsonl_records(path, text)
        before = len(rows)
        for line_no, record in records:
            rows.append(_checked_row(record, path, line_no, config, allowed, seen, require_group))
        if len(rows) == before:
            raise ReadoutError(f"{path}: no labelled sentences")
    return rows


def _checked_row(record: dict, path: Path, line_no: int, config: DataConfig, allowed: set[str],
                 seen: dict[str, tuple[Path, int]], require_group: bool) -> dict[str, Any]:
    where = f"{path}:{line_no}"
    sentence = record.get(config.text_field)
    if not isinstance(sentence, str) or not sentence.strip():
        raise ReadoutError(f"{where}: empty or missing '{config.text_field}'")
    labels = record.get(config.labels_field)
    if not isinstance(labels, list) or not all(isinstance(label, str) for label in labels):
        raise ReadoutError(f"{where}: '{config.labels_field}' must be a list of label names")
    for label in labels:
        if label not in allowed:
            raise ReadoutError(f"{where}: label {label!r} is not in the label set {config.labels}")
    key = " ".join(sentence.split()).casefold()
    if key in seen:
        first_path, first_line = seen[key]
        first = f"line {first_line}" if first_path == path else f"{first_path}:{first_line}"
        raise ReadoutError(f"{where}: duplicate text (first seen on {first})")
    seen[key] = (path, line_no)
    group = record.get(config.group_field) if config.group_field else None
    if config.group_field and require_group and (group is None or str(group).strip() == ""):
        raise ReadoutError(f"{where}: missing '{config.group_field}' (the document id used to split)")
    split = record.get(config.split_field) if config.split_field else None
    if split is not None and split not in SPLITS:
        raise ReadoutError(f"{where}: '{config.split_field}' must be one of {list(SPLITS)}, got {split!r}")
    return {"text": sentence.strip(), "labels": sorted(set(labels), key=config.labels.index),
            "group": str(group) if group not in (None, "") else f"row-{path.name}-{line_no}", "split": split,
            "file": path, "line": line_no, "record": record}


def assign_splits(rows: list[dict[str, Any]], config: DataConfig, seed: int) -> list[str]:
    """The split of each row. When some file has a split column, rows keep theirs, and the rows
    of a file with no split column at all (your own labels beside the corpus) go to train, so the
    validation and test splits stay the corpus's and runs stay comparable. When no file has one,
    whole documents are drawn at random (seeded) so no document lands in two splits."""
    given = [row["split"] for row in rows]
    if any(s is not None for s in given):
        for path in config.paths:
            in_file = [row for row in rows if row["file"] == Path(path)]
            with_split = [row for row in in_file if row["split"] is not None]
            if with_split and len(with_split) < len(in_file):
                missing = next(row["line"] for row in in_file if row["split"] is None)
                raise ReadoutError(f"{path}:{missing}: '{config.split_field}' is set on some rows but not this one")
        given = [s if s is not None else "train" for s in given]
        _check_groups_within_one_split(rows, given, config)
        return given
    groups = sorted({row["group"] for row in rows})
    if len(groups) < 3:
        raise ReadoutError(f"{config.describe()}: need at least 3 documents to split by document, found {len(groups)}")
    sizes = Counter(row["group"] for row in rows)
    order = [groups[i] for i in np.random.default_rng(seed).permutation(len(groups))]
    targets = {"validation": config.split.validation * len(rows), "test": config.split.test * len(rows)}
    assigned: dict[str, str] = {}
    filled = {"validation": 0, "test": 0}
    for group in order:
        open_splits = [s for s in ("validation", "test") if filled[s] < targets[s]]
        split = min(open_splits, key=lambda s: filled[s] / targets[s]) if open_splits else "train"
        assigned[group] = split
        if split != "train":
            filled[split] += sizes[group]
    if "train" not in assigned.values():  # tiny data: keep at least one document for training
        assigned[order[-1]] = "train"
    return [assigned[row["group"]] for row in rows]


def _check_groups_within_one_split(rows, splits, config: DataConfig) -> None:
    home: dict[str, str] = {}
    for row, split in zip(rows, splits):
        if home.setdefault(row["group"], split) != split:
            raise ReadoutError(f"{row['file']}:{row['line']}: document {row['group']!r} appears in both "
                               f"'{home[row['group']]}' and '{split}'")


def load_data(config: DataConfig, seed: int) -> LabelledData:
    from datasets import Dataset

    rows = read_rows(config)
    splits = assign_splits(rows, config, seed)
    columns = {"text": [r["text"] for r in rows], "labels": [r["labels"] for r in rows],
               "group": [r["group"] for r in rows]}
    full = Dataset.from_dict(columns)
    by_split = {name: full.select([i for i, s in enumerate(splits) if s == name]) for name in SPLITS}
    for name in SPLITS:
        if len(by_split[name]) == 0:
            raise ReadoutError(f"{config.describe()}: the {name} split is empty; add documents or change data.split")
    digests = {str(path): file_digest(Path(path)) for path in config.paths}
    return LabelledData(paths=[Path(p) for p in config.paths], digests=digests, labels=list(config.labels),
                        splits=by_split)
