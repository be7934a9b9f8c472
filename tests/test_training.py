"""End to end on a real MLflow store: a training run records everything, registers one model,
and the model loaded by alias tags the way the trained model does."""

import subprocess
import sys

import mlflow
import numpy as np
import pandas as pd
import pytest

from training.config import load_config
from training.references import load_tagger
from training.train import train

from helpers import READOUT, write_config

SENTENCES = [
    "The two sides agreed to expand bilateral trade and cut tariffs on farm exports.",
    "Both navies will hold a joint exercise next spring.",
    "The president invited his counterpart to visit next year.",
]


@pytest.fixture
def run(tiny_config, store):
    return train(load_config(tiny_config), tracking_uri=store), store


def test_run_records_config_params_metrics_plots_dataset_and_model(run):
    result, store = run
    client = mlflow.MlflowClient(store)
    record = client.get_run(result.best.run_id)
    assert record.info.status == "FINISHED"
    assert record.data.params["model.family"] == "tfidf_linear"
    assert record.data.params["model.C"] == "4.0"
    assert record.data.params["seed"] == "13" and record.data.params["data.path"].endswith("tiny.jsonl")
    for name in ["val_macro_f1", "val_micro_f1", "val_subset_accuracy", "test_macro_f1", "test_f1_trade",
                 "test_precision_culture", "test_recall_energy", "threshold_defence", "epoch_train_loss"]:
        assert name in record.data.metrics, name
    assert record.data.tags["family"] == "tfidf_linear"
    assert len(record.data.tags["data_digest"]) == 16
    artifacts = {a.path for a in client.list_artifacts(result.best.run_id)}
    assert {"config.json", "classification_report.txt", "confusion_validation.png", "pr_curve_test.png",
            "thresholds.json", "label_counts.json", "model_card.md"} <= artifacts
    contexts = {i.tags[0].value for i in record.inputs.dataset_inputs}
    assert contexts == {"train", "validation", "test"}
    assert {i.dataset.digest for i in record.inputs.dataset_inputs} == {record.data.tags["data_digest"]}
    # Per-epoch metrics are step metrics (a curve in the UI).
    assert [m.step for m in client.get_metric_history(result.best.run_id, "epoch_train_loss")] == [1]


def test_model_is_registered_with_champion_alias_and_loads_by_alias(run):
    result, store = run
    assert (result.registered_model, result.version, result.promoted) == ("readout-tagger", 1, True)
    tagger = load_tagger("models:/readout-tagger@champion", store)
    predictions = tagger.predict(SENTENCES)
    assert "trade" in predictions[0].labels
    assert "defence" in predictions[1].labels
    assert predictions[2].labels == []
    assert set(predictions[0].scores) == {"trade", "energy", "defence", "culture"}
    # The thresholds stored with the model are the ones tuned in the run.
    assert dict(zip(tagger.labels, tagger.thresholds_)) == pytest.approx(result.best.thresholds)


def test_mlflow_pyfunc_serves_the_same_artefact_as_the_cli(run):
    result, store = run
    mlflow.set_tracking_uri(store)
    pyfunc = mlflow.pyfunc.load_model("models:/readout-tagger@champion")
    served = pyfunc.predict(pd.DataFrame({"text": SENTENCES}))
    tagger = load_tagger("models:/readout-tagger@champion", store)
    predictions = tagger.predict(SENTENCES)
    assert served[tagger.labels].to_dict("records") == [p.scores for p in predictions]
    np.testing.assert_allclose(served[tagger.labels].to_numpy(), tagger.predict_proba(SENTENCES), atol=1e-4)
    assert served["labels"].tolist() == [";".join(p.labels) for p in predictions]
    assert pyfunc.metadata.get_input_schema().input_names() == ["text", "doc_id"]


def test_same_config_and_seed_give_the_same_metrics(tiny_config, store):
    config = load_config(tiny_config)
    first = train(config, tracking_uri=store)
    second = train(config, tracking_uri=store)
    assert first.best.metrics == second.best.metrics
    assert second.version == 2 and not second.promoted  # promote: if_none keeps the first champion


def test_promote_always_moves_the_alias(tiny_config, store):
    train(load_config(tiny_config), tracking_uri=store)
    result = train(load_config(tiny_config, ["tracking.promote=always", "model.C=1"]), tracking_uri=store)
    client = mlflow.MlflowClient(store)
    assert int(client.get_model_version_by_alias("readout-tagger", "champion").version) == result.version == 2


