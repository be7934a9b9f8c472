"""MLflow plumbing: where runs go, the store's first use, logging a Tagger, the registry.

The default store is a SQLite file ``./mlflow.db`` with artifacts beside it in ``./mlartifacts``;
``--tracking-uri``, the config's ``tracking.uri`` or ``MLFLOW_TRACKING_URI`` (in that order) move
the same commands to another store or a tracking server.
"""

from __future__ import annotations

import fcntl
import os
import re
import tempfile
import urllib.error
import urllib.request
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path

from training.errors import ReadoutError

DEFAULT_DB = "mlflow.db"
ARTIFACTS_DIR = "mlartifacts"
MODEL_NAME_IN_RUN = "model"
# What a logged model needs to be served anywhere, beyond the code it carries (code_paths).
BASE_REQUIREMENTS = ("mlflow", "numpy", "pandas", "scipy", "scikit-learn", "pydantic")


def resolve_uri(explicit: str | None = None) -> str:
    uri = explicit or os.environ.get("MLFLOW_TRACKING_URI")
    if uri:
        return uri
    return f"sqlite:///{Path(DEFAULT_DB).resolve()}"


def sqlite_path(uri: str) -> Path | None:
    return Path(uri.removeprefix("sqlite:///")) if uri.startswith("sqlite:///") else None


def connect(explicit: str | None = None) -> str:
    """Point MLflow at the store and make sure it is usable; returns the URI.

    A new SQLite store is created under a file lock: MLflow's first-use schema migration races
    when two trainings start at once on a fresh store.
    """
    import mlflow

    _quiet_mlflow()
    uri = resolve_uri(explicit)
    if uri.startswith(("http://", "https://")):
        _check_server(uri)
    mlflow.set_tracking_uri(uri)
    db = sqlite_path(uri)
    if db is not None:
        db.parent.mkdir(parents=True, exist_ok=True)
        with store_lock(uri):
            client = mlflow.MlflowClient(uri)
            client.search_experiments(max_results=1)
            client.search_registered_models(max_results=1)
    return uri


def _quiet_mlflow() -> None:
    """Keep the terminal for our own progress: MLflow's INFO logs, download bars and its warning
    that a local file source "can be interpreted in multiple ways" say nothing about the run."""
    import logging
    import warnings

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*dataset source can be interpreted in multiple ways.*")


@contextmanager
def store_lock(uri: str):
    """Serialise check-then-insert writes on a SQLite store across processes (MLflow's schema
    creation, experiment creation and dataset records race otherwise); other stores need none."""
    db = sqlite_path(uri)
    if db is None:
        yield
        return
    with open(f"{db}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _check_server(uri: str) -> None:
    try:
        with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=5) as response:
            response.read()
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ReadoutError(f"cannot reach the MLflow tracking server at {uri}: {reason}") from None


def experiment_id(name: str, uri: str) -> str:
    """Get or create the experiment; on a SQLite store its artifacts go beside the database."""
    import mlflow

    client = mlflow.MlflowClient(uri)
    existing = client.get_experiment_by_name(name)
    if existing is not None:
        return existing.experiment_id
    db = sqlite_path(uri)
    location = None
    if db is not None:
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or "experiment"
        location = (db.parent / ARTIFACTS_DIR / slug).as_uri()
    with store_lock(uri):
        existing = client.get_experiment_by_name(name)  # another process may have just made it
        return existing.experiment_id if existing else client.create_experiment(name, artifact_location=location)


def requirements(extra: tuple[str, ...] = ()) -> list[str]:
    """Exact pins of what serving the model needs (given, not inferred: inference costs seconds)."""
    pins = []
    for name in (*BASE_REQUIREMENTS, *extra):
        try:
            pins.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            pins.append(name)
    return pins


def log_tagger(tagger, example_texts: list[str], extra_requirements: tuple[str, ...] = ()):
    """Log a Tagger as an MLflow pyfunc (with signature and input example) in the active run."""
    import mlflow
    import pandas as pd
    from mlflow.models import infer_signature

    import models
    import training
    from training import mlflow_model

    with tempfile.TemporaryDirectory() as tmp:
        folder = tagger.save(Path(tmp) / "tagger")
        example = pd.DataFrame({"text": example_texts})
        output = mlflow_model.ReadoutTaggerModel()
        output.tagger = tagger
        signature = infer_signature(example, output.predict(None, example))
        return mlflow.pyfunc.log_model(
            name=MODEL_NAME_IN_RUN,
            python_model=mlflow_model.__file__,
            artifacts={"tagger": str(folder)},
            code_paths=[str(Path(models.__file__).parent), str(Path(training.__file__).parent)],
            signature=signature,
            input_example=example,
            pip_requirements=requirements(extra_requirements),
        )


def register(model_uri: str, run_id: str, name: str, alias: str, promote: str, metric: str, uri: str):
    """Register a logged model and apply the promotion policy; returns (version, promoted).

    Anything that goes wrong (or Ctrl-C) after the version exists deletes it again, so a failed
    training never leaves a half-registered model behind.
    """
    import mlflow

    client = mlflow.MlflowClient(uri)
    version = None
    try:
        version = mlflow.register_model(model_uri, name, tags={"run_id": run_id}).version
        promoted = _should_promote(client, name, alias, promote, run_id, metric)
        if promoted:
            client.set_registered_model_alias(name, alias, version)
        return int(version), promoted
    except BaseException:
        if version is not None:
            client.delete_model_version(name, version)
        raise


def _should_promote(client, name: str, alias: str, policy: str, run_id: str, metric: str) -> bool:
    if policy in ("always", "never"):
        return policy == "always"
    current = alias_version(client, name, alias)
    if current is None:
        return True
    if policy == "if_none":
        return False
    ours = client.get_run(run_id).data.metrics.get(metric, float("-inf"))
    theirs = client.get_run(current.run_id).data.metrics.get(metric, float("-inf")) if current.run_id else float("-inf")
    return ours > theirs


def alias_version(client, name: str, alias: str):
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


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
