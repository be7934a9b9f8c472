"""Family ``tfidf_linear``: word (and optionally character) TF-IDF n-grams + one-vs-rest logistic
regression. Trains in seconds and serves without torch; the baseline every other family must beat.

Saved without pickle: vocabularies as JSON, IDF weights and the linear head as a NumPy ``.npz``
read with ``allow_pickle=False``. (skops was tried: it took ~7 s to save a 100k-term vocabulary
and its import alone ~2.4 s, which a cold ``readout tag`` cannot afford.)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field

from models.base import Classifier, Params


class TfidfLinearParams(Params):
    word_ngrams: tuple[int, int] = (1, 2)
    # Character n-grams within words catch spelling variants (defence/defense) but cost ~5x the
    # tagging time of words alone; null turns them off.
    char_ngrams: tuple[int, int] | None = None
    min_df: int = Field(1, ge=1)
    max_features: int | None = Field(None, ge=1)
    sublinear_tf: bool = True
    C: float = Field(4.0, gt=0)
    class_weight: Literal["balanced"] | None = "balanced"
    max_iter: int = Field(2000, ge=10)


class TfidfLinear(Classifier):
    name = "tfidf_linear"
    Params = TfidfLinearParams

    def _vectorizers(self):
        from sklearn.feature_extraction.text import TfidfVectorizer

        p = self.params
        common = {"min_df": p.min_df, "max_features": p.max_features, "sublinear_tf": p.sublinear_tf,
                  "strip_accents": "unicode", "dtype": np.float32}
        vectorizers = [TfidfVectorizer(ngram_range=p.word_ngrams, **common)]
        if p.char_ngrams:
            vectorizers.append(TfidfVectorizer(analyzer="char_wb", ngram_range=p.char_ngrams, **common))
        return vectorizers

    def _features(self, texts):
        import scipy.sparse as sp

        if not hasattr(self, "_char_cache"):
            self._char_cache = {}
        blocks = [char_wb_transform(v, texts, self._char_cache) if v.analyzer == "char_wb" else v.transform(texts)
                  for v in self.vectorizers_]
        return blocks[0] if len(blocks) == 1 else sp.hstack(blocks, format="csr")

    def fit(self, texts, Y, validation=None, on_epoch=None):
        import scipy.sparse as sp
        from sklearn.linear_model import LogisticRegression

        texts, Y = list(texts), np.asarray(Y)
        self.vectorizers_ = self._vectorizers()
        X = sp.hstack([v.fit_transform(texts) for v in self.vectorizers_], format="csr")
        p = self.params
        coef, intercept = np.zeros((Y.shape[1], X.shape[1])), np.zeros(Y.shape[1])
        for j in range(Y.shape[1]):
            if Y[:, j].min() == Y[:, j].max():  # a label that is always (or never) on: constant score
                intercept[j] = 20.0 if Y[0, j] else -20.0
                continue
            head = LogisticRegression(C=p.C, class_weight=p.class_weight, max_iter=p.max_iter, solver="liblinear",
                                      random_state=self.seed).fit(X, Y[:, j])
            coef[j], intercept[j] = head.coef_[0], head.intercept_[0]
        self.coef_, self.intercept_ = coef, intercept
        if on_epoch:  # one "epoch": a closed-form fit, reported like the iterative families
            metrics = {"train_loss": mean_log_loss(Y, self.predict_proba(texts))}
            if validation is not None:
                metrics["val_loss"] = mean_log_loss(np.asarray(validation[1]), self.predict_proba(validation[0]))
            on_epoch(1, metrics)
        return self

    def predict_proba(self, texts):
        scores = self._features(list(texts)) @ self.coef_.T + self.intercept_
        return 1.0 / (1.0 + np.exp(-np.asarray(scores, dtype=np.float64)))

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "params.json").write_text(json.dumps({"seed": self.seed, **self.params.model_dump(mode="json")}))
        vocabularies = [{term: int(i) for term, i in v.vocabulary_.items()} for v in self.vectorizers_]
        (folder / "vocabularies.json").write_text(json.dumps(vocabularies, ensure_ascii=False))
        arrays = {f"idf_{i}": v.idf_ for i, v in enumerate(self.vectorizers_)}
        np.savez_compressed(folder / "weights.npz", coef=self.coef_, intercept=self.intercept_, **arrays)

    @classmethod
    def load(cls, folder: Path) -> TfidfLinear:
        model = cls(**json.loads((folder / "params.json").read_text()))
        vocabularies = json.loads((folder / "vocabularies.json").read_text())
        with np.load(folder / "weights.npz", allow_pickle=False) as arrays:
            model.coef_, model.intercept_ = arrays["coef"], arrays["intercept"]
            model.vectorizers_ = model._vectorizers()
            for i, (vectorizer, vocabulary) in enumerate(zip(model.vectorizers_, vocabularies)):
                vectorizer.vocabulary_ = vocabulary
                vectorizer.idf_ = arrays[f"idf_{i}"]
        return model


def char_wb_transform(vectorizer, texts, cache: dict):
    """``vectorizer.transform(texts)`` for a fitted ``analyzer="char_wb"`` TfidfVectorizer, ~10x faster.

    char_wb n-grams never cross a word boundary, so each distinct word's n-gram ids are computed
    once and cached; counts then go through the vectorizer's own TF-IDF weighting, so the result
    is the same matrix scikit-learn builds (checked in tests/test_tfidf_linear.py).
    """
    import scipy.sparse as sp

    preprocess = vectorizer.build_preprocessor()
    vocabulary = vectorizer.vocabulary_
    low, high = vectorizer.ngram_range
    indices: list[int] = []
    indptr = [0]
    for text in texts:
        for word in preprocess(text).split():
            ids = cache.get(word)
            if ids is None:
                padded = f" {word} "
                ids = []
                for n in range(low, high + 1):
                    # As scikit-learn does: a word shorter than n still gives itself once, then stops.
                    grams = (padded[i:i + n] for i in range(max(1, len(padded) - n + 1)))
                    ids += [vocabulary[g] for g in grams if g in vocabulary]
                    if n >= len(padded):
                        break
                if len(cache) < 500_000:  # bounded: a long-running server sees unbounded vocabularies
                    cache[word] = ids
            indices.extend(ids)
        indptr.append(len(indices))
    counts = sp.csr_matrix((np.ones(len(indices), dtype=vectorizer.dtype), indices, indptr),
                           shape=(len(texts), len(vocabulary)))
    counts.sum_duplicates()
    return vectorizer._tfidf.transform(counts, copy=False)


def mean_log_loss(Y: np.ndarray, P: np.ndarray) -> float:
    """Binary cross-entropy averaged over labels and sentences (the loss every family reports)."""
    P = np.clip(P, 1e-7, 1 - 1e-7)
    return float(-np.mean(Y * np.log(P) + (1 - Y) * np.log(1 - P)))
