"""Family ``tfidf_linear``: word and character TF-IDF n-grams + one-vs-rest logistic regression.
Trains in seconds and serves without torch; the baseline every other family must beat.

scikit-learn fits it (``TfidfVectorizer``, liblinear ``LogisticRegression``); serving needs only
NumPy (SciPy too with context): each fitted vectorizer becomes a ``Featurizer`` (its vocabulary,
IDF weights and preprocessing settings) that builds the same matrix scikit-learn would
(tests/test_tfidf_linear.py), so a cold ``readout tag`` pays neither ~1 s for importing
scikit-learn nor ~0.4 s for SciPy. ``keywords`` adds the codebook's terms as features.

Saved without pickle: vocabularies and settings as JSON, IDF weights and the linear head as a
NumPy ``.npz`` read with ``allow_pickle=False``. (skops was tried: ~7 s to save a 100k-term
vocabulary and ~2.4 s to import, which training and a cold ``readout tag`` cannot afford.)
"""

from __future__ import annotations

import json
import re
from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal, NamedTuple

import numpy as np
from annotated_types import Ge

from models.base import sigmoid
from models.linear_head import LinearHeadClassifier, LinearHeadParams
from models.text import WORD, Cached, char_wb_ids, ngram_ids, preprocess

_INT_BYTES = array("i").itemsize


@dataclass
class TfidfLinearParams(LinearHeadParams):
    family: Literal["tfidf_linear"] = "tfidf_linear"
    word_ngrams: tuple[int, int] = (1, 2)
    # Character n-grams within words catch spelling and inflection variants (defence/defense,
    # invest/investment): on the real seed sentences they lift macro-F1 from ~0.66 to ~0.88.
    char_ngrams: tuple[int, int] | None = (2, 5)
    min_df: Annotated[int, Ge(1)] = 1
    max_features: Annotated[int, Ge(1)] | None = None
    sublinear_tf: bool = True
    # The codebook's terms (models.codebook_terms) as four on/off features of this weight (0: off):
    # what a keyword list knows, for the head to weigh against the n-grams.
    keywords: Annotated[float, Ge(0)] = 0.0


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
        blocks = [v.fit_transform(texts) for v in vectorizers]
        self.featurizers_ = [Featurizer.from_sklearn(v) for v in vectorizers]
        if p.keywords:
            self.featurizers_.append(TermsFeaturizer(p.keywords))
            blocks.append(self.featurizers_[-1].transform(texts))
        self._fit_head(sp.hstack(blocks, format="csr"), Y, doc_ids, validation, on_epoch)

    def _features(self, texts):
        import scipy.sparse as sp

        blocks = [f.transform(texts) for f in self.featurizers_]
        return blocks[0] if len(blocks) == 1 else sp.hstack(blocks, format="csr")

    def _predict_proba(self, texts, doc_ids):
        if self.params.context.enabled:  # context blocks are built with SciPy
            return super()._predict_proba(texts, doc_ids)
        # Each block's rows times its slice of the head, in NumPy alone.
        logits, offset = self.intercept_, 0
        for featurizer in self.featurizers_:
            logits = logits + featurizer.rows(texts).dot(self.coef_[:, offset:offset + featurizer.width].T)
            offset += featurizer.width
        return sigmoid(logits)

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
                offset += featurizer.width
            terms = X.indices[X.indptr[r]:X.indptr[r + 1]]
            parts = self.coef_[:, terms] * X.data[X.indptr[r]:X.indptr[r + 1]]
            out[i] = exact_terms(texts[i], found, dict(zip(terms.tolist(), parts.T)), self.coef_.shape[0])
        return out

    def _save(self, folder: Path) -> None:
        settings = [f.settings() for f in self.featurizers_]
        (folder / "vocabularies.json").write_text(json.dumps(settings, ensure_ascii=False))
        np.savez_compressed(folder / "idf.npz", **{f"idf_{i}": f.idf for i, f in enumerate(self.featurizers_)
                                                   if isinstance(f, Featurizer)})
        self._save_head(folder)

    def _load(self, folder: Path) -> None:
        settings = json.loads((folder / "vocabularies.json").read_text())
        with np.load(folder / "idf.npz", allow_pickle=False) as arrays:
            self.featurizers_ = [TermsFeaturizer(**s) if s["analyzer"] == TermsFeaturizer.analyzer
                                 else Featurizer(idf=arrays[f"idf_{i}"], **s) for i, s in enumerate(settings)]
        self._load_head(folder)


