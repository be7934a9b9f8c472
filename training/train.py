"""Train from a config: load data, fit, tune thresholds, evaluate, log it all as one MLflow run,
register the model. A config with a ``sweep`` runs a parent run with one child per combination
and registers only the best child's model.
"""

from __future__ import annotations

import json
import random
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

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
    model_uri: str = ""
    thresholds: dict[str, float] = field(default_factory=dict)


@dataclass
class TrainResult:
    best: RunResult
    runs: list[RunResult]
    tracking_uri: str
    experiment_id: str
    parent_run_id: str | None = None
    registered_model: str | None = None
    version: int | None = None
    promoted: bool = False


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)


def run_name_for(config: Config) -> str:
    keys = {"C": "C", "class_weight": "cw", "learning_rate": "lr", "epochs": "ep", "max_epochs": "ep"}
    parts = [config.family] + [f"{short}={config.model[k]}" for k, short in keys.items() if k in config.model]
    return " ".join(parts) + time.strftime(" %m-%d %H:%M:%S")


def train(config: Config, tracking_uri: str | None = None, run_name: str | None = None,
          progress: Callable[[str], None] = lambda message: None) -> TrainResult:
    import mlflow

    from training import tracking

    # Everything that can be wrong with the input is found before a run exists.
    data = load_data(config.data, config.seed)
    uri = tracking.connect(tracking_uri or config.tracking.uri)
    sizes = {name: len(ds) for name, ds in data.splits.items()}
    progress(f"{config.data.path}: {sizes['train']} train / {sizes['validation']} validation / "
             f"{sizes['test']} test sentences")
    experiment = tracking.experiment_id(config.experiment, uri)
    combos = config.combinations()

    if len(combos) == 1:
        with _run(experiment, run_name or run_name_for(config)) as run:
            result = _fit_and_log(config, data, run.info.run_id, progress)
            out = TrainResult(best=result, runs=[result], tracking_uri=uri, experiment_id=experiment)
            _register(out, config, uri)
        _announce_registration(out, config, progress)
        return out

    name = run_name or f"sweep {config.family} x{len(combos)}" + time.strftime(" %m-%d %H:%M:%S")
    with _run(experiment, name) as parent:
        mlflow.set_tag("mlflow.note.content", f"Sweep over {', '.join(config.sweep)}: {len(combos)} child runs; "
                                              f"the best by {HEADLINE} is registered.")
        mlflow.log_dict(config.model_dump(mode="json"), "config.json")
        mlflow.set_tags({"family": config.family, "data_digest": data.digest, "sweep": "parent"})
        results = []
        for i, combo in enumerate(combos, start=1):
            progress(f"child run {i}/{len(combos)}: " + ", ".join(f"{k}={_get(combo, k)}" for k in config.sweep))
            with _run(experiment, run_name_for(combo), nested=True) as child:
                results.append(_fit_and_log(combo, data, child.info.run_id, progress))
        best = max(results, key=lambda r: r.metrics[HEADLINE])
        mlflow.set_tag("best_run_id", best.run_id)
        mlflow.log_metrics({f"best_{k}": v for k, v in best.metrics.items()})
        out = TrainResult(best=best, runs=results, tracking_uri=uri, experiment_id=experiment,
                          parent_run_id=parent.info.run_id)
        _register(out, config, uri)
    _announce_registration(out, config, progress)
    return out


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


