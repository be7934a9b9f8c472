"""Family ``tfidf_linear``: word and character TF-IDF n-grams + one-vs-rest logistic regression.
Trains in seconds and serves without torch; the baseline every other family must beat.

scikit-learn fits it (``TfidfVectorizer``, liblinear ``LogisticRegression``); serving needs only
NumPy and SciPy: each fitted vectorizer becomes a ``Featurizer`` (its vocabulary, IDF weights and
preprocessing settings) that builds the same matrix scikit-learn would (tests/test_tfidf_linear.py),
so a cold ``readout tag`` does not pay ~1 s for importing scikit-learn.

Saved without pickle: vocabularies and settings as JSON, IDF weights and the linear head as a
NumPy ``.npz`` read with ``allow_pickle=False``. (skops was tried: ~7 s to save a 100k-term
vocabulary and ~2.4 s to import, which training and a cold ``readout tag`` cannot afford.)
"""

from __future__ import annotations

import json
import re
import unicodedata
from array import array
from functools import partial
from operator import is_not
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field

from models.linear_head import LinearHeadClassifier, LinearHeadParams

_WORD = re.compile(r"(?u)\b\w\w+\b")  # scikit-learn's default token_pattern
_KNOWN = partial(is_not, None)  # a vocabulary lookup's hit (id 0 included), in C
_INT_BYTES = array("i").itemsize


class TfidfLinearParams(LinearHeadParams):
    family: Literal["tfidf_linear"] = "tfidf_linear"
    word_ngrams: tuple[int, int] = (1, 2)
    # Character n-grams within words catch spelling and inflection variants (defence/defense,
    # invest/investment): on the real seed sentences they lift macro-F1 from ~0.66 to ~0.88.
    char_ngrams: tuple[int, int] | None = (2, 5)
    min_df: int = Field(1, ge=1)
    max_features: int | None = Field(None, ge=1)
    sublinear_tf: bool = True


class TfidfLinear(LinearHeadClassifier):
    name = "tfidf_linear"
    Params = TfidfLinearParams

    def _fit(self, texts, Y, doc_ids, validation, on_epoch):
        import scipy.sparse as sp
        from sklearn.feature_extraction.text import TfidfVectorizer

        p = self.params
        common = {"min_df": p.min_df, "max_features": p.max_features, "sublinear_tf": p.sublinear_tf,
                  "strip_accents": "unicode", "dtype": np.float32}
        vectorizers = [TfidfVectorizer(ngram_range=p.word_ngrams, **common)]
        if p.char_ngrams:
            vectorizers.append(TfidfVectorizer(analyzer="char_wb", ngram_range=p.char_ngrams, **common))
        X = sp.hstack([v.fit_transform(texts) for v in vectorizers], format="csr")
        self.featurizers_ = [Featurizer.from_sklearn(v) for v in vectorizers]
        self._fit_head(X, Y, doc_ids, validation, on_epoch)

    def _features(self, texts):
        import scipy.sparse as sp

        blocks = [f.transform(texts) for f in self.featurizers_]
        return blocks[0] if len(blocks) == 1 else sp.hstack(blocks, format="csr")

    def word_evidence(self, texts, doc_ids, rows):
        """Exact: each n-gram's TF-IDF value times its weight (``models.evidence.exact_terms``); the
        neighbours' part of the logit is context, not a word of this sentence."""
        from models.evidence import exact_terms, occlusion

        texts = list(texts)
        X = self._features([texts[i] for i in rows])
        out = {}
        for r, i in enumerate(rows):
            found, offset = [], 0
            for featurizer in self.featurizers_:
                spans = featurizer.occurrences(texts[i])
                if spans is None:  # preprocessing moved characters (rare Unicode): no exact map
                    return occlusion(self, texts, doc_ids, list(rows))
                found += [(offset + term, start, end) for term, start, end in spans]
                offset += len(featurizer.vocabulary)
            terms = X.indices[X.indptr[r]:X.indptr[r + 1]]
            parts = self.coef_[:, terms] * X.data[X.indptr[r]:X.indptr[r + 1]]
            out[i] = exact_terms(texts[i], found, dict(zip(terms.tolist(), parts.T)), self.coef_.shape[0])
        return out

    def _save(self, folder: Path) -> None:
        settings = [f.settings() for f in self.featurizers_]
        (folder / "vocabularies.json").write_text(json.dumps(settings, ensure_ascii=False))
        np.savez_compressed(folder / "idf.npz", **{f"idf_{i}": f.idf for i, f in enumerate(self.featurizers_)})
        self._save_head(folder)

    def _load(self, folder: Path) -> None:
        settings = json.loads((folder / "vocabularies.json").read_text())
        with np.load(folder / "idf.npz", allow_pickle=False) as arrays:
            self.featurizers_ = [Featurizer(idf=arrays[f"idf_{i}"], **s) for i, s in enumerate(settings)]
        self._load_head(folder)