class Featurizer:
    """A fitted TF-IDF vectorizer's transform (lowercase, strip accents, n-grams, sublinear TF,
    IDF, L2 norm) in NumPy alone (``rows``), or as SciPy CSR (``transform``).

    N-gram ids go straight into CSR arrays; ``char_wb`` n-grams never cross a word boundary, so
    each distinct word's ids are computed once and cached (bounded, for long-running servers).
    """

    CACHE_LIMIT = 500_000

    def __init__(self, analyzer: str, ngram_range, vocabulary: dict[str, int], idf: np.ndarray,
                 sublinear_tf: bool = True):
        self.analyzer, self.ngram_range = analyzer, tuple(ngram_range)
        self.vocabulary, self.idf, self.sublinear_tf = vocabulary, np.asarray(idf, dtype=np.float32), sublinear_tf
        # char_wb: each distinct word's ids, as the bytes of C ints, computed once
        self._word_ids = Cached(self._char_ids_of, self.CACHE_LIMIT)

    @classmethod
    def from_sklearn(cls, vectorizer) -> Featurizer:
        return cls(vectorizer.analyzer, vectorizer.ngram_range,
                   {term: int(i) for term, i in vectorizer.vocabulary_.items()}, vectorizer.idf_,
                   vectorizer.sublinear_tf)

    @property
    def width(self) -> int:
        """How many feature columns it makes."""
        return len(self.vocabulary)

    def settings(self) -> dict:
        return {"analyzer": self.analyzer, "ngram_range": list(self.ngram_range), "vocabulary": self.vocabulary,
                "sublinear_tf": self.sublinear_tf}

    def transform(self, texts):
        """The TF-IDF matrix of ``texts`` as SciPy CSR (training, context, evidence)."""
        return self.rows(texts).to_scipy()

    def rows(self, texts) -> Rows:
        """The TF-IDF matrix of ``texts`` in NumPy arrays alone: a cold ``readout tag`` skips
        SciPy's import (~0.4 s)."""
        if self.analyzer == "char_wb":
            # Each word's ids as the bytes of C ints (cached), joined per text in C.
            ids = self._word_ids
            joined = [b"".join(map(ids.__getitem__, preprocess(text).split())) for text in texts]
            lengths = np.fromiter(map(len, joined), dtype=np.int64, count=len(joined)) // _INT_BYTES
            columns = np.frombuffer(b"".join(joined), dtype=np.intc)
        else:
            found, lengths = ngram_ids(map(preprocess, texts), self.ngram_range, self.vocabulary)
            columns, lengths = np.frombuffer(found, dtype=np.intc), np.frombuffer(lengths, dtype=np.int64)
        return self._weigh(columns, lengths)

    def _weigh(self, columns: np.ndarray, lengths: np.ndarray) -> Rows:
        """Counts -> (sublinear) TF x IDF -> L2-normalised rows, from each row's n-gram ids."""
        n, shift = len(lengths), max(1, len(self.vocabulary) - 1).bit_length()
        # One sort of (row, column) keys finds each row's distinct n-grams and their counts.
        keys = np.repeat(np.arange(n, dtype=np.int64) << shift, lengths) | columns
        keys.sort()
        first = np.ones(len(keys), dtype=bool)
        np.not_equal(keys[1:], keys[:-1], out=first[1:])
        starts = np.flatnonzero(first)
        counts = np.diff(np.append(starts, len(keys))).astype(np.float32)
        keys = keys[starts]
        row, column = keys >> shift, (keys & ((1 << shift) - 1)).astype(np.intc)
        data = np.log(counts) + 1.0 if self.sublinear_tf else counts
        data *= self.idf[column]
        norms = np.sqrt(np.bincount(row, weights=data * data, minlength=n)).astype(np.float32)
        norms[norms == 0] = 1.0
        data /= norms[row]
        return Rows(row, column, data, (n, len(self.vocabulary)))

    def _char_ids(self, word: str) -> bytes:
        """The char_wb n-gram ids of one preprocessed word, cached as the bytes of C ints."""
        return self._word_ids[word]

    def _char_ids_of(self, word: str) -> bytes:
        low, high = self.ngram_range
        return array("i", char_wb_ids(f" {word} ", low, high, self.vocabulary)).tobytes()

    def occurrences(self, text: str) -> list[tuple[int, int, int]] | None:
        """Each vocabulary term found in ``text`` as ``(term, start, end)`` in the original text;
        None where preprocessing changed the tokens so that no such map exists."""
        low, high = self.ngram_range
        if self.analyzer == "char_wb":
            tokens = [m for m in re.finditer(r"\S+", text)]
            if len(tokens) != len(preprocess(text).split()):
                return None
            return [(term, m.start(), m.end()) for m in tokens
                    for term in array("i", self._char_ids(preprocess(m.group())))]
        tokens = list(WORD.finditer(text))
        forms = [preprocess(m.group()) for m in tokens]
        if forms != WORD.findall(preprocess(text)):
            return None
        found = []
        for n in range(low, high + 1):
            for k in range(len(forms) - n + 1):
                term = self.vocabulary.get(" ".join(forms[k:k + n]))
                if term is not None:
                    found.append((term, tokens[k].start(), tokens[k + n - 1].end()))
        return found


