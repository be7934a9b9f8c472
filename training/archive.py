"""Archives of readouts: read many files, folders (``*.txt``, ``*.md``) and JSONL/CSV files of
readouts as one stream of ``Readout`` objects, each split into sentences, with its metadata.

Metadata comes from a YAML front matter block at the top of a text file (``date:``,
``countries:``, ``title:``, any other key) or from a JSONL/CSV row's other fields; it passes
through untouched, except that ``date`` becomes an ISO string and ``countries`` a list (a CSV
cell "Kenya; India" is split on ";"). Readouts are yielded one at a time and JSONL/CSV files are
read line by line, so memory stays flat however large the archive.

In JSONL/CSV, consecutive rows with the same ``doc_id`` are one readout (so a file of sentences
with their ``doc_id`` reads as readouts too); a row without ``doc_id`` is a readout of its own,
named after the file and line.
"""

from __future__ import annotations

import csv
import datetime as dt
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from training.errors import ReadoutError
from training.inputs import decode_utf8, json_record
from training.sentences import split_sentences

TEXT_SUFFIXES = (".txt", ".md")
TABLE_SUFFIXES = (".jsonl", ".ndjson", ".csv")
RESERVED = ("doc_id", "text")  # a JSONL/CSV row's own fields; every other field is metadata


@dataclass
class Readout:
    doc_id: str | None  # None: a sentence tagged alone (no context)
    sentences: list[str]
    meta: dict = field(default_factory=dict)  # date, countries, title, ... as given
    source: str = ""  # the file (and line, for JSONL/CSV rows)
    skipped: int = 0  # blank lines left out (split=False)


def read_readouts(paths: Sequence[str], split: bool = True, stdin=None) -> Iterator[Readout]:
    """Every readout in ``paths`` (files, folders, ``-`` for standard input), in order.

    ``split=False`` takes each line of a text (or each JSONL/CSV row) as one sentence. An empty
    file or row has nothing to tag: it is skipped, not an error."""
    return (readout for path in paths for readout in _readouts(path, split, stdin) if readout.sentences)


def _readouts(path: str, split: bool, stdin) -> Iterator[Readout]:
    if path == "-":
        stream = stdin if stdin is not None else sys.stdin
        raw = stream.buffer.read() if hasattr(stream, "buffer") else stream.read().encode()
        yield _text_readout(decode_utf8(raw, "standard input"), "standard input", "standard input", split)
        return
    target = Path(path)
    if target.is_dir():
        files = sorted(p for p in target.rglob("*") if p.is_file() and p.suffix.lower() in TEXT_SUFFIXES
                       and not any(part.startswith(".") for part in p.relative_to(target).parts))
        if not files:
            raise ReadoutError(f"no readouts in folder {path}: it has no *.txt or *.md files")
        for file in files:
            yield _read_text_file(file, _doc_id(file, target), split)
    elif not target.exists():
        raise ReadoutError(f"file not found: {path}")
    elif target.suffix.lower() in TABLE_SUFFIXES:
        yield from _read_table(target, split)
    else:
        yield _read_text_file(target, target.stem, split)


def _doc_id(file: Path, folder: Path) -> str:
    """A file's path in its folder, without the suffix: unique within the folder, readable."""
    return file.relative_to(folder).with_suffix("").as_posix()


def _read_text_file(path: Path, doc_id: str, split: bool) -> Readout:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ReadoutError(f"cannot read {path}: {exc.strerror}") from None
    return _text_readout(decode_utf8(raw, str(path)), doc_id, str(path), split)


def _text_readout(text: str, doc_id: str, source: str, split: bool) -> Readout:
    meta, body = front_matter(text, source)
    sentences = _sentences(body, split)
    skipped = 0 if split else len(body.splitlines()) - len(sentences)
    return Readout(doc_id, sentences, _normalise(meta), source, skipped)


def front_matter(text: str, source: str) -> tuple[dict, str]:
    """A leading ``---`` YAML block and the text after it (no block: ``{}`` and the text)."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        return {}, text
    end = next((i for i in range(1, len(lines)) if lines[i].strip() in ("---", "...")), None)
    if end is None:
        raise ReadoutError(f"{source}:1: front matter opened with '---' is never closed")
    import yaml

    try:
        meta = yaml.safe_load("".join(lines[1:end])) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark is not None else 1
        raise ReadoutError(f"{source}:{line}: front matter is not valid YAML: "
                           f"{getattr(exc, 'problem', None) or exc}") from None
    if not isinstance(meta, dict):
        raise ReadoutError(f"{source}:2: front matter must be 'key: value' lines")
    return meta, "".join(lines[end + 1:])


def _sentences(text: str, split: bool) -> list[str]:
    if split:
        return split_sentences(text)
    return [" ".join(line.split()) for line in text.splitlines() if line.strip()]


def _normalise(meta: dict) -> dict:
    out = {}
    for key, value in meta.items():
        key = str(key)
        if isinstance(value, (dt.date, dt.datetime)):
            value = value.isoformat()
        if key == "countries":
            if isinstance(value, str):
                value = [part.strip() for part in value.split(";") if part.strip()]
            elif isinstance(value, list):
                value = [str(part) for part in value]
        out[key] = value
    return out


def _read_table(path: Path, split: bool) -> Iterator[Readout]:
    """Rows of a JSONL/CSV file grouped into readouts (consecutive rows sharing a doc_id)."""
    current: Readout | None = None
    for line_no, record in _records(path):
        where = f"{path}:{line_no}"
        text = record.get("text")
        if not isinstance(text, str):
            raise ReadoutError(f"{where}: each row needs a 'text' field (the readout, or one of its sentences)")
        doc = record.get("doc_id")
        doc = f"{path.stem}:{line_no}" if doc in (None, "") else str(doc)
        sentences = _sentences(text, split)
        if current is not None and current.doc_id == doc:
            current.sentences.extend(sentences)
            continue
        if current is not None:
            yield current
        meta = _normalise({k: v for k, v in record.items() if k not in RESERVED})
        current = Readout(doc, sentences, meta, where)
    if current is not None:
        yield current


def _records(path: Path) -> Iterator[tuple[int, dict]]:
    try:
        with path.open("rb") as handle:
            if path.suffix.lower() == ".csv":
                yield from _csv_rows(path, handle)
            else:
                yield from _jsonl_rows(path, handle)
    except OSError as exc:
        raise ReadoutError(f"cannot read {path}: {exc.strerror}") from None


def _jsonl_rows(path: Path, handle) -> Iterator[tuple[int, dict]]:
    for line_no, raw in enumerate(handle, start=1):
        try:
            line = raw.decode("utf-8-sig" if line_no == 1 else "utf-8")
        except UnicodeDecodeError:
            raise ReadoutError(f"{path}:{line_no}: not valid UTF-8; save the file as UTF-8") from None
        record = json_record(line, path, line_no)
        if record is not None:
            yield line_no, record


def _csv_rows(path: Path, handle) -> Iterator[tuple[int, dict]]:
    import io

    text = io.TextIOWrapper(handle, encoding="utf-8-sig", newline="")
    reader = csv.DictReader(text)
    try:
        for record in reader:
            yield reader.line_num, {k: v for k, v in record.items() if k is not None}
    except UnicodeDecodeError:
        raise ReadoutError(f"{path}:{reader.line_num + 1}: not valid UTF-8; save the file as UTF-8") from None
    except csv.Error as exc:
        raise ReadoutError(f"{path}:{reader.line_num}: malformed CSV: {exc}") from None
