"""The TF-IDF family: its fast character n-gram path equals scikit-learn's, and it round-trips."""

import json

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from models.tfidf_linear import TfidfLinear, char_wb_transform

from conftest import CORPUS

TEXTS = [json.loads(line)["text"] for line in CORPUS.read_text(encoding="utf-8").splitlines()[:600]]
ODD = ["", "a", "Café   naïve\tTAB", "U.S.-led «talks»", "I", "ÉNERGIE"]


@pytest.mark.parametrize("ngrams", [(2, 5), (1, 3), (4, 4)])
def test_cached_char_ngrams_equal_scikit_learn(ngrams):
    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=ngrams, sublinear_tf=True,
                                 strip_accents="unicode", dtype=np.float32).fit(TEXTS[:400])
    unseen = TEXTS[400:] + ODD
    expected = vectorizer.transform(unseen)
    cache = {}
    for _ in range(2):  # cold and warm cache
        got = char_wb_transform(vectorizer, unseen, cache)
        assert (got != expected).nnz == 0


def test_save_and_load_give_the_same_probabilities(tmp_path):
    Y = np.array([[("trade" in t.lower()), ("gas" in t.lower() or "oil" in t.lower())] for t in TEXTS], dtype=int)
    model = TfidfLinear(seed=1, char_ngrams=(2, 4), C=2.0).fit(TEXTS, Y)
    model.save(tmp_path / "m")
    loaded = TfidfLinear.load(tmp_path / "m")
    assert loaded.params == model.params and loaded.seed == 1
    np.testing.assert_allclose(loaded.predict_proba(TEXTS + ODD), model.predict_proba(TEXTS + ODD), atol=1e-9)
    assert not list(tmp_path.glob("m/*.pkl")), "no pickle in a saved model"


def test_a_label_never_seen_in_training_scores_low_everywhere():
    Y = np.array([[1, 0] if i % 2 else [0, 0] for i in range(len(TEXTS))])
    proba = TfidfLinear(seed=0).fit(TEXTS, Y).predict_proba(TEXTS[:5])
    assert proba.shape == (5, 2) and (proba[:, 1] < 1e-6).all()
