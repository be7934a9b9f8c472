"""The TF-IDF family: it serves without scikit-learn or SciPy yet builds scikit-learn's matrix, and round-trips."""

import json

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from models.tfidf_linear import Featurizer, TfidfLinear

from helpers import CORPUS, proba_shape_in_a_fresh_process

TEXTS = [json.loads(line)["text"] for line in CORPUS.read_text(encoding="utf-8").splitlines()[:600]]
ODD = ["", "a", "Café   naïve\tTAB", "U.S.-led «talks»", "I", "ÉNERGIE"]


@pytest.mark.parametrize("analyzer, ngrams", [("char_wb", (2, 5)), ("char_wb", (1, 3)), ("char_wb", (4, 4)),
                                              ("word", (1, 2)), ("word", (2, 3)), ("word", (1, 1))])
def test_featurizer_builds_the_matrix_scikit_learn_builds(analyzer, ngrams):
    vectorizer = TfidfVectorizer(analyzer=analyzer, ngram_range=ngrams, sublinear_tf=True,
                                 strip_accents="unicode", dtype=np.float32).fit(TEXTS[:400])
    unseen = TEXTS[400:] + ODD
    expected = vectorizer.transform(unseen).toarray()
    featurizer = Featurizer.from_sklearn(vectorizer)
    for _ in range(2):  # cold and warm cache
        np.testing.assert_allclose(featurizer.transform(unseen).toarray(), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("keywords", [0.0, 0.3])
def test_save_and_load_give_the_same_probabilities(tmp_path, keywords):
    Y = np.array([[("trade" in t.lower()), ("gas" in t.lower() or "oil" in t.lower())] for t in TEXTS], dtype=int)
    model = TfidfLinear(TfidfLinear.Params(char_ngrams=(2, 4), C=2.0, keywords=keywords), seed=1).fit(TEXTS, Y)
    model.save(tmp_path / "m")
    loaded = TfidfLinear.load(tmp_path / "m")
    assert loaded.params == model.params and loaded.seed == 1
    np.testing.assert_allclose(loaded.predict_proba(TEXTS + ODD), model.predict_proba(TEXTS + ODD), atol=1e-9)
    assert not list(tmp_path.glob("m/*.pkl")), "no pickle in a saved model"
    # Served in NumPy alone, the probabilities are those of the SciPy matrix the head was fitted on.
    from models.base import sigmoid

    np.testing.assert_allclose(model.predict_proba(TEXTS + ODD),
                               sigmoid(model._logits(model._features(TEXTS + ODD))), rtol=1e-5)


def test_codebook_terms_are_features_the_head_weighs():
    from models.codebook_terms import keyword_labels
    from models.tfidf_linear import TermsFeaturizer

    sentences = ["They will buy more LNG next winter.", "The navies will exercise together.", "Talks were held."]
    assert [keyword_labels(s) for s in sentences] == [["trade", "energy"], ["defence"], []]
    X = TermsFeaturizer(0.3).transform(sentences).toarray()
    np.testing.assert_allclose(X, [[0.3, 0.3, 0, 0], [0, 0, 0.3, 0], [0, 0, 0, 0]], rtol=1e-6)


def test_a_label_never_seen_in_training_scores_low_everywhere():
    Y = np.array([[1, 0] if i % 2 else [0, 0] for i in range(len(TEXTS))])
    proba = TfidfLinear(seed=0).fit(TEXTS, Y).predict_proba(TEXTS[:5])
    assert proba.shape == (5, 2) and (proba[:, 1] < 1e-6).all()


def test_tagging_with_a_saved_model_imports_no_scikit_learn_scipy_or_pydantic(tmp_path):
    Y = np.array([[("trade" in t.lower())] for t in TEXTS], dtype=int)
    TfidfLinear(TfidfLinear.Params(keywords=0.3), seed=0).fit(TEXTS, Y).save(tmp_path / "m")
    assert proba_shape_in_a_fresh_process("tfidf_linear:TfidfLinear", tmp_path / "m", "trade deal") == "(1, 1)"


@pytest.mark.parametrize("context, keywords", [({}, 0.0), ({"before": 1, "after": 1}, 0.0), ({}, 0.5)])
def test_evidence_adds_up_to_the_sentence_s_own_part_of_each_logit(context, keywords):
    rows = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines()[:600]]
    labels = ["trade", "energy", "defence", "culture"]
    Y = np.array([[label in row["labels"] for label in labels] for row in rows], dtype=int)
    docs = [row["doc_id"] for row in rows]
    model = TfidfLinear(TfidfLinear.Params(context=context, keywords=keywords)).fit(TEXTS, Y, docs)
    explain = list(range(0, 600, 7)) + [600, 601, 602]  # with sentences of odd characters
    texts, ids = TEXTS + ODD[2:5], docs + ["odd"] * 3
    evidence = model.word_evidence(texts, ids, explain)
    X = model._features([texts[i] for i in explain])
    own = np.asarray(X @ model.coef_[:, :X.shape[1]].T)  # the logit's part from the sentence's own n-grams
    for k, i in enumerate(explain):
        assert all(e > s and texts[i][s:e].isalnum() or "'" in texts[i][s:e] or "-" in texts[i][s:e]
                   for s, e, _ in evidence[i])
        total = sum((w for _, _, w in evidence[i]), np.zeros(len(labels)))
        # Exact, but for the character n-grams of punctuation standing alone ("–"), which no word holds.
        np.testing.assert_allclose(total, own[k], atol=0.05 * max(1.0, np.abs(own[k]).max()))
