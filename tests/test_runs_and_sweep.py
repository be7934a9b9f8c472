"""Sweeps, ``readout runs`` and ``readout ui`` on one real run store.

The module trains once into a fresh SQLite store: a sweep over ``model.C`` (a parent run with one
child per value) and, after it, one plain run whose score falls between the children's, so that
listing by creation time and listing by score disagree. ``readout`` is run as the installed
console script, the way a user runs it.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from training.config import load_config
from training.train import HEADLINE, train

from conftest import TOY_SENTENCES

ROOT = Path(__file__).resolve().parents[1]
READOUT = Path(sys.executable).with_name("readout")  # the console script installed in this venv
MODEL = "readout-tagger"
SWEEP_C = [0.1, 2.0]  # 2.0 scores higher on this data: the best child is not the first one
SINGLE_C = 0.25  # trained after the sweep; scores between the two children
SERVER_START_TIMEOUT_S = 60

SENTENCES = TOY_SENTENCES


def write_config(folder: Path, tracking_uri: str) -> Path:
    data = folder / "readouts.jsonl"
    data.write_text("".join(json.dumps({"text": text, "labels": labels, "doc_id": doc}) + "\n"
                            for doc, text, labels in SENTENCES), encoding="utf-8")
    config = folder / "sweep.yaml"
    config.write_text(
        "experiment: readout-tagger\n"
        "seed: 13\n"
        "data:\n"
        f"  path: {json.dumps(str(data))}\n"
        "  split_field: null\n"
        "  split: {validation: 0.25, test: 0.25}\n"
        "model:\n"
        "  family: tfidf_linear\n"
        "tracking:\n"
        f"  uri: {json.dumps(tracking_uri)}\n"
        f"  registered_model: {MODEL}\n"
        "sweep:\n"
        f"  model.C: {json.dumps(SWEEP_C)}\n",
        encoding="utf-8")
    return config


@pytest.fixture(scope="module")
def sweep_store(tmp_path_factory):
    """One store for the module: the sweep's result, the plain run's result, and the URI."""
    folder = tmp_path_factory.mktemp("store")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    config = write_config(folder, uri)
    sweep = train(load_config(config), run_name="sweep C")
    # A plain run (no sweep), registered under another name so the sweep's registry stays its own.
    plain = ["sweep={}", f"model.C={SINGLE_C}", f"tracking.registered_model={MODEL}-single"]
    single = train(load_config(config, plain), run_name=f"single C={SINGLE_C}")
    return {"uri": uri, "sweep": sweep, "single": single, "folder": folder}


def readout(*args: str, **kwargs) -> subprocess.CompletedProcess:
    assert READOUT.is_file(), f"no readout console script at {READOUT}: pip install -e ."
    return subprocess.run([str(READOUT), *args], capture_output=True, text=True, timeout=120, **kwargs)


# ---------------------------------------------------------------------------------------- sweep

def test_shipped_sweep_config_expands_to_six_variants_of_the_tfidf_config(monkeypatch):
    monkeypatch.chdir(ROOT)  # the configs name data/readouts.jsonl relative to the checkout
    default = load_config("configs/tfidf.yaml")
    sweep = load_config("configs/sweep-tfidf.yaml")
    combos = sweep.combinations()
    assert [(c.model["C"], list(c.model["word_ngrams"])) for c in combos] == [
        (C, ngrams) for C in (1.0, 4.0, 16.0) for ngrams in ([1, 1], [1, 2])]
    for combo in combos:  # apart from the swept keys, every child is the tfidf config
        differs = {k for k, v in combo.flat().items() if default.flat()[k] != v}
        assert differs <= {"model.C", "model.word_ngrams"}


def test_sweep_logs_parent_with_one_child_per_value_and_registers_only_the_best(sweep_store):
    import mlflow

    sweep = sweep_store["sweep"]
    client = mlflow.MlflowClient(sweep_store["uri"])
    parent = client.get_run(sweep.parent_run_id)
    children = client.search_runs([sweep.experiment_id], f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'")

    assert parent.info.run_name == "sweep C" and parent.info.status == "FINISHED"
    assert sorted(float(c.data.params["model.C"]) for c in children) == SWEEP_C
    assert {c.info.run_id for c in children} == {r.run_id for r in sweep.runs}
    assert all(c.info.status == "FINISHED" and HEADLINE in c.data.metrics for c in children)

    scores = {c.info.run_id: c.data.metrics[HEADLINE] for c in children}
    assert len(set(scores.values())) == 2, f"the two children should score differently: {scores}"
    best = max(scores, key=scores.get)
    assert parent.data.tags["best_run_id"] == best
    assert client.get_run(best).data.params["model.C"] == str(max(SWEEP_C))  # not just the first child
    assert parent.data.metrics[f"best_{HEADLINE}"] == pytest.approx(scores[best])

    versions = client.search_model_versions(f"name = '{MODEL}'")
    assert len(versions) == 1, [(v.version, v.run_id) for v in versions]
    assert versions[0].run_id == best
    assert (sweep.version, sweep.best.run_id) == (int(versions[0].version), best)


# ------------------------------------------------------------------------------------ readout runs

def test_readout_runs_json_lists_runs_best_first(sweep_store):
    done = readout("runs", "--format", "json", "--tracking-uri", sweep_store["uri"])
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)

    sweep, single = sweep_store["sweep"], sweep_store["single"]
    expected = {r.run_id: r.metrics[HEADLINE] for r in [*sweep.runs, single.best]}
    scored = [row for row in rows if row[HEADLINE] is not None]
    assert [row["run_id"] for row in scored] == sorted(expected, key=expected.get, reverse=True)
    assert [row[HEADLINE] for row in scored] == pytest.approx(sorted(expected.values(), reverse=True))
    # ... which is not the order the runs were made in: the plain run came last, between the children.
    assert scored[1]["run_id"] == single.best.run_id
    # The sweep's parent (no HEADLINE of its own) is listed too, after every scored run.
    assert [row["run_id"] for row in rows[len(scored):]] == [sweep.parent_run_id]
    children = [row for row in rows if row["parent_run_id"] == sweep.parent_run_id]
    assert {row["run_id"] for row in children} == {r.run_id for r in sweep.runs}
    assert {row["run_name"] for row in rows} >= {"sweep C", f"single C={SINGLE_C}"}


# -------------------------------------------------------------------------------------- readout ui

def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def processes_serving(port: int) -> dict[int, str]:
    """Live mlflow/uvicorn processes started for this port: pid -> command line."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            state = next((line for line in (entry / "status").read_text().splitlines()
                          if line.startswith("State:")), "")
        except OSError:
            continue
        command = b" ".join(argv)
        if b"--port" in argv and str(port).encode() in argv and b"mlflow" in command and "zombie" not in state:
            found[int(entry.name)] = command.decode(errors="replace")
    return found


