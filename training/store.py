"""The MLflow store: where runs go, its first use, the lock for SQLite writes, experiments.

The default store is a SQLite file ``./mlflow.db`` with artifacts beside it in ``./mlartifacts``;
``--tracking-uri``, the config's ``tracking.uri`` or ``MLFLOW_TRACKING_URI`` (in that order) move
the same commands to another store or a tracking server.
"""

from __future__ import annotations

import fcntl
import os
import re
from contextlib import contextmanager
from pathlib import Path

from training.errors import ReadoutError

DEFAULT_DB = "mlflow.db"
ARTIFACTS_DIR = "mlartifacts"
# MLflow 3 opens an experiment in its GenAI view unless this tag says it holds trained models.
EXPERIMENT_KIND = {"mlflow.experimentKind": "custom_model_development"}


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
    import urllib.error
    import urllib.request  # here, not at the top: a cold `readout tag` reads the store without it

    try:
        with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=5) as response:
            response.read()
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ReadoutError(f"cannot reach the MLflow tracking server at {uri}: {reason}") from None


def is_duplicate(exc: Exception) -> bool:
    """Whether an MLflow error says that a record already exists. The file lock serialises writers
    on SQLite only: two trainings on a shared tracking server (PostgreSQL behind it) can both find
    no record and both insert it; the loser gets this error, and its retry finds the winner's."""
    if getattr(exc, "error_code", None) == "RESOURCE_ALREADY_EXISTS":
        return True
    return re.search(r"unique constraint|duplicate key|duplicate entry", str(exc), re.IGNORECASE) is not None


def experiment_id(name: str, uri: str) -> str:
    """Get or create the experiment (tagged to open on its training runs); on a SQLite store its
    artifacts go beside the database."""
    import mlflow

    client = mlflow.MlflowClient(uri)
    existing = client.get_experiment_by_name(name)
    if existing is None:
        db = sqlite_path(uri)
        location = None
        if db is not None:
            slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or "experiment"
            location = (db.parent / ARTIFACTS_DIR / slug).as_uri()
        with store_lock(uri):
            existing = client.get_experiment_by_name(name)  # another process may have just made it
            if existing is None:
                from mlflow.exceptions import MlflowException

                try:
                    return client.create_experiment(name, artifact_location=location, tags=EXPERIMENT_KIND)
                except MlflowException as exc:
                    if not is_duplicate(exc):
                        raise
                    existing = client.get_experiment_by_name(name)  # a shared server: the other made it first
    if existing.tags.get("mlflow.experimentKind") is None:  # an experiment made before the tag existed
        for key, value in EXPERIMENT_KIND.items():
            client.set_experiment_tag(existing.experiment_id, key, value)
    return existing.experiment_id
