"""What ``readout tag`` reads: sentences given as arguments (each alone), or a readout from a file
or standard input (split into sentences that are each other's context). One UTF-8 decoder, shared
with the training data reader, turns bad bytes into a one-line error with the line number.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from training.errors import ReadoutError


@dataclass
class Sentences:
    texts: list[str]
    doc_ids: list[str | None] | None  # the readout of each sentence; None: each sentence alone
    skipped: int = 0  # blank lines skipped (--no-split)


def decode_utf8(raw: bytes, name: str) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ReadoutError(f"{name}:{line}: not valid UTF-8 (byte {exc.start}); save the file as UTF-8") from None


def read_input(texts: list[str], file: str | None, split: bool | None, stdin) -> Sentences:
    """Sentences to tag from arguments, a file or stdin.

    ``split`` defaults to on for files and stdin (a readout) and off for sentences given as
    arguments. A readout's sentences share one ``doc_id`` (its file name), so a model with
    context reads each beside its neighbours; sentences given as arguments are tagged alone.
    """
    from training.sentences import split_sentences

    if file is not None and texts:
        raise ReadoutError("give sentences as arguments or --file, not both")
    if file is None and texts == ["-"]:
        file = "-"
    if file is None:
        chunks, split, doc = texts, bool(split), None
    else:
        split = True if split is None else split
        if file == "-":
            raw = stdin.buffer.read() if hasattr(stdin, "buffer") else stdin.read().encode()
            doc = "standard input"
        else:
            try:
                raw = Path(file).read_bytes()
            except FileNotFoundError:
                raise ReadoutError(f"file not found: {file}") from None
            except IsADirectoryError:
                raise ReadoutError(f"{file} is a folder, not a text file") from None
            except OSError as exc:
                raise ReadoutError(f"cannot read {file}: {exc.strerror}") from None
            doc = file
        text = decode_utf8(raw, doc)
        chunks = [text] if split else text.splitlines()
    if split:
        sentences = [s for chunk in chunks for s in split_sentences(chunk)]
        skipped = 0
    else:
        sentences = [" ".join(c.split()) for c in chunks if c.strip()]
        skipped = len(chunks) - len(sentences)
    if not sentences:
        raise ReadoutError("no sentences to tag: the input is empty")
    return Sentences(sentences, None if doc is None else [doc] * len(sentences), skipped)
