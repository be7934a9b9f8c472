"""Logging one training as an MLflow run: params, tags, datasets, metrics, plots, model card and
the model itself (a pyfunc with signature, input example and exact requirement pins)."""

from __future__ import annotations

import tempfile
from importlib import metadata
from pathlib import Path

MODEL_NAME_IN_RUN = "model"
# What a logged model needs to be served anywhere, beyond the code it carries (code_paths).
BASE_REQUIREMENTS = ("mlflow", "numpy", "pandas", "scipy", "scikit-learn", "annotated-types")


def log_setup(config, data, commit: str | None) -> None:
    """What the run was asked to do: the resolved config, tags and the datasets of each split."""
    import json

    import mlflow

    mlflow.log_params(config.flat())
    # data_digest is the data's one digest; data_digests names every file's (several files: data.path is a list).
    mlflow.set_tags({"family": config.family, "data_digest": data.digest, "data_path": data.describe(),
                     "data_digests": json.dumps(data.digests), **({"git_commit": commit} if commit else {})})
    mlflow.set_tag("mlflow.note.content", f"{config.family} on {data.describe()} (digest {data.digest}), "
                                          f"seed {config.seed}.")
    mlflow.log_dict(config.model_dump(mode="json"), "config.json")
    _log_datasets(data)


def log_epoch(step: int, values: dict[str, float]) -> None:
    import mlflow

    mlflow.log_metrics({f"epoch_{k}": float(v) for k, v in values.items()}, step=step)


def log_report(report, config, data, commit: str | None) -> None:
    """Metrics, thresholds, plots, the classification report, label counts and the model card."""
    import json

    import mlflow

    from training.model_card import model_card

    metrics = report.metrics
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        report.write(tmp)
        (tmp / "label_counts.json").write_text(json.dumps(data.counts(), indent=2))
        (tmp / "model_card.md").write_text(model_card(config, data, metrics, report.thresholds, commit))
        mlflow.log_metrics(metrics)
        mlflow.log_metrics({f"threshold_{k}": v for k, v in report.thresholds.items()})
        mlflow.log_artifacts(str(tmp))


def _log_datasets(data) -> None:
    import mlflow
    from mlflow.exceptions import MlflowException

    from training.store import is_duplicate, store_lock

    source = data.paths[0].resolve().as_uri()  # one source per dataset: the first file (all are in the tags)
    for split, ds in data.splits.items():
        dataset = mlflow.data.from_huggingface(ds, source=source, targets="labels",
                                               name=f"{data.name}-{split}", digest=data.digest)
        with store_lock(mlflow.get_tracking_uri()):  # one dataset record per (name, digest): a race otherwise
            try:
                mlflow.log_input(dataset, context=split)
            except MlflowException as exc:
                if not is_duplicate(exc):  # a shared server: another run inserted the record first
                    raise
                mlflow.log_input(dataset, context=split)


def requirements(extra: tuple[str, ...] = ()) -> list[str]:
    """Exact pins of what serving the model needs (given, not inferred: inference costs seconds)."""
    pins = []
    for name in (*BASE_REQUIREMENTS, *extra):
        try:
            pins.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            pins.append(name)
    return pins


def log_tagger(tagger, example_texts: list[str]):
    """Log a Tagger as an MLflow pyfunc in the active run. Its input is ``text`` and an optional
    ``doc_id`` (rows sharing one are a readout in reading order, each other's context)."""
    import mlflow
    import pandas as pd
    from mlflow.models import ModelSignature, infer_signature
    from mlflow.types import ColSpec, Schema

    import models
    import training
    from training import mlflow_model

    with tempfile.TemporaryDirectory() as tmp:
        folder = tagger.save(Path(tmp) / "tagger")
        example = pd.DataFrame({"text": example_texts, "doc_id": ["example"] * len(example_texts)})
        output = mlflow_model.ReadoutTaggerModel()
        output.tagger = tagger
        inputs = Schema([ColSpec("string", "text"), ColSpec("string", "doc_id", required=False)])
        signature = ModelSignature(inputs=inputs,
                                   outputs=infer_signature(example, output.predict(None, example)).outputs)
        return mlflow.pyfunc.log_model(
            name=MODEL_NAME_IN_RUN,
            python_model=mlflow_model.__file__,
            artifacts={"tagger": str(folder)},
            code_paths=[str(Path(models.__file__).parent), str(Path(training.__file__).parent)],
            signature=signature,
            input_example=example,
            pip_requirements=requirements(tagger.classifier.requirements),
        )


def git_commit() -> str | None:
    """The commit of the working directory's git checkout, when there is one."""
    import subprocess

    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True,
                           timeout=5).stdout.strip()
    return out.stdout.strip() + ("-dirty" if dirty else "")