def read_line(stream, timeout: float) -> str:
    ready, _, _ = select.select([stream], [], [], timeout)
    return stream.readline() if ready else ""


# Ctrl-C reaches the program as SIGINT; a shell that runs the test suite in the background may have
# set SIGINT to "ignored", which children inherit, so the child gets the default action back first.
WITH_SIGINT = ("import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
               "os.execv(sys.argv[1], sys.argv[1:])")


def test_readout_ui_serves_the_store_and_stops_cleanly_on_ctrl_c(sweep_store):
    assert READOUT.is_file(), f"no readout console script at {READOUT}: pip install -e ."
    port = free_port()
    command = [str(READOUT), "ui", "--port", str(port), "--tracking-uri", sweep_store["uri"]]
    process = subprocess.Popen([sys.executable, "-c", WITH_SIGINT, *command], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, cwd=sweep_store["folder"])
    try:
        announced = read_line(process.stdout, 60)
        assert f"http://127.0.0.1:{port}" in announced, (announced, process.poll())
        assert sweep_store["uri"] in announced

        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while True:
            assert process.poll() is None, process.stderr.read()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
                    assert response.status == 200 and response.read().strip() == b"OK"
                    break
            except (urllib.error.URLError, OSError):
                assert time.monotonic() < deadline, f"no answer on /health within {SERVER_START_TIMEOUT_S} s"
                time.sleep(0.25)
        assert processes_serving(port), "the server runs in processes of its own"

        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
        still_open, left = port_open(port), processes_serving(port)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for pid in processes_serving(port):  # pass or fail, leave no server of this test behind
            os.kill(pid, signal.SIGKILL)

    assert process.returncode == 0, err
    assert "stopped" in out
    assert not still_open, f"port {port} still open after Ctrl-C"
    assert left == {}, f"mlflow server processes left running after Ctrl-C: {left}"
