"""How tagged sentences are written: one ``Format`` enum, one row per sentence, and a writer per
format that streams rows as chunks arrive (json, jsonl, csv, parquet) or draws the rich table.

A sentence tagged alone is ``{"sentence", "labels", "scores"}``. A sentence of a readout adds,
first, ``doc_id``, ``sentence_index`` (from 0, reading order) and the readout's metadata fields.
With evidence, ``evidence`` maps each label on to its words. JSON keeps every value as it is; CSV
and Parquet are flat: one score column per label, labels and list metadata joined by ";", and the
columns are those of the first row (a later readout's extra metadata field is left out there).
"""

from __future__ import annotations

import csv
import json
from enum import Enum
from typing import IO

from training.errors import ReadoutError

OWN_FIELDS = ("doc_id", "sentence_index", "sentence", "labels", "scores", "evidence")


class Format(str, Enum):
    table = "table"
    json = "json"
    jsonl = "jsonl"
    csv = "csv"
    parquet = "parquet"

    @classmethod
    def for_path(cls, path: str) -> Format:
        suffix = path.rsplit(".", 1)[-1].lower() if "." in path else ""
        known = {"json": cls.json, "jsonl": cls.jsonl, "ndjson": cls.jsonl, "csv": cls.csv, "parquet": cls.parquet}
        if suffix not in known:
            raise ReadoutError(f"cannot tell the format of {path} from its suffix: give --format json, jsonl, "
                               "csv or parquet")
        return known[suffix]


def rows(readout, predictions, alone: bool):
    """One dict per sentence (see the module docstring)."""
    for index, prediction in enumerate(predictions):
        if alone:
            yield prediction.to_dict()
            continue
        meta = {k: v for k, v in readout.meta.items() if k not in OWN_FIELDS}
        yield {"doc_id": readout.doc_id, "sentence_index": index, **meta, **prediction.to_dict()}


def writer(fmt: Format, stream: IO, labels: list[str], tagger=None):
    return {Format.json: JsonWriter, Format.jsonl: JsonlWriter, Format.csv: CsvWriter,
            Format.parquet: ParquetWriter, Format.table: TableWriter}[fmt](stream, labels, tagger)


class JsonlWriter:
    def __init__(self, stream, labels, tagger=None):
        self.stream = stream

    def write(self, batch: list[dict]) -> None:
        self.stream.write("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in batch))

    def close(self) -> None:
        self.stream.flush()


class JsonWriter(JsonlWriter):
    """One JSON array, as ``json.dumps(rows, indent=2)`` would write it, streamed."""

    def __init__(self, stream, labels, tagger=None):
        super().__init__(stream, labels)
        self.first = True

    def write(self, batch: list[dict]) -> None:
        for row in batch:
            item = json.dumps(row, ensure_ascii=False, indent=2).replace("\n", "\n  ")
            self.stream.write(("[\n  " if self.first else ",\n  ") + item)
            self.first = False

    def close(self) -> None:
        self.stream.write("[]\n" if self.first else "\n]\n")
        self.stream.flush()


def flat(row: dict, labels: list[str]) -> dict:
    """A row for CSV and Parquet: scores as columns, lists joined by ";", evidence as text."""
    out = {}
    for key, value in row.items():
        if key == "scores":
            out.update({label: value[label] for label in labels})
        elif key == "evidence":
            out[key] = "; ".join(f"{label}: {', '.join(w['word'] for w in found)}" for label, found in value.items())
        elif isinstance(value, list):
            out[key] = ";".join(str(v) for v in value)
        elif isinstance(value, dict):
            out[key] = json.dumps(value, ensure_ascii=False)
        else:
            out[key] = value
    return out


class CsvWriter:
    def __init__(self, stream, labels, tagger=None):
        self.stream, self.labels, self.csv = stream, labels, None

    def write(self, batch: list[dict]) -> None:
        for row in batch:
            row = flat(row, self.labels)
            if self.csv is None:
                self.csv = csv.DictWriter(self.stream, fieldnames=list(row), extrasaction="ignore",
                                          lineterminator="\n")
                self.csv.writeheader()
            self.csv.writerow({k: f"{v:.4f}" if k in self.labels else v for k, v in row.items()})

    def close(self) -> None:
        self.stream.flush()


class ParquetWriter:
    """Row groups of ``GROUP`` rows; the schema is the first group's (a column that is empty there
    is a string column), later groups are cast to it."""

    GROUP = 16_384

    def __init__(self, stream, labels, tagger=None):
        self.stream, self.labels, self.parquet, self.pending = stream, labels, None, []

    def write(self, batch: list[dict]) -> None:
        self.pending += [flat(row, self.labels) for row in batch]
        if len(self.pending) >= self.GROUP:
            self._flush()

    def _flush(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if not self.pending:
            return
        if self.parquet is None:
            schema = pa.Table.from_pylist(self.pending).schema
            schema = pa.schema([pa.field(f.name, pa.string()) if pa.types.is_null(f.type) else f for f in schema])
            self.parquet = pq.ParquetWriter(self.stream, schema)
        columns = {f.name: [row.get(f.name) for row in self.pending] for f in self.parquet.schema}
        self.parquet.write_table(pa.Table.from_pydict(columns, schema=self.parquet.schema))
        self.pending = []

    def close(self) -> None:
        self._flush()
        if self.parquet is not None:
            self.parquet.close()


class TableWriter:
    """The rich table for people (held until the end: a table is drawn once)."""

    def __init__(self, stream, labels, tagger):
        self.tagger, self.rows = tagger, []

    def write(self, batch: list[dict]) -> None:
        self.rows.extend(batch)

    def close(self) -> None:
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text

        several = len({row.get("doc_id") for row in self.rows}) > 1 and "doc_id" in (self.rows or [{}])[0]
        table = Table(show_lines=False)
        if several:
            table.add_column("readout", style="dim", overflow="fold")
        table.add_column("#", justify="right", style="dim")
        table.add_column("sentence", ratio=1, overflow="fold")
        table.add_column("labels", style="bold")
        for label, threshold in zip(self.tagger.labels, self.tagger.thresholds_):
            table.add_column(f"{label}\n≥{threshold:.2f}", justify="right")
        for i, row in enumerate(self.rows, start=1):
            scores, on = row["scores"], row["labels"]
            cells = [f"[bold]{scores[l]:.2f}[/]" if l in on else f"{scores[l]:.2f}" for l in self.tagger.labels]
            first = [str(row["doc_id"])] if several else []
            number = str(row["sentence_index"] + 1) if several else str(i)
            table.add_row(*first, number, Text(row["sentence"]), ", ".join(on) or "—", *cells)
        Console().print(table)
