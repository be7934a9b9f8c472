"""The fast family: its per-word tables give the scores of the features it was fitted on, it
round-trips, and it tags without scikit-learn or SciPy."""

import json

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from models.base import sigmoid
from models.fast_linear import FastLinear

from helpers import CORPUS, proba_shape_in_a_fresh_process

ROWS = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines()[:600]]
TEXTS = [row["text"] for row in ROWS]
LABELS = ["trade", "energy", "defence", "culture"]
Y = np.array([[label in row["labels"] for label in LABELS] for row in ROWS], dtype=int)
ODD = ["", "a", "Café   naïve\tTAB", "They will buy LNG and build a power plant; market access next.",
       "ÉNERGIE énergie ÉNERGIE", "U.S.-led «talks»"]


@pytest.mark.parametrize("params", [{}, {"char_ngrams": None, "keywords": 0.0}, {"word_ngrams": (2, 2)}])
def test_tagging_gives_the_scores_of_the_features_it_was_fitted_on(tmp_path, params):
    model = FastLinear(FastLinear.Params(**params), seed=0).fit(TEXTS[:400], Y[:400], [r["doc_id"] for r in ROWS[:400]])
    texts = TEXTS[400:] + ODD  # unseen words and odd characters
    # In batches, so words first seen in one batch are looked up from the table in the next.
    fast = np.vstack([model.predict_proba(texts[i:i + 50]) for i in range(0, len(texts), 50)])
    np.testing.assert_allclose(fast, sigmoid(model._logits(model._features(texts))), rtol=1e-7, atol=1e-9)
    model.save(tmp_path / "m")
    loaded = FastLinear.load(tmp_path / "m")
    assert loaded.params == model.params
    np.testing.assert_allclose(loaded.predict_proba(texts), model.predict_proba(texts), atol=1e-12)
    assert not list((tmp_path / "m").glob("*.pkl")), "no pickle in a saved model"


def test_with_context_it_reads_readouts_and_lone_sentences(tmp_path):
    docs = [row["doc_id"] for row in ROWS]
    model = FastLinear(FastLinear.Params(context={"before": 1, "after": 1}), seed=0).fit(TEXTS, Y, docs)
    as_readouts, alone = model.predict_proba(TEXTS[:40], docs[:40]), model.predict_proba(TEXTS[:40])
    assert as_readouts.shape == alone.shape == (40, 4) and not np.allclose(as_readouts, alone)
    model.save(tmp_path / "m")
    np.testing.assert_allclose(FastLinear.load(tmp_path / "m").predict_proba(TEXTS[:40], docs[:40]), as_readouts)


def test_its_vocabularies_and_idf_are_scikit_learn_s():
    model = FastLinear(seed=0).fit(TEXTS, Y)
    for analyzer, ngrams, vocabulary, idf in [("word", (1, 2), model.word_vocabulary_, model.word_idf_),
                                              ("char_wb", (3, 5), model.char_vocabulary_, model.char_idf_)]:
        reference = TfidfVectorizer(analyzer=analyzer, ngram_range=ngrams, strip_accents="unicode").fit(TEXTS)
        assert set(vocabulary) == set(reference.vocabulary_)
        order = [vocabulary[term] for term in reference.get_feature_names_out()]
        np.testing.assert_allclose(idf[order], reference.idf_, rtol=1e-6)


def test_tagging_with_a_saved_model_imports_no_scikit_learn_scipy_or_pydantic(tmp_path):
    FastLinear(seed=0).fit(TEXTS, Y).save(tmp_path / "m")
    assert proba_shape_in_a_fresh_process("fast_linear:FastLinear", tmp_path / "m", "Gas will flow.") == "(1, 4)"


def test_parameters_built_in_code_are_checked_like_a_config():
    with pytest.raises(ValueError, match="at most 2"):
        FastLinear.Params(word_ngrams=(1, 3))
    with pytest.raises(ValueError, match="min_df: Input should be greater than or equal to 1"):
        FastLinear.Params(min_df=0)
    with pytest.raises(ValueError, match="before"):
        FastLinear.Params(context={"before": 9})


def test_readout_tag_with_a_fast_model_imports_no_pydantic_scipy_or_scikit_learn(tmp_path):
    # What keeps a cold `readout tag` under half a second (bench/results/speed.md): the CLI, the
    # model reference and the family load without these, so none may creep back in.
    import subprocess
    import sys

    from models.tagger import Tagger

    from helpers import ROOT

    Tagger(FastLinear(seed=0).fit(TEXTS, Y), LABELS, [0.5] * 4).save(tmp_path / "m")
    code = ("import atexit, sys\n"
            "heavy = ('pydantic', 'scipy', 'sklearn', 'mlflow', 'torch', 'pandas')\n"
            "atexit.register(lambda: print('loaded:', sorted({n.split('.')[0] for n in sys.modules"
            " if n.split('.')[0] in heavy}), file=sys.stderr))\n"
            f"sys.argv = ['readout', 'tag', '--format', 'json', '--model', {str(tmp_path / 'm')!r}, 'Gas will flow.']\n"
            "from training.cli import main\nmain()\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    (row,) = json.loads(out.stdout)
    assert row["sentence"] == "Gas will flow." and set(row["scores"]) == set(LABELS)
    assert "loaded: []" in out.stderr, out.stderr
