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
import subprocess
import sys
from pathlib import Path

import pytest

from training.config import load_config
from training.train import HEADLINE, train

from helpers import (READOUT, ROOT, TOY_SPLIT, free_port, port_open, processes_serving, run_cli, wait_until_up,
                     write_config, write_toy_data)

MODEL = "readout-tagger"
SWEEP_C = [0.1, 2.0]  # 2.0 scores higher on this data: the best child is not the first one
SINGLE_C = 0.25  # trained after the sweep; scores between the two children


def write_sweep_config(folder: Path, tracking_uri: str) -> Path:
    return write_config(folder / "sweep.yaml", write_toy_data(folder / "readouts.jsonl"), tracking_uri,
                        data=TOY_SPLIT, tracking={"registered_model": MODEL}, sweep={"model.C": SWEEP_C})


@pytest.fixture(scope="module")
def sweep_store(tmp_path_factory):
    """One store for the module: the sweep's result, the plain run's result, and the URI."""
    folder = tmp_path_factory.mktemp("store")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    config = write_sweep_config(folder, uri)
    sweep = train(load_config(config), run_name="sweep C")
    # A plain run (no sweep), registered under another name so the sweep's registry stays its own.
    plain = ["sweep={}", f"model.C={SINGLE_C}", f"tracking.registered_model={MODEL}-single"]
    single = train(load_config(config, plain), run_name=f"single C={SINGLE_C}")
    return {"uri": uri, "sweep": sweep, "single": single, "folder": folder}


# ---------------------------------------------------------------------------------------- sweep

def test_shipped_sweep_config_expands_to_six_variants_of_the_tfidf_config(monkeypatch):
    monkeypatch.chdir(ROOT)  # the configs name data/readouts.jsonl relative to the checkout
    default = load_config("configs/tfidf.yaml")
    sweep = load_config("configs/sweep-tfidf.yaml")
    combos = sweep.combinations()
    assert [(c.model.C, list(c.model.word_ngrams)) for c in combos] == [
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
    done = run_cli("runs", "--format", "json", "--tracking-uri", sweep_store["uri"])
    assert done.returncode == 0, done.stderr.decode()
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

def read_line(stream, timeout: float) -> str:
    ready, _, _ = select.select([stream], [], [], timeout)
    return stream.readline() if ready else ""


# Ctrl-C reaches the program as SIGINT; a shell that runs the test suite in the background may have
# set SIGINT to "ignored", which children inherit, so the child gets the default action back first.
WITH_SIGINT = ("import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
               "os.execv(sys.argv[1], sys.argv[1:])")


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_readout_ui_opens_on_the_runs_and_stops_cleanly(sweep_store, stop_signal):
    """Ctrl-C, `kill` or a process manager: however the command ends, its server ends with it."""
    port = free_port()
    command = [str(READOUT), "ui", "--port", str(port), "--tracking-uri", sweep_store["uri"]]
    process = subprocess.Popen([sys.executable, "-c", WITH_SIGINT, *command], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, cwd=sweep_store["folder"])
    try:
        announced = read_line(process.stdout, 60)
        # The printed link goes straight to the runs table of the experiment.
        runs_page = f"http://127.0.0.1:{port}/#/experiments/{sweep_store['sweep'].experiment_id}/runs"
        assert runs_page in announced, (announced, process.poll())
        assert sweep_store["uri"] in announced
        assert wait_until_up(process, port).strip() == b"OK"
        assert processes_serving(port), "the server runs in processes of its own"

        process.send_signal(stop_signal)
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
    assert not still_open, f"port {port} still open after {stop_signal.name}"
    assert left == {}, f"mlflow server processes left running after {stop_signal.name}: {left}"
