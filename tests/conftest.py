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

# (doc_id, sentence, labels): ten short readouts, 34 sentences, a few with two labels or none. Small
# enough that two values of C score visibly apart (used by the sweep, runs and browser tests).
TOY_SENTENCES = [
    ("d01", "The ministers agreed to cut tariffs on steel imports and expand bilateral trade.", ["trade"]),
    ("d01", "Both sides will increase deliveries of natural gas through the new pipeline.", ["energy"]),
    ("d01", "The meeting took place in a cordial atmosphere.", []),
    ("d02", "The leaders signed a free trade agreement that lowers tariffs on farm exports.", ["trade"]),
    ("d02", "Their armed forces will hold joint military exercises next spring.", ["defence"]),
    ("d02", "A festival of film and music will celebrate the cultural ties between the two peoples.", ["culture"]),
    ("d03", "Officials pledged to remove customs barriers so that exporters can reach new markets.", ["trade"]),
    ("d03", "The defence ministers approved the joint production of armoured vehicles.", ["defence"]),
    ("d03", "The national museums will exchange art collections for a joint exhibition.", ["culture"]),
    ("d03", "The delegations exchanged views on regional developments.", []),
    ("d04", "A nuclear power plant will be built with fuel supplied by the partner country.", ["energy"]),
    ("d04", "Export duties on oil and gas will be lowered under the new trade deal.", ["trade", "energy"]),
    ("d04", "Military officers will train together at the defence academy.", ["defence"]),
    ("d05", "An investment treaty will protect investors and boost trade in services.", ["trade"]),
    ("d05", "A solar power project will supply electricity to the national grid.", ["energy"]),
    ("d05", "Scholarships for students and a year of language exchanges were announced.", ["culture"]),
    ("d05", "The president thanked his host for the warm welcome.", []),
    ("d06", "Negotiators discussed market access and import quotas for textiles.", ["trade"]),
    ("d06", "A wind energy partnership will bring new turbines and electricity interconnectors.", ["energy"]),
    ("d06", "The navy will buy patrol boats and air defence systems from its partner.", ["defence"]),
    ("d07", "The oil pipeline will carry crude to the coast for export.", ["energy", "trade"]),
    ("d07", "Security services will share intelligence on military threats at the border.", ["defence"]),
    ("d07", "A theatre festival and an orchestra tour will mark the anniversary of cultural relations.",
     ["culture"]),
    ("d08", "Trade ministers will settle the dispute over tariffs on dairy imports.", ["trade"]),
    ("d08", "A gas storage facility will strengthen energy security in winter.", ["energy"]),
    ("d08", "Heritage experts will restore historic temples and open a museum of folk art.", ["culture"]),
    ("d09", "The countries will expand trade in machinery and reduce tariffs on cars.", ["trade"]),
    ("d09", "Arms purchases and joint naval exercises were on the defence agenda.", ["defence"]),
    ("d09", "A hydrogen energy research centre will receive joint funding.", ["energy"]),
    ("d09", "Both leaders stressed the importance of dialogue.", []),
    ("d10", "Cultural centres will host film weeks, music concerts and art exhibitions.", ["culture"]),
    ("d10", "The armed forces will cooperate on cyber defence and military training.", ["defence"]),
    ("d10", "Electricity exports from the hydropower dam will grow under the energy accord.", ["energy", "trade"]),
    ("d10", "The sides agreed to meet again next year.", []),
]

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
