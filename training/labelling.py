"""The terminal labelling session of ``readout label``: one suggestion at a time, single keypresses,
every answer durable before the next sentence is shown.

Answers go to two files. ``--into`` (say ``data/my-labels.jsonl``) holds the accepted sentences as
training rows ``{"text", "labels", "doc_id", ...}`` with their provenance, so it trains as it is
(``data.path: [data/readouts.jsonl, data/my-labels.jsonl]``). Skipped suggestions go beside it to
``my-labels.skipped.jsonl``, so a rerun does not ask again. Each answer is one line appended,
flushed and fsync'd at once, so quitting, Ctrl-C, a closed terminal or a killed process loses
nothing; a rerun resumes at the first suggestion not yet answered. Undo removes the last answer:
it is always the last line of one of the two files, so it is cut off with one truncate, and no
other line is ever rewritten. One session at a time writes to a file (an exclusive lock).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from training.errors import ReadoutError
from training.inputs import json_record

ACTIONS = {"\r": "accept", "\n": "accept", "s": "skip", "u": "undo", "q": "quit"}
CONTEXT_WIDTH = 2  # neighbours shown on each side (suggest stores more or fewer)


def skipped_path(into: Path) -> Path:
    """Where the skipped suggestions of ``into`` are kept: my-labels.jsonl -> my-labels.skipped.jsonl."""
    return into.with_name(f"{into.stem}.skipped.jsonl")


def normalised(text: str) -> str:
    return " ".join(text.split()).casefold()


def _read_jsonl(path: Path) -> list[dict]:
    """The rows of a JSONL file (none if it does not exist); a damaged line is an error, never dropped."""
    if not path.exists():
        return []
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ReadoutError(f"cannot read {path}: {exc}") from None
    rows = []
    lines = text.splitlines()
    for line_no, line in enumerate(lines, start=1):
        if line_no == len(lines) and not text.endswith("\n") and not _parses(line):
            raise ReadoutError(f"{path}:{line_no}: the last line is incomplete (an interrupted write?); "
                               "remove it, then run again")
        row = json_record(line, path, line_no)
        if row is not None:
            rows.append(row)
    return rows


def _parses(line: str) -> bool:
    try:
        json.loads(line)
    except json.JSONDecodeError:
        return not line.strip()  # a blank last line is no interrupted write
    return True


def read_suggestions(path: Path) -> list[dict]:
    """The rows of a ``readout suggest`` file, checked: each needs an id, a text and a doc_id."""
    if not path.is_file():
        raise ReadoutError(f"suggestions file not found: {path}")
    rows = _read_jsonl(path)
    if not rows:
        raise ReadoutError(f"{path}: no suggestions")
    seen: set[str] = set()
    for line_no, row in enumerate(rows, start=1):
        for key in ("id", "text", "doc_id"):
            if not isinstance(row.get(key), str) or not row[key].strip():
                raise ReadoutError(f"{path}:{line_no}: missing '{key}' (make the file with readout suggest)")
        if row["id"] in seen:
            raise ReadoutError(f"{path}:{line_no}: suggestion id {row['id']!r} appears twice")
        seen.add(row["id"])
    return rows


def label_set(suggestions: list[dict]) -> list[str]:
    """The labels to toggle: the model's, in its order (the keys of the suggestions' scores)."""
    from training.config import DEFAULT_LABELS

    scores = suggestions[0].get("scores")
    return list(scores) if isinstance(scores, dict) and scores else list(DEFAULT_LABELS)


class AnswerLog:
    """The answers so far: accepted rows in ``into``, skipped suggestions beside it (see the module)."""

    def __init__(self, into: Path):
        import fcntl

        self.into, self.skipped = into, skipped_path(into)
        into.parent.mkdir(parents=True, exist_ok=True)
        self._handle = open(into, "a", encoding="utf-8")
        try:  # two sessions appending to one file would interleave their answers
            fcntl.flock(self._handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._handle.close()
            raise ReadoutError(f"another labelling session is writing to {into}") from None
        self.rows = {"accept": _read_jsonl(into), "skip": _read_jsonl(self.skipped)}
        _sync_dir(into.parent)

    def close(self) -> None:
        self._handle.close()  # releases the lock

    def answered(self) -> dict[str, tuple[str, dict]]:
        """suggestion id -> (accept | skip, row)."""
        return {row["suggestion_id"]: (kind, row) for kind, rows in self.rows.items() for row in rows
                if "suggestion_id" in row}

    def labelled_texts(self) -> set[str]:
        return {normalised(row["text"]) for row in self.rows["accept"] if isinstance(row.get("text"), str)}

    def append(self, kind: str, row: dict) -> None:
        path = self.into if kind == "accept" else self.skipped
        with open(path, "ab") as out:
            if out.tell() and not _ends_with_newline(path):  # a hand-edited file without a final newline
                out.write(b"\n")
            out.write((json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8"))
            out.flush()
            os.fsync(out.fileno())
        self.rows[kind].append(row)

    def last(self) -> tuple[str, dict] | None:
        """The latest answer: the last row of whichever file holds the later one."""
        ends = [(rows[-1].get("labelled_at", ""), kind == "accept", kind) for kind, rows in self.rows.items() if rows]
        if not ends:
            return None
        kind = max(ends)[2]
        return kind, self.rows[kind][-1]

    def undo(self) -> tuple[str, dict]:
        """Remove the latest answer (the last line of its file) and return it."""
        kind, row = self.last()
        path = self.into if kind == "accept" else self.skipped
        data = path.read_bytes()
        end = len(data.rstrip(b"\n"))
        start = data.rfind(b"\n", 0, end) + 1
        with open(path, "r+b") as out:
            out.truncate(start)  # one metadata change: the line is there or it is not
            out.flush()
            os.fsync(out.fileno())
        self.rows[kind].pop()
        return kind, row


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1) == b"\n"


def _sync_dir(folder: Path) -> None:
    # A new file's name is durable only once its folder is synced.
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass
class Session:
    """The state of a labelling session and what each key does; no terminal here (see ``run``)."""

    suggestions: list[dict]
    log: AnswerLog
    labelled_by: str
    labels: list[str] = field(default_factory=list)
    position: int | None = None
    chosen: set[str] = field(default_factory=set)
    message: str = ""

    def __post_init__(self) -> None:
        self.labels = self.labels or label_set(self.suggestions)
        self.toggles = {str(i): label for i, label in enumerate(self.labels, start=1) if i <= 9}
        initials = [label[0] for label in self.labels]
        for label in self.labels:  # t/e/d/c as well, where the initial is unique and no action's key
            if initials.count(label[0]) == 1 and label[0] not in ACTIONS:
                self.toggles[label[0]] = label
        self._next()

    # ---- where we are ---------------------------------------------------------------------

    def _next(self) -> None:
        """Go to the first suggestion not answered yet (None: all are)."""
        answered = self.log.answered()
        labelled = self.log.labelled_texts()
        self.position = None
        for i, suggestion in enumerate(self.suggestions):
            if suggestion["id"] in answered:
                continue
            if normalised(suggestion["text"]) in labelled:  # labelled from another suggestions file
                continue
            self.position = i
            self.chosen = set(suggestion.get("labels") or [])
            return

    @property
    def current(self) -> dict | None:
        return None if self.position is None else self.suggestions[self.position]

    def counts(self) -> dict[str, int]:
        answered = self.log.answered()
        labelled = self.log.labelled_texts()
        ids = [s["id"] for s in self.suggestions]
        # a suggestion whose sentence is already labelled (from another suggestions file) counts as labelled
        kinds = [answered[s["id"]][0] if s["id"] in answered else "accept" for s in self.suggestions
                 if s["id"] in answered or normalised(s["text"]) in labelled]
        return {"total": len(ids), "accepted": kinds.count("accept"), "skipped": kinds.count("skip"),
                "left": len(ids) - len(kinds)}

    # ---- keys -----------------------------------------------------------------------------

    def press(self, key: str) -> bool:
        """Act on one key; False when the session ends (quit)."""
        action = ACTIONS.get(key)
        self.message = ""
        if action == "quit":
            return False
        if action == "undo":
            self._undo()
        elif self.current is None:
            self.message = "every suggestion is answered: u undoes the last answer, q quits"
        elif key in self.toggles:
            self.chosen ^= {self.toggles[key]}
        elif action in ("accept", "skip"):
            self._answer(action)
        elif key.strip():
            self.message = f"key {key!r} does nothing here"
        return True

    def _answer(self, kind: str) -> None:
        suggestion = self.current
        row = {"suggestion_id": suggestion["id"], "labelled_by": self.labelled_by,
               "labelled_at": datetime.now(timezone.utc).isoformat(timespec="microseconds"),
               "model": suggestion.get("model"), "model_version": suggestion.get("model_version"),
               "model_labels": suggestion.get("labels")}
        if kind == "accept":
            labels = [label for label in self.labels if label in self.chosen]
            row = {"text": suggestion["text"], "labels": labels, "doc_id": suggestion["doc_id"],
                   "sentence_index": suggestion.get("sentence_index"), "source": suggestion.get("source"), **row}
            self.message = f"saved: {', '.join(labels) or 'no label'}"
        else:
            self.message = "skipped"
        self.log.append(kind, row)
        self._next()

    def _undo(self) -> None:
        last = self.log.last()
        ids = {s["id"]: i for i, s in enumerate(self.suggestions)}
        if last is None or last[1].get("suggestion_id") not in ids:
            self.message = "nothing to undo among these suggestions"
            return
        kind, row = self.log.undo()
        self.position = ids[row["suggestion_id"]]
        self.chosen = set(row["labels"]) if kind == "accept" else set(self.current.get("labels") or [])
        self.message = f"undone: {'labelled ' + (', '.join(row['labels']) or 'no label') if kind == 'accept' else 'skip'}"

    # ---- what the screen shows ------------------------------------------------------------

    def screen(self):
        """The rich renderables of the current screen."""
        from rich.text import Text

        c = self.counts()
        done = c["total"] - c["left"]
        lines = [Text(f"readout label · {done}/{c['total']} answered ({c['accepted']} labelled, "
                      f"{c['skipped']} skipped) · {c['left']} to go · {self.log.into}", style="bold")]
        s = self.current
        if s is None:
            lines += [Text(""), Text("Every suggestion is answered."), Text(""),
                      Text("u undo the last answer · q quit", style="cyan")]
        else:
            where = f"{s['doc_id']}, sentence {_ordinal(s.get('sentence_index'))}"
            lines += [Text(where + (f" · {s['source']}" if s.get("source") else ""), style="dim"), Text("")]
            lines += [_indented(t, "dim") for t in (s.get("before") or [])[-CONTEXT_WIDTH:]]
            lines.append(_marked(s["text"]))
            lines += [_indented(t, "dim") for t in (s.get("after") or [])[:CONTEXT_WIDTH]]
            lines.append(Text(""))
            scores, thresholds = s.get("scores") or {}, s.get("thresholds") or {}
            guess = set(s.get("labels") or [])
            for key, label in self.toggles.items():
                if not key.isdigit():
                    continue
                mark = "[x]" if label in self.chosen else "[ ]"
                score = f"{scores[label]:.2f}" if label in scores else "    "
                bar = f" (≥{thresholds[label]:.2f})" if label in thresholds else ""
                model = "  model: on" if label in guess else ""
                letter = next((k for k, v in self.toggles.items() if v == label and not k.isdigit()), "")
                lines.append(Text(f"  {mark} {key}{'/' + letter if letter else '  '} {label:<9} {score}{bar}{model}",
                                  style="green" if label in self.chosen else ""))
            lines += [Text(""), Text(f"{_key_help(self.toggles)} toggle · Enter accept · s skip · u undo · q quit",
                                     style="cyan")]
        if self.message:
            lines.append(Text(self.message, style="yellow"))
        return lines


def _indented(text: str, style: str):
    from rich.padding import Padding
    from rich.text import Text

    return Padding(Text(text, style=style), (0, 0, 0, 2))  # wrapped lines keep the indent


def _marked(text: str):
    from rich.table import Table
    from rich.text import Text

    grid = Table.grid(padding=(0, 1))
    grid.add_column(width=1)
    grid.add_column()
    grid.add_row("▶", Text(text, style="bold"))
    return grid


def _ordinal(index) -> str:
    return str(index + 1) if isinstance(index, int) else "?"  # stored from 0, shown from 1


def _key_help(toggles: dict[str, str]) -> str:
    digits = [k for k in toggles if k.isdigit()]
    letters = "/".join(k for k in toggles if not k.isdigit())
    return f"{digits[0]}-{digits[-1]}" + (f" (or {letters})" if letters else "")


@contextmanager
def keypresses(stream) -> Iterator[Callable[[], str]]:
    """Single keypresses from a terminal: cbreak mode for the whole session (typed-ahead keys are
    kept, unlike toggling raw mode per key with a flush), restored on the way out. Ctrl-C still
    raises KeyboardInterrupt. An escape sequence (an arrow key) reads as one ``"escape"``."""
    import select
    import termios
    import tty

    fd = stream.fileno()
    saved = termios.tcgetattr(fd)
    tty.setcbreak(fd, termios.TCSANOW)

    def read() -> str:
        byte = os.read(fd, 1)
        if not byte:
            return "q"  # the terminal closed: every answer is already saved
        if byte == b"\x1b":
            while select.select([fd], [], [], 0.02)[0]:
                os.read(fd, 16)
            return "escape"
        return byte.decode("latin-1")

    try:
        yield read
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def run(suggestions_path: Path, into: Path, labelled_by: str, stdin, console) -> dict[str, int]:
    """A labelling session in the terminal; returns the counts when it ends (all answered or q)."""
    if Path(suggestions_path).resolve() == Path(into).resolve():
        raise ReadoutError("--into must be another file than the suggestions")
    suggestions = read_suggestions(Path(suggestions_path))
    if not (stdin.isatty() and console.is_terminal):
        raise ReadoutError("readout label reads single keypresses: run it in a terminal")
    log = AnswerLog(Path(into))
    try:
        session = Session(suggestions, log, labelled_by)
        with keypresses(stdin) as read:
            while True:
                console.clear()
                for line in session.screen():
                    console.print(line, overflow="fold", highlight=False)
                if not session.press(read()):
                    break
        return session.counts()
    finally:
        log.close()
