"""Train from a config: one MLflow run per combination of the config's sweep (a config without a
sweep is a sweep of one), each cut into three steps — ``fit`` (the family and its thresholds),
``evaluate`` (a ``Report``) and logging — then the best run's model is registered. A sweep runs
its combinations as child runs of one parent run.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np

from training.config import Config
from training.data import LabelledData, load_data

HEADLINE = "val_macro_f1"  # the metric that picks a sweep's best child and drives "if_better"


@dataclass
class RunResult:
    run_id: str
    run_name: str
    config: Config
    metrics: dict[str, float]
    model_uri: str
    thresholds: dict[str, float]


@dataclass
class TrainResult:
    best: RunResult
    runs: list[RunResult]
    tracking_uri: str
    experiment_id: str
    parent_run_id: str | None
    registered_model: str
    version: int
    promoted: bool


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)


def run_name_for(config: Config) -> str:
    from models import FAMILIES

    return FAMILIES[config.family].run_name(config.model) + time.strftime(" %m-%d %H:%M:%S")


def fit(config: Config, data: LabelledData, on_epoch=None):
    """The family fitted on the train split, its thresholds tuned on validation: a ``Tagger``,
    with the validation probabilities the thresholds came from."""
    from models import classifier_for
    from models.tagger import Tagger
    from training.thresholds import tune_thresholds

    seed_everything(config.seed)
    classifier = classifier_for(config.model, config.seed)
    classifier.fit(data.texts("train"), data.Y("train"), data.doc_ids("train"),
                   validation=(data.texts("validation"), data.Y("validation"), data.doc_ids("validation")),
                   on_epoch=on_epoch)
    val_proba = classifier.predict_proba(data.texts("validation"), data.doc_ids("validation"))
    if config.thresholds.strategy == "tuned":
        thresholds = tune_thresholds(data.Y("validation"), val_proba, fallback=config.thresholds.value,
                                     tolerance=config.thresholds.tolerance)
    else:
        thresholds = np.full(len(data.labels), config.thresholds.value)
    return Tagger(classifier, data.labels, thresholds), val_proba


def train(config: Config, tracking_uri: str | None = None, run_name: str | None = None,
          progress: Callable[[str], None] = lambda message: None) -> TrainResult:
    import mlflow

    from training import store

    # Everything that can be wrong with the input is found before a run exists.
    data = load_data(config.data, config.seed)
    uri = store.connect(tracking_uri or config.tracking.uri)
    sizes = {name: len(ds) for name, ds in data.splits.items()}
    progress(f"{data.describe()}: {sizes['train']} train / {sizes['validation']} validation / "
             f"{sizes['test']} test sentences")
    experiment = store.experiment_id(config.experiment, uri)
    combos = config.combinations()
    sweep = len(combos) > 1

    name = run_name or (f"sweep {config.family} x{len(combos)}" + time.strftime(" %m-%d %H:%M:%S") if sweep
                        else run_name_for(config))
    with _run(experiment, name) as outer:
        if sweep:
            mlflow.set_tag("mlflow.note.content", f"Sweep over {', '.join(config.sweep)}: {len(combos)} child "
                                                  f"runs; the best by {HEADLINE} is registered.")
            mlflow.log_dict(config.model_dump(mode="json"), "config.json")
            mlflow.set_tags({"family": config.family, "data_digest": data.digest, "sweep": "parent"})
        results = []
        for i, combo in enumerate(combos, start=1):
            if sweep:
                progress(f"child run {i}/{len(combos)}: " + ", ".join(f"{k}={_get(combo, k)}" for k in config.sweep))
            with _run(experiment, run_name_for(combo), nested=True) if sweep else nullcontext():
                results.append(_one_run(combo, data, progress))
        best = max(results, key=lambda r: r.metrics[HEADLINE])
        if sweep:
            mlflow.set_tag("best_run_id", best.run_id)
            mlflow.log_metrics({f"best_{k}": v for k, v in best.metrics.items()})
        # The last step inside the run: if it fails, or the run is interrupted, nothing stays registered.
        version, promoted = _register(best, config, uri)
    policy = config.tracking
    progress(f"registered {policy.registered_model} version {version}"
             + (f" as @{policy.alias}" if promoted else f" (@{policy.alias} unchanged)"))
    return TrainResult(best=best, runs=results, tracking_uri=uri, experiment_id=experiment,
                       parent_run_id=outer.info.run_id if sweep else None, registered_model=policy.registered_model,
                       version=version, promoted=promoted)


def _one_run(config: Config, data: LabelledData, progress) -> RunResult:
    """fit -> evaluate -> log, in the active run."""
    import mlflow

    from training import tracking
    from training.evaluate import evaluate

    commit = tracking.git_commit()
    tracking.log_setup(config, data, commit)

    def on_epoch(step: int, values: dict[str, float]) -> None:
        tracking.log_epoch(step, values)
        progress(f"epoch {step}: " + ", ".join(f"{k} {v:.4f}" for k, v in values.items()))

    progress(f"fitting {config.family}")
    tagger, val_proba = fit(config, data, on_epoch)
    report = evaluate(tagger, data, known={"validation": val_proba})
    tracking.log_report(report, config, data, commit)
    progress("logging the model")
    info = tracking.log_tagger(tagger, data.texts("validation")[:3])
    run = mlflow.active_run().info
    return RunResult(run_id=run.run_id, run_name=run.run_name, config=config, metrics=report.metrics,
                     model_uri=info.model_uri, thresholds=report.thresholds)


def _get(config: Config, dotted: str):
    node = config.model_dump(mode="json")
    for part in dotted.split("."):
        node = node[part]
    return node


class _run:
    """``mlflow.start_run`` that ends as KILLED on Ctrl-C and FAILED on any other error."""

    def __init__(self, experiment_id: str, name: str, nested: bool = False):
        self.args = {"experiment_id": experiment_id, "run_name": name, "nested": nested}

    def __enter__(self):
        import mlflow

        self.run = mlflow.start_run(**self.args)
        return self.run

    def __exit__(self, exc_type, exc, tb):
        import mlflow

        if exc_type is None:
            status = "FINISHED"
        else:
            status = "KILLED" if issubclass(exc_type, KeyboardInterrupt) else "FAILED"
        mlflow.end_run(status)
        return False


def _register(best: RunResult, config: Config, uri: str) -> tuple[int, bool]:
    from training.registry import register

    policy = config.tracking
    return register(best.model_uri, best.run_id, policy.registered_model, policy.alias, policy.promote,
                    HEADLINE, uri)