def _fit_and_log(config: Config, data: LabelledData, run_id: str, progress) -> RunResult:
    import mlflow

    from models import FAMILIES
    from models.tagger import Tagger
    from training import evaluate, tracking
    from training.model_card import model_card
    from training.thresholds import tune_thresholds

    seed_everything(config.seed)
    family = FAMILIES[config.family]
    commit = tracking.git_commit()
    mlflow.log_params(config.flat())
    mlflow.set_tags({"family": config.family, "data_digest": data.digest, "data_path": str(data.path),
                     **({"git_commit": commit} if commit else {})})
    mlflow.set_tag("mlflow.note.content", f"{config.family} on {data.path} (digest {data.digest}), seed {config.seed}.")
    mlflow.log_dict(config.model_dump(mode="json"), "config.json")
    _log_datasets(data)

    progress(f"fitting {config.family}")
    classifier = family(seed=config.seed, **config.model_params)

    def on_epoch(step: int, values: dict[str, float]) -> None:
        mlflow.log_metrics({f"epoch_{k}": float(v) for k, v in values.items()}, step=step)
        progress(f"epoch {step}: " + ", ".join(f"{k} {v:.4f}" for k, v in values.items()))

    train_texts, Y_train = data.texts("train"), data.Y("train")
    val_texts, Y_val = data.texts("validation"), data.Y("validation")
    classifier.fit(train_texts, Y_train, validation=(val_texts, Y_val), on_epoch=on_epoch)

    val_proba = classifier.predict_proba(val_texts)
    if config.thresholds.strategy == "tuned":
        thresholds = tune_thresholds(Y_val, val_proba, fallback=config.thresholds.value,
                                     tolerance=config.thresholds.tolerance)
    else:
        thresholds = np.full(len(data.labels), config.thresholds.value)
    tagger = Tagger(classifier, data.labels, thresholds)

    metrics: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        reports = []
        for split in ("validation", "test"):
            prefix = "val" if split == "validation" else "test"
            Y = data.Y(split)
            proba = val_proba if split == "validation" else tagger.predict_proba(data.texts(split))
            decisions = tagger.decide(proba)
            metrics.update(evaluate.metrics(Y, decisions, data.labels, prefix))
            evaluate.plot_confusion_matrices(Y, decisions, data.labels, tmp / f"confusion_{split}.png",
                                             f"{split}: per-label confusion")
            evaluate.plot_precision_recall(Y, proba, thresholds, data.labels, tmp / f"pr_curve_{split}.png",
                                           f"{split}: precision-recall (dot = threshold)")
            reports.append(f"== {split} ==\n" + evaluate.report(Y, decisions, data.labels))
        (tmp / "classification_report.txt").write_text("\n".join(reports))
        threshold_map = {label: float(t) for label, t in zip(data.labels, thresholds)}
        (tmp / "thresholds.json").write_text(json.dumps(threshold_map, indent=2))
        (tmp / "label_counts.json").write_text(json.dumps(data.counts(), indent=2))
        (tmp / "model_card.md").write_text(model_card(config, data, metrics, threshold_map, commit))
        mlflow.log_metrics(metrics)
        mlflow.log_metrics({f"threshold_{k}": v for k, v in threshold_map.items()})
        mlflow.log_artifacts(str(tmp))

    progress("logging the model")
    info = tracking.log_tagger(tagger, val_texts[:3], getattr(family, "requirements", ()))
    return RunResult(run_id=run_id, run_name=mlflow.active_run().info.run_name, config=config, metrics=metrics,
                     model_uri=info.model_uri, thresholds=threshold_map)


def _log_datasets(data: LabelledData) -> None:
    import mlflow

    from training.tracking import store_lock

    source = data.path.resolve().as_uri()
    for split, ds in data.splits.items():
        dataset = mlflow.data.from_huggingface(ds, source=source, targets="labels",
                                               name=f"{data.path.stem}-{split}", digest=data.digest)
        with store_lock(mlflow.get_tracking_uri()):  # one dataset record per (name, digest): a race otherwise
            mlflow.log_input(dataset, context=split)


def _register(result: TrainResult, config: Config, uri: str) -> None:
    """The last step inside the run: if it fails, or the run is interrupted, nothing stays registered."""
    from training import tracking

    policy = config.tracking
    version, promoted = tracking.register(result.best.model_uri, result.best.run_id, policy.registered_model,
                                          policy.alias, policy.promote, HEADLINE, uri)
    result.registered_model, result.version, result.promoted = policy.registered_model, version, promoted


def _announce_registration(result: TrainResult, config: Config, progress) -> None:
    alias = config.tracking.alias
    progress(f"registered {result.registered_model} version {result.version}"
             + (f" as @{alias}" if result.promoted else f" (@{alias} unchanged)"))

