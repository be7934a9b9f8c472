"""Shared fixtures: tiny data cut from the corpus, configs in temp dirs, a real MLflow store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
CORPUS = ROOT / "data" / "readouts.jsonl"
READOUT = Path(sys.executable).parent / "readout"  # the installed console script

# Tiny but real: the first 40 readouts of the corpus (~400 sentences) train in about a second.
TINY_DOCS = 40


@pytest.fixture(scope="session")
def tiny_rows() -> list[dict]:
    rows, docs = [], []
    for line in CORPUS.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row["doc_id"] not in docs:
            if len(docs) == TINY_DOCS:
                break
            docs.append(row["doc_id"])
        rows.append({"text": row["text"], "labels": row["labels"], "doc_id": row["doc_id"]})
    return rows


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    return path


def write_config(path: Path, data_path: Path, tracking_uri: str | None = None, **sections) -> Path:
    """A config like configs/tfidf.yaml, pointing at ``data_path``; ``sections`` are merged in."""
    config = yaml.safe_load((ROOT / "configs" / "tfidf.yaml").read_text())
    config["data"]["path"] = str(data_path)
    config["data"]["split_field"] = None  # tiny data: seeded split by document
    if tracking_uri:
        config["tracking"]["uri"] = tracking_uri
    for key, value in sections.items():
        if isinstance(value, dict):
            config.setdefault(key, {}).update(value)
        else:
            config[key] = value
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@pytest.fixture
def tiny_data(tmp_path, tiny_rows) -> Path:
    return write_jsonl(tmp_path / "tiny.jsonl", tiny_rows)


@pytest.fixture
def store(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'mlflow.db'}"


@pytest.fixture
def tiny_config(tmp_path, tiny_data, store) -> Path:
    return write_config(tmp_path / "config.yaml", tiny_data, store)


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None, stdin: str | bytes | None = None,
            timeout: int = 120) -> subprocess.CompletedProcess:
    """Run the installed ``readout`` command as a user would."""
    full_env = {**os.environ, **(env or {})}
    data = stdin.encode() if isinstance(stdin, str) else stdin
    return subprocess.run([str(READOUT), *args], cwd=cwd, env=full_env, input=data, capture_output=True,
                          timeout=timeout)


@pytest.fixture(scope="session")
def trained(tmp_path_factory, tiny_rows):
    """One model trained through the CLI into a fresh store, shared by the read-only tests."""
    folder = tmp_path_factory.mktemp("trained")
    data = write_jsonl(folder / "tiny.jsonl", tiny_rows)
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    config = write_config(folder / "config.yaml", data, uri)
    result = run_cli("train", "--config", str(config), "--run-name", "cli-run", cwd=folder)
    assert result.returncode == 0, result.stderr.decode()
    return {"folder": folder, "uri": uri, "config": config, "data": data, "stdout": result.stdout.decode(),
            "stderr": result.stderr.decode()}
