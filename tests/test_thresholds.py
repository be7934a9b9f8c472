"""Per-label thresholds are tuned on validation and applied by every consumer of the model."""

import numpy as np

from models.tagger import Tagger
from models.tfidf_linear import TfidfLinear
from training.thresholds import tune_thresholds


def test_tuned_threshold_separates_a_separable_label():
    Y = np.array([[1], [1], [0], [0], [0]])
    proba = np.array([[0.30], [0.35], [0.20], [0.10], [0.05]])
    threshold = tune_thresholds(Y, proba)[0]
    assert 0.20 < threshold <= 0.30  # 0.5 would miss both positives


def test_near_ties_go_to_the_calibrated_default():
    # 20 positives score 0.55-0.95; two of 100 negatives score 0.52 and 0.53. Strictly, 0.55 is
    # best (F1 1.0); 0.5 costs two false positives (F1 0.952): within a 0.05 tolerance, 0.5 wins.
    positives = np.linspace(0.55, 0.95, 20)
    negatives = np.concatenate([np.linspace(0.0, 0.45, 98), [0.52, 0.53]])
    Y = np.array([[1]] * 20 + [[0]] * 100)
    proba = np.concatenate([positives, negatives])[:, None]
    assert tune_thresholds(Y, proba, tolerance=0.0)[0] == 0.55
    assert tune_thresholds(Y, proba, tolerance=0.05)[0] == 0.5
    assert tune_thresholds(Y, proba, tolerance=0.01)[0] == 0.55  # 0.952 is not within 0.01 of 1.0


def test_label_without_positives_keeps_the_fallback():
    Y = np.array([[0, 1], [0, 0]])
    proba = np.array([[0.9, 0.8], [0.1, 0.2]])
    assert tune_thresholds(Y, proba, fallback=0.6)[0] == 0.6


def test_tagger_applies_each_labels_own_threshold(tmp_path):
    texts = ["trade deal signed", "army drills held", "trade and army talks", "leaders met"]
    Y = np.array([[1, 0], [0, 1], [1, 1], [0, 0]])
    classifier = TfidfLinear(seed=0).fit(texts, Y)
    proba = classifier.predict_proba(texts)
    low_high = Tagger(classifier, ["trade", "defence"], [0.0, 1.0])
    assert [p.labels for p in low_high.predict(texts)] == [["trade"]] * 4
    # Saved and loaded, the same thresholds decide the same way.
    low_high.save(tmp_path / "m")
    loaded = Tagger.load(tmp_path / "m")
    assert loaded.thresholds_.tolist() == [0.0, 1.0]
    np.testing.assert_allclose(loaded.predict_proba(texts), proba, atol=1e-6)
    assert [p.labels for p in loaded.predict(texts)] == [["trade"]] * 4
