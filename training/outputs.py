"""How tagged sentences are written: one ``Format`` enum, the text formats for scripts
(json, jsonl, csv) and the rich table for people."""

from __future__ import annotations

import csv
import io
import json
from enum import Enum


class Format(str, Enum):
    table = "table"
    json = "json"
    jsonl = "jsonl"
    csv = "csv"


def format_predictions(predictions, labels: list[str], fmt: Format) -> str:
    """json / jsonl / csv text (``table`` is drawn by ``print_table``)."""
    fmt = Format(fmt)
    if fmt is Format.json:
        return json.dumps([p.to_dict() for p in predictions], ensure_ascii=False, indent=2) + "\n"
    if fmt is Format.jsonl:
        return "".join(json.dumps(p.to_dict(), ensure_ascii=False) + "\n" for p in predictions)
    if fmt is Format.csv:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["sentence", "labels", *labels])
        for p in predictions:
            writer.writerow([p.sentence, ";".join(p.labels), *(f"{p.scores[label]:.4f}" for label in labels)])
        return buffer.getvalue()
    raise ValueError(f"{fmt.value} is drawn by print_table")


def print_table(predictions, tagger) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(show_lines=False)
    table.add_column("#", justify="right", style="dim")
    table.add_column("sentence", ratio=1, overflow="fold")
    table.add_column("labels", style="bold")
    for label, threshold in zip(tagger.labels, tagger.thresholds_):
        table.add_column(f"{label}\n≥{threshold:.2f}", justify="right")
    for i, p in enumerate(predictions, start=1):
        cells = [f"[bold]{p.scores[l]:.2f}[/]" if l in p.labels else f"{p.scores[l]:.2f}" for l in tagger.labels]
        table.add_row(str(i), p.sentence, ", ".join(p.labels) or "—", *cells)
    Console().print(table)
