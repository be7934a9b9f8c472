"""Split a readout into sentences.

Rules, in order: a blank line or a line break ends a sentence, unless the line was hard-wrapped
(it has no closing punctuation, and the next line starts in lower case or the line runs to near
the text's full width) or it is a dateline on its own ("BEIJING:"); inside a line, ``. ! ?`` (with any closing quote or bracket) followed by
space and a capital, digit or opening quote ends a sentence, unless the word before is a known
abbreviation ("Dr.", "Gen.", "Jan."), an initial ("J. Smith") or a dotted acronym ("U.S.") that is
not followed by a typical sentence opener, or the piece is a paragraph number ("1.", "(b)").
"""

from __future__ import annotations

import re

_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "st", "gen", "col", "lt", "capt", "maj", "sgt", "adm", "cmdr", "sen", "rep",
    "gov", "amb", "hon", "rev", "sr", "jr", "no", "nos", "vol", "art", "para", "fig", "approx", "vs", "cf", "dept",
    "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "mt", "ft", "inc", "ltd",
    "co", "corp", "e.g", "i.e", "h.e", "h.m", "h.r.h",
}
# After a dotted acronym ("U.S."), a new sentence only when one of these words follows.
_OPENERS = {"The", "He", "She", "They", "It", "This", "These", "Both", "In", "On", "At", "We", "I", "His", "Her",
            "Their", "A", "An", "According", "Meanwhile", "Earlier", "Later"}

# Hard-wrapped text: a line without closing punctuation that reaches 70 % of the longest line's
# width continues on the next line, even when that line starts with a capital ("Treaty of /
# Peace and Friendship"); the longest line must be 50+ characters, so short headlines stay apart.
WRAP_SHARE, WRAP_MIN_WIDTH = 0.7, 50
# "1." "12)" "(a)" "iv." opening a numbered paragraph belong to the sentence after them.
_LIST_MARKER = re.compile(r"\(?(?:\d{1,3}|[a-z]|[ivxlc]{1,6})[.)]")
_BOUNDARY = re.compile(r"[.!?]+[”\"’')\]]*\s+(?=[“\"‘'(\[]?[A-Z0-9])")
_DATELINE = re.compile(r"^[A-Z][A-Z .,'-]*(?:\s*\(?[A-Za-z]*\)?)?\s*[:—–-]$")
_CREDIT = re.compile(r"\([^()]{1,60}\)\s*")
_CLOSED = re.compile(r"[.!?:;…][”\"’')\]]*$")


def split_sentences(text: str) -> list[str]:
    sentences: list[str] = []
    for line in _join_lines(text):
        sentences.extend(_split_line(line))
    return sentences


def _join_lines(text: str) -> list[str]:
    lines: list[str] = []
    pending_blank = True
    raw_lines = text.splitlines()
    width = max((len(raw.rstrip()) for raw in raw_lines), default=0)
    previous = ""
    for raw in raw_lines:
        line = " ".join(raw.split())
        if not line:
            pending_blank = True
            continue
        continues = line[0].islower() or _wrapped(previous, width)
        if lines and not pending_blank and not _CLOSED.search(lines[-1]) and continues:
            lines[-1] += " " + line  # a hard-wrapped sentence
        elif lines and _DATELINE.match(lines[-1]):
            lines[-1] += " " + line  # "BEIJING:" on a line of its own belongs to what follows
        else:
            lines.append(line)
        pending_blank = False
        previous = raw
    return lines


def _wrapped(raw: str, width: int) -> bool:
    """A line cut by hard wrapping: near the text's full width (a short headline is not)."""
    return width >= WRAP_MIN_WIDTH and len(raw.rstrip()) >= WRAP_SHARE * width


def _split_line(line: str) -> list[str]:
    pieces, start = [], 0
    for match in _BOUNDARY.finditer(line):
        before = line[start:match.start()].split()
        last = before[-1] if before else ""
        following = line[match.end():].split(maxsplit=1)
        if _CREDIT.fullmatch(line[match.end():]):  # "... forecourt. (Pacific Wire)" is one line
            continue
        if _is_abbreviation(last, match.group(), following[0] if following else ""):
            continue
        if _LIST_MARKER.fullmatch(line[start:match.end()].strip()):
            continue
        pieces.append(line[start:match.end()].strip())
        start = match.end()
    tail = line[start:].strip()
    if tail:
        pieces.append(tail)
    return pieces


def _is_abbreviation(word: str, punctuation: str, next_word: str) -> bool:
    if not punctuation.startswith(".") or punctuation.startswith(".."):
        return False
    bare = word.lstrip("(“\"'‘").rstrip(".")
    if bare.lower() in _ABBREVIATIONS:
        return True
    if len(bare) == 1 and bare.isupper():  # an initial: "J. Smith"
        return True
    if re.fullmatch(r"(?:[A-Za-z]\.)+[A-Za-z]", bare):  # "U.S", "U.K", "e.g"
        return next_word.strip("“\"'‘(") not in _OPENERS
    return False
