"""What ``readout tag`` and ``readout report`` read: sentences given as arguments (each alone), or
readouts from files, folders, JSONL/CSV archives and standard input (``training.archive``). One
UTF-8 decoder, shared with the training data reader, turns bad bytes into a one-line error with
the line number.
"""

from __future__ import annotations

from collections.abc import Iterator

from training.errors import ReadoutError


def decode_utf8(raw: bytes, name: str) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ReadoutError(f"{name}:{line}: not valid UTF-8 (byte {exc.start}); save the file as UTF-8") from None


def json_record(line: str, path, line_no: int) -> dict | None:
    """One JSONL line as an object (None for a blank line); anything else is a one-line error."""
    import json

    if not line.strip():
        return None
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ReadoutError(f"{path}:{line_no}: malformed JSON: {exc.msg} (column {exc.colno})") from None
    if not isinstance(record, dict):
        raise ReadoutError(f"{path}:{line_no}: each line must be a JSON object")
    return record


def read_input(texts: list[str], files: list[str], split: bool | None, stdin) -> tuple[Iterator, bool]:
    """``(readouts, alone)``: what to tag, and whether they are sentences tagged one by one.

    ``split`` defaults to on for readouts (files, stdin) and off for sentences given as
    arguments. A sentence given alone is a readout of one sentence with no ``doc_id``, so one
    code path tags both."""
    from training.archive import Readout, read_readouts
    from training.sentences import split_sentences

    if files and texts and texts != ["-"]:
        raise ReadoutError("give sentences as arguments or --file, not both")
    if texts == ["-"]:
        files, texts = [*files, "-"], []
    if files:
        return nonempty(read_readouts(files, True if split is None else split, stdin)), False
    sentences = [s for t in texts for s in split_sentences(t)] if split else [" ".join(t.split()) for t in texts]
    return nonempty(Readout(None, [s]) for s in sentences if s), True


def nonempty(readouts) -> Iterator:
    """The readouts, or one clear error before anything is written when there are none."""
    readouts = iter(readouts)
    first = next(readouts, None)
    if first is None:
        raise ReadoutError("no sentences to tag: the input is empty")
    yield first
    yield from readouts
