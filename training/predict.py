"""Serve a trained Tagger: resolve a model reference to its folder, tag sentences, format them.

References: ``models:/NAME@ALIAS``, ``models:/NAME/VERSION``, ``runs:/RUN_ID/model``, or a local
folder (a saved Tagger or a downloaded MLflow model). On the default SQLite store a registry
reference is read straight from the database file and the logged model is loaded from its
folder, so a cold ``readout tag`` does not pay for importing MLflow; other stores go through the
MLflow client.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3
from pathlib import Path

from training.errors import ReadoutError

DEFAULT_MODEL = "models:/readout-tagger@champion"
TAGGER_IN_MLFLOW_MODEL = Path("artifacts") / "tagger"
FORMATS = ("table", "json", "jsonl", "csv")


def resolve_model(ref: str, tracking_uri: str | None = None) -> Path:
    """The local folder of the Tagger that ``ref`` names, or a ``ReadoutError``."""
    from training.tracking import resolve_uri, sqlite_path

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


def _from_sqlite(db: Path, ref: str) -> Path | None:
    """Read a registry reference straight from an MLflow SQLite store (read-only).

    Returns None where the schema is not the one expected, so the MLflow client decides instead.
    """
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
            row = conn.execute("SELECT storage_location, status FROM model_versions WHERE name = ? AND version = ?",
                               (name, version)).fetchone()
    except sqlite3.Error:
        return None
    if row is None:
        raise ReadoutError(f"no version {version} of model {name!r} in {db}")
    location, status = row
    if status != "READY" or not location or not location.startswith("file://"):
        return None
    from urllib.parse import unquote, urlparse

    folder = Path(unquote(urlparse(location).path))
    return _tagger_folder(folder, ref) if folder.is_dir() else None


def _download(ref: str, uri: str) -> Path:
    import mlflow
    from mlflow.exceptions import MlflowException

    from training.tracking import connect

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


def read_input(texts: list[str], file: str | None, split: bool | None, stdin) -> tuple[list[str], int]:
    """Sentences to tag from arguments, a file or stdin; returns (sentences, blank lines skipped).

    ``split`` defaults to on for files and stdin (a readout) and off for sentences given as arguments.
    """
    from training.sentences import split_sentences

    if file is not None and texts:
        raise ReadoutError("give sentences as arguments or --file, not both")
    if file is None and texts == ["-"]:
        file = "-"
    if file is None:
        chunks, split = texts, bool(split)
    else:
        split = True if split is None else split
        if file == "-":
            data = stdin.buffer.read() if hasattr(stdin, "buffer") else stdin.read().encode()
            name = "standard input"
        else:
            try:
                data = Path(file).read_bytes()
            except FileNotFoundError:
                raise ReadoutError(f"file not found: {file}") from None
            except IsADirectoryError:
                raise ReadoutError(f"{file} is a folder, not a text file") from None
            except OSError as exc:
                raise ReadoutError(f"cannot read {file}: {exc.strerror}") from None
            name = file
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            raise ReadoutError(f"{name}:{line}: not valid UTF-8; save the file as UTF-8") from None
        chunks = [text] if split else text.splitlines()
    if split:
        sentences = [s for chunk in chunks for s in split_sentences(chunk)]
        skipped = 0
    else:
        sentences = [" ".join(c.split()) for c in chunks if c.strip()]
        skipped = len(chunks) - len(sentences)
    if not sentences:
        raise ReadoutError("no sentences to tag: the input is empty")
    return sentences, skipped


def format_predictions(predictions, labels: list[str], fmt: str) -> str:
    """json / jsonl / csv text; the table format is drawn by the CLI with rich."""
    if fmt == "json":
        return json.dumps([p.to_dict() for p in predictions], ensure_ascii=False, indent=2) + "\n"
    if fmt == "jsonl":
        return "".join(json.dumps(p.to_dict(), ensure_ascii=False) + "\n" for p in predictions)
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["sentence", "labels", *labels])
        for p in predictions:
            writer.writerow([p.sentence, ";".join(p.labels), *(f"{p.scores[label]:.4f}" for label in labels)])
        return buffer.getvalue()
    raise ReadoutError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}")
