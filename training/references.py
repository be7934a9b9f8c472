"""Model references: resolve ``--model`` to the folder of a saved Tagger and load it.

References: ``models:/NAME@ALIAS``, ``models:/NAME/VERSION``, ``runs:/RUN_ID/model``, or a local
folder (a saved Tagger or a downloaded MLflow model). On the default SQLite store a registry
reference is read straight from the database file and the logged model is loaded from its
folder, so a cold ``readout tag`` does not pay for importing MLflow; other stores go through the
MLflow client.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from training.errors import ReadoutError

DEFAULT_MODEL = "models:/readout-tagger@champion"
TAGGER_IN_MLFLOW_MODEL = Path("artifacts") / "tagger"


def resolve_model(ref: str, tracking_uri: str | None = None) -> Path:
    """The local folder of the Tagger that ``ref`` names, or a ``ReadoutError``."""
    from training.store import resolve_uri, sqlite_path

    if ref.startswith("models:/"):
        uri = resolve_uri(tracking_uri)
        db = sqlite_path(uri)
        if db is not None:
            if not db.is_file():
                raise ReadoutError(f"no MLflow store at {db}: train a model first (readout train --config ...) "
                                   "or pass --tracking-uri")
            found = _from_sqlite(db, ref)
            if found is not None:
                return found
        return _tagger_folder(_download(ref, uri), ref)
    if ref.startswith("runs:/"):
        return _tagger_folder(_download(ref, resolve_uri(tracking_uri)), ref)
    if "://" in ref or ref.startswith(("models:", "runs:")):
        raise ReadoutError(f"unknown model reference {ref!r}: use models:/NAME@ALIAS, models:/NAME/VERSION, "
                           "runs:/RUN_ID/model or a model folder")
    path = Path(ref)
    if not path.exists():
        raise ReadoutError(f"model folder not found: {ref}")
    return _tagger_folder(path, ref)


def _tagger_folder(folder: Path, ref: str) -> Path:
    for candidate in (folder, folder / TAGGER_IN_MLFLOW_MODEL):
        if (candidate / "tagger.json").is_file():
            return candidate
    raise ReadoutError(f"{ref} is not a readout-tagger model (no tagger.json in {folder})")


def _parse_registry_ref(ref: str) -> tuple[str, str | None, int | None]:
    match = re.fullmatch(r"models:/([^@/]+)(?:@([^/]+)|/(\d+))", ref)
    if not match:
        raise ReadoutError(f"bad model reference {ref!r}: use models:/NAME@ALIAS or models:/NAME/VERSION")
    name, alias, version = match.groups()
    return name, alias, int(version) if version else None


def _sqlite_version(db: Path, ref: str) -> dict | None:
    """The registry row a reference names, read straight from an MLflow SQLite store (read-only):
    ``{"version", "run_id", "location", "status"}``. None where the schema is not the one
    expected, so the MLflow client decides instead."""
    name, alias, version = _parse_registry_ref(ref)
    try:
        with sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True) as conn:
            if alias:
                row = conn.execute("SELECT version FROM registered_model_aliases WHERE name = ? AND alias = ?",
                                   (name, alias)).fetchone()
                if row is None:
                    raise ReadoutError(f"no model {name!r} with alias @{alias} in {db}: "
                                       "train one, or choose another with readout promote")
                version = row[0]
            row = conn.execute("SELECT storage_location, status, run_id FROM model_versions "
                               "WHERE name = ? AND version = ?", (name, version)).fetchone()
    except sqlite3.Error:
        return None
    if row is None:
        raise ReadoutError(f"no version {version} of model {name!r} in {db}")
    location, status, run_id = row
    return {"version": int(version), "run_id": run_id, "location": location, "status": status}


def _from_sqlite(db: Path, ref: str) -> Path | None:
    """The Tagger folder of a registry reference on a SQLite store, or None (the client decides)."""
    found = _sqlite_version(db, ref)
    if found is None:
        return None
    location = found["location"]
    if found["status"] != "READY" or not location or not location.startswith("file://"):
        return None
    from urllib.parse import unquote, urlparse

    folder = Path(unquote(urlparse(location).path))
    return _tagger_folder(folder, ref) if folder.is_dir() else None


def _download(ref: str, uri: str) -> Path:
    import mlflow
    from mlflow.exceptions import MlflowException

    from training.store import connect

    connect(uri)
    try:
        return Path(mlflow.artifacts.download_artifacts(artifact_uri=ref))
    except MlflowException as exc:
        first_line = str(exc.message if hasattr(exc, "message") else exc).splitlines()[0]
        raise ReadoutError(f"cannot load model {ref}: {first_line}") from None


def load_tagger(ref: str, tracking_uri: str | None = None):
    from models.tagger import Tagger

    folder = resolve_model(ref, tracking_uri)
    try:
        return Tagger.load(folder)
    except Exception as exc:  # a damaged or foreign model folder: one line, not a traceback
        raise ReadoutError(f"cannot load model {ref} from {folder}: {exc}") from None


def describe_model(ref: str, tracking_uri: str | None = None) -> dict:
    """What a report prints to be traceable: the reference, and for registry references the
    version and run it resolves to (best effort: a store that cannot say leaves them out)."""
    info = {"ref": ref}
    if not ref.startswith("models:/"):
        return info
    from training.store import resolve_uri, sqlite_path

    name, alias, version = _parse_registry_ref(ref)
    uri = resolve_uri(tracking_uri)
    db = sqlite_path(uri)
    try:
        if db is not None:
            found = _sqlite_version(db, ref)
            if found is None:
                return info
            version, run_id = found["version"], found["run_id"]
        else:
            from mlflow import MlflowClient

            client = MlflowClient(uri)
            found = client.get_model_version_by_alias(name, alias) if alias else client.get_model_version(name, version)
            version, run_id = int(found.version), found.run_id
    except Exception:  # only for display: the model itself was already loaded
        return info
    return {**info, "name": name, "version": int(version), "run_id": run_id}