class Featurizer:
    """A fitted TF-IDF vectorizer's transform (lowercase, strip accents, n-grams, sublinear TF,
    IDF, L2 norm) in NumPy/SciPy alone.

    N-gram ids go straight into CSR arrays; ``char_wb`` n-grams never cross a word boundary, so
    each distinct word's ids are computed once and cached (bounded, for long-running servers).
    """

    CACHE_LIMIT = 500_000

    def __init__(self, analyzer: str, ngram_range, vocabulary: dict[str, int], idf: np.ndarray,
                 sublinear_tf: bool = True):
        self.analyzer, self.ngram_range = analyzer, tuple(ngram_range)
        self.vocabulary, self.idf, self.sublinear_tf = vocabulary, np.asarray(idf, dtype=np.float32), sublinear_tf
        self._cache: dict[str, bytes] = {}

    @classmethod
    def from_sklearn(cls, vectorizer) -> Featurizer:
        return cls(vectorizer.analyzer, vectorizer.ngram_range,
                   {term: int(i) for term, i in vectorizer.vocabulary_.items()}, vectorizer.idf_,
                   vectorizer.sublinear_tf)

    def settings(self) -> dict:
        return {"analyzer": self.analyzer, "ngram_range": list(self.ngram_range), "vocabulary": self.vocabulary,
                "sublinear_tf": self.sublinear_tf}

    def transform(self, texts):
        import scipy.sparse as sp

        low, high = self.ngram_range
        indices = array("i")  # C ints: extends and converts to NumPy without a Python-list detour
        indptr = [0]
        if self.analyzer == "char_wb":
            # Each word's ids as the bytes of C ints, joined once: no per-word conversion.
            pieces, total, cached = [], 0, self._cache.get
            for text in texts:
                for word in _preprocess(text).split():
                    ids = cached(word) or self._char_ids(word)
                    pieces.append(ids)
                    total += len(ids)
                indptr.append(total // _INT_BYTES)
            indices = bytearray().join(pieces)  # writable: sum_duplicates sorts in place
        else:
            get = self.vocabulary.get
            for text in texts:
                tokens = _WORD.findall(_preprocess(text))
                for n in range(low, high + 1):
                    grams = tokens if n == 1 else map(" ".join, zip(*(tokens[k:] for k in range(n))))
                    indices.extend(filter(_KNOWN, map(get, grams)))  # C loops: no Python frame per gram
                indptr.append(len(indices))
        columns = np.frombuffer(indices, dtype=np.intc)  # array("i")'s C int
        X = sp.csr_matrix((np.ones(len(columns), dtype=np.float32), columns, indptr),
                          shape=(len(indptr) - 1, len(self.vocabulary)))
        X.sum_duplicates()
        if self.sublinear_tf:
            np.log(X.data, out=X.data)
            X.data += 1.0
        X.data *= self.idf[X.indices]
        X.data /= np.repeat(_row_norms(X), np.diff(X.indptr))
        return X


    def _char_ids(self, word: str) -> bytes:
        """The char_wb n-gram ids of one preprocessed word, cached as the bytes of C ints."""
        ids = self._cache.get(word)
        if ids is None:
            low, high = self.ngram_range
            ids = array("i", _char_wb_ids(f" {word} ", low, high, self.vocabulary)).tobytes()
            if len(self._cache) < self.CACHE_LIMIT:
                self._cache[word] = ids
        return ids

    def occurrences(self, text: str) -> list[tuple[int, int, int]] | None:
        """Each vocabulary term found in ``text`` as ``(term, start, end)`` in the original text;
        None where preprocessing changed the tokens so that no such map exists."""
        low, high = self.ngram_range
        if self.analyzer == "char_wb":
            tokens = [m for m in re.finditer(r"\S+", text)]
            if len(tokens) != len(_preprocess(text).split()):
                return None
            return [(term, m.start(), m.end()) for m in tokens
                    for term in array("i", self._char_ids(_preprocess(m.group())))]
        tokens = list(_WORD.finditer(text))
        forms = [_preprocess(m.group()) for m in tokens]
        if forms != _WORD.findall(_preprocess(text)):
            return None
        found = []
        for n in range(low, high + 1):
            for k in range(len(forms) - n + 1):
                term = self.vocabulary.get(" ".join(forms[k:k + n]))
                if term is not None:
                    found.append((term, tokens[k].start(), tokens[k + n - 1].end()))
        return found


def _row_norms(X) -> np.ndarray:
    """L2 norm of each CSR row (1 for an empty row, so dividing leaves it empty)."""
    squares = X.multiply(X).sum(axis=1).A1 if X.nnz else np.zeros(X.shape[0])
    norms = np.sqrt(squares).astype(np.float32)
    norms[norms == 0] = 1.0
    return norms


def _preprocess(text: str) -> str:
    """scikit-learn's preprocessing with ``lowercase=True, strip_accents="unicode"``."""
    text = text.lower()
    if text.isascii():
        return text
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def _char_wb_ids(padded: str, low: int, high: int, vocabulary: dict) -> list[int]:
    ids = []
    for n in range(low, high + 1):
        # As scikit-learn does: a word shorter than n still gives itself once, then stops.
        grams = (padded[i:i + n] for i in range(max(1, len(padded) - n + 1)))
        ids += [vocabulary[g] for g in grams if g in vocabulary]
        if n >= len(padded):
            break
    return ids