def test_interrupted_training_is_killed_and_registers_nothing(tiny_config, store):
    def interrupt(message):  # Ctrl-C while the model is being logged
        if message.startswith("logging the model"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(load_config(tiny_config), tracking_uri=store, progress=interrupt)
    client = mlflow.MlflowClient(store)
    runs = client.search_runs([client.get_experiment_by_name("readout-tagger").experiment_id])
    assert [r.info.status for r in runs] == ["KILLED"]
    assert client.search_model_versions("name='readout-tagger'") == []


def test_failed_registration_leaves_no_version(tiny_config, store):
    # An alias name MLflow refuses fails after the version is created: it must be rolled back.
    config = load_config(tiny_config, ["tracking.alias=bad alias!", "tracking.promote=always"])
    from mlflow.exceptions import MlflowException

    with pytest.raises(MlflowException, match="alias"):
        train(config, tracking_uri=store)
    client = mlflow.MlflowClient(store)
    assert client.search_model_versions("name='readout-tagger'") == []
    runs = client.search_runs([client.get_experiment_by_name("readout-tagger").experiment_id])
    assert [r.info.status for r in runs] == ["FAILED"]


def test_two_trainings_started_at_once_on_a_new_store_both_succeed(tmp_path, tiny_data):
    config = write_config(tmp_path / "c.yaml", tiny_data, f"sqlite:///{tmp_path / 'fresh.db'}")
    procs = [subprocess.Popen([str(READOUT), "train", "--config", str(config)], cwd=tmp_path,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    outputs = [p.communicate(timeout=180) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1].decode()[-500:] for o in outputs]
    client = mlflow.MlflowClient(f"sqlite:///{tmp_path / 'fresh.db'}")
    assert sorted(int(v.version) for v in client.search_model_versions("name='readout-tagger'")) == [1, 2]


def test_model_runs_in_a_process_without_network_or_torch(run, tmp_path):
    result, store = run
    code = (
        "import sys; from training.references import load_tagger;"
        f"t = load_tagger('models:/readout-tagger@champion', {store!r});"
        "print(t.predict(['Oil and gas exports rose.'])[0].labels);"
        "assert 'torch' not in sys.modules and 'mlflow' not in sys.modules, 'heavy import on the tag path'"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "energy" in out.stdout


def test_promote_if_better_moves_the_alias_only_for_a_better_run(tmp_path):
    from helpers import TOY_SPLIT, write_toy_data

    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    config = write_config(tmp_path / "c.yaml", write_toy_data(tmp_path / "toy.jsonl"), store, data=TOY_SPLIT)
    weak = train(load_config(config, ["model.C=0.1"]), tracking_uri=store)  # first: takes the alias
    better = train(load_config(config, ["model.C=2", "tracking.promote=if_better"]), tracking_uri=store)
    worse = train(load_config(config, ["model.C=0.1", "tracking.promote=if_better"]), tracking_uri=store)
    assert better.best.metrics["val_macro_f1"] > weak.best.metrics["val_macro_f1"]
    assert (weak.promoted, better.promoted, worse.promoted) == (True, True, False)
    client = mlflow.MlflowClient(store)
    assert int(client.get_model_version_by_alias("readout-tagger", "champion").version) == better.version == 2


def test_promote_never_registers_without_the_alias(tiny_config, store):
    result = train(load_config(tiny_config, ["tracking.promote=never"]), tracking_uri=store)
    client = mlflow.MlflowClient(store)
    assert result.version == 1 and not result.promoted
    assert client.get_registered_model("readout-tagger").aliases == {}


def test_threshold_tolerance_from_the_config_is_applied(tiny_config, store):
    # Every grid threshold is within 0.99 of the best F1, so each label takes the preferred 0.5.
    wide = train(load_config(tiny_config, ["thresholds.tolerance=0.99"]), tracking_uri=store)
    strict = train(load_config(tiny_config, ["thresholds.tolerance=0"]), tracking_uri=store)
    assert set(wide.best.thresholds.values()) == {0.5}
    assert set(strict.best.thresholds.values()) != {0.5}
    client = mlflow.MlflowClient(store)
    assert client.get_run(wide.best.run_id).data.params["thresholds.tolerance"] == "0.99"