class TermsFeaturizer:
    """The codebook's terms as features: column k is ``weight`` where the sentence names a term
    of label k (``models.codebook_terms``). The terms are saved with the model, so editing the
    list never changes a trained model."""

    analyzer = "codebook_terms"

    def __init__(self, weight: float, terms: dict[str, list[str]] | None = None, bought_or_sold: str | None = None,
                 analyzer: str = analyzer):
        from models.codebook_terms import BOUGHT_OR_SOLD, CodebookTerms

        self.weight = weight
        self.terms = CodebookTerms(terms, bought_or_sold or BOUGHT_OR_SOLD)
        self.width = len(self.terms.labels)

    def rows(self, texts) -> Rows:
        on = np.array([self.terms.found(text) for text in texts], dtype=bool).reshape(len(texts), self.width)
        row, column = np.nonzero(on)
        return Rows(row, column.astype(np.intc), np.full(len(row), self.weight, dtype=np.float32),
                    (len(texts), self.width))

    def transform(self, texts):
        return self.rows(texts).to_scipy()

    def occurrences(self, text: str) -> list[tuple[int, int, int]]:
        return self.terms.spans(text)

    def settings(self) -> dict:
        return {"analyzer": self.analyzer, "weight": self.weight, **self.terms.settings()}


class Rows(NamedTuple):
    """A sparse matrix as NumPy arrays: entry k is ``data[k]`` at (``row[k]``, ``column[k]``),
    sorted by row."""

    row: np.ndarray
    column: np.ndarray
    data: np.ndarray
    shape: tuple[int, int]

    def dot(self, W: np.ndarray) -> np.ndarray:
        """``rows @ W`` for a dense (n_columns, k) ``W``, one label column at a time, without SciPy."""
        return np.column_stack([np.bincount(self.row, weights=self.data * w[self.column], minlength=self.shape[0])
                                for w in W.T]) if W.shape[1] else np.zeros((self.shape[0], 0))

    def to_scipy(self):
        import scipy.sparse as sp

        indptr = np.zeros(self.shape[0] + 1, dtype=np.int64)
        np.cumsum(np.bincount(self.row, minlength=self.shape[0]), out=indptr[1:])
        return sp.csr_matrix((self.data, self.column, indptr), shape=self.shape)
