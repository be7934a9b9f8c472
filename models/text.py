"""Text as the TF-IDF families see it: scikit-learn's preprocessing, word tokens and char_wb n-grams."""

from __future__ import annotations

import re
import unicodedata
from array import array
from functools import partial
from operator import is_not

WORD = re.compile(r"(?u)\b\w\w+\b")  # scikit-learn's default token_pattern
_KNOWN = partial(is_not, None)  # a vocabulary lookup's hit (id 0 included), in C


def preprocess(text: str) -> str:
    """scikit-learn's preprocessing with ``lowercase=True, strip_accents="unicode"``: lowercase,
    NFKD, combining marks removed (by ``str.translate``, in C)."""
    text = text.lower()
    if text.isascii():
        return text
    return unicodedata.normalize("NFKD", text).translate(_MARKS)


class Cached(dict):
    """key -> ``compute(key)``, computed on first sight and kept (up to ``limit`` keys, for
    long-running servers: past it a new key is computed each time). Lookups through
    ``map(cached.__getitem__, keys)`` stay in C for the keys it holds."""

    def __init__(self, compute, limit: int | None = None):
        super().__init__()
        self.compute, self.limit = compute, limit

    def __missing__(self, key):
        value = self.compute(key)
        if self.limit is None or len(self) < self.limit:
            self[key] = value
        return value


# code point -> None for a combining mark (``str.translate`` deletes it), else itself.
_MARKS = Cached(lambda code: None if unicodedata.combining(chr(code)) else code)


def ngrams(tokens: list[str], n: int):
    """A text's word n-grams as scikit-learn joins them (``"a b"``)."""
    return tokens if n == 1 else map(" ".join, zip(*(tokens[k:] for k in range(n))))


def ngram_ids(texts, ngram_range: tuple[int, int], vocabulary: dict[str, int]) -> tuple[array, array]:
    """The ``vocabulary`` ids of each preprocessed text's word n-grams, concatenated (C ints),
    and how many each text has (C int64s)."""
    low, high = ngram_range
    found, lengths, get = array("i"), array("q"), vocabulary.get
    for text in texts:
        tokens = WORD.findall(text)
        start = len(found)
        for n in range(low, high + 1):
            found.extend(filter(_KNOWN, map(get, ngrams(tokens, n))))  # C loops: no Python frame per gram
        lengths.append(len(found) - start)
    return found, lengths


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
