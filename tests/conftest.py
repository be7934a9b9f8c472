"""Shared fixtures: tiny data cut from the corpus, configs in temp dirs, a real MLflow store.
(Helpers that tests import live in ``helpers.py``.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from browser import find_chromium
from helpers import CORPUS, run_cli, write_config, write_jsonl

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


@pytest.fixture
def tiny_data(tmp_path, tiny_rows) -> Path:
    return write_jsonl(tmp_path / "tiny.jsonl", tiny_rows)


@pytest.fixture
def store(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'mlflow.db'}"


@pytest.fixture
def tiny_config(tmp_path, tiny_data, store) -> Path:
    return write_config(tmp_path / "config.yaml", tiny_data, store)


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


@pytest.fixture
def chromium() -> str:
    binary = find_chromium()
    if binary is None:
        pytest.skip("Chromium not installed: apt-get install chromium")
    return binary


@pytest.fixture(scope="session")
def context_store(tmp_path_factory, tiny_rows):
    """A model that reads each sentence beside its neighbours (model.context 1+1), trained through
    the CLI into a fresh store: serving and Spark must keep a readout's rows together for it."""
    folder = tmp_path_factory.mktemp("context-model")
    data = write_jsonl(folder / "tiny.jsonl", tiny_rows)
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    config = write_config(folder / "config.yaml", data, uri, model={"context": {"before": 1, "after": 1}})
    result = run_cli("train", "--config", str(config), cwd=folder)
    assert result.returncode == 0, result.stderr.decode()
    return {"folder": folder, "uri": uri}
