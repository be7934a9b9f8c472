"""Text as the TF-IDF families see it: scikit-learn's preprocessing, word tokens and char_wb n-grams."""

from __future__ import annotations

import re
import unicodedata
from functools import partial
from operator import is_not

WORD = re.compile(r"(?u)\b\w\w+\b")  # scikit-learn's default token_pattern
KNOWN = partial(is_not, None)  # a vocabulary lookup's hit (id 0 included), in C: filter(KNOWN, map(get, grams))


def preprocess(text: str) -> str:
    """scikit-learn's preprocessing with ``lowercase=True, strip_accents="unicode"``: lowercase,
    NFKD, combining marks removed (by ``str.translate``, in C)."""
    text = text.lower()
    if text.isascii():
        return text
    return unicodedata.normalize("NFKD", text).translate(_MARKS)


class _Marks(dict):
    """code point -> None for a combining mark (``str.translate`` deletes it), else itself;
    each code point looked up once."""

    def __missing__(self, code: int) -> int | None:
        value = self[code] = None if unicodedata.combining(chr(code)) else code
        return value


_MARKS = _Marks()


def char_wb_grams(padded: str, low: int, high: int) -> list[str]:
    """The char_wb n-grams of one padded word (``" word "``), as scikit-learn makes them."""
    grams = []
    for n in range(low, high + 1):
        # As scikit-learn does: a word shorter than n still gives itself once, then stops.
        grams += [padded[i:i + n] for i in range(max(1, len(padded) - n + 1))]
        if n >= len(padded):
            break
    return grams


def char_wb_ids(padded: str, low: int, high: int, vocabulary: dict) -> list[int]:
    """The ids of a padded word's char_wb n-grams that ``vocabulary`` holds."""
    return [vocabulary[g] for g in char_wb_grams(padded, low, high) if g in vocabulary]
