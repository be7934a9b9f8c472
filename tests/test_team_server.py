"""The README's "Team setup": an MLflow tracking server on PostgreSQL with a shared artifact folder,
and every ``readout`` command pointed at it with ``--tracking-uri`` / ``MLFLOW_TRACKING_URI``.

A real PostgreSQL (Debian's ``postgresql``, which ``.ci/run`` installs) runs in a temp folder on a
free port, and ``mlflow server`` on it. Two trainings started at once must both land; then
``readout runs``, ``readout tag`` by alias and ``readout promote`` work through the server.
Skipped, with the reason, where PostgreSQL or its Python driver cannot be had.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess

import pytest

from training.references import load_tagger
from training.ui import server_env, stop

from helpers import (READOUT, Postgres, cli_predictions, find_postgres, free_port, run_cli, team_server_command,
                     wait_until_up, write_config)

MODEL = "readout-tagger"
RUNS = {"team C=0.05": "model.C=0.05", "team C=4": "model.C=4"}  # two models that tag visibly apart
PROBE = ["Both sides will expand LNG deliveries and cut tariffs on machinery.",
         "The two navies will sail together next spring."]


@pytest.fixture(scope="module")
def team_server(tmp_path_factory):
    bin_dir = find_postgres()
    if bin_dir is None:
        pytest.skip("the team server is not tested because PostgreSQL is not installed "
                    "(apt-get install postgresql: no /usr/lib/postgresql/*/bin/initdb)")
    if importlib.util.find_spec("psycopg") is None:
        pytest.skip("the team server is not tested because MLflow's PostgreSQL driver psycopg is not installed")
    folder = tmp_path_factory.mktemp("team")
    artifacts = folder / "shared-artifacts"
    with Postgres(bin_dir) as postgres:
        port = free_port()
        log = open(folder / "mlflow-server.log", "w+")
        process = subprocess.Popen(team_server_command(postgres.uri, artifacts, port), env=server_env(),
                                   start_new_session=True, stdout=subprocess.DEVNULL, stderr=log)
        try:
            wait_until_up(process, port, timeout=120)
            yield {"uri": f"http://127.0.0.1:{port}", "artifacts": artifacts, "folder": folder}
        finally:
            stop(process)


def test_two_trainings_at_once_land_then_runs_tag_and_promote_work_through_the_server(team_server, tiny_data):
    uri, folder = team_server["uri"], team_server["folder"]
    config = write_config(folder / "config.yaml", tiny_data)  # no tracking.uri: the environment names the server
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri}
    trainings = [subprocess.Popen([str(READOUT), "train", "-c", str(config), "--run-name", name, "--set", override],
                                  cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                 for name, override in RUNS.items()]
    outcomes = [p.communicate(timeout=600) for p in trainings]
    for process, (out, err) in zip(trainings, outcomes):
        assert process.returncode == 0, err.decode()[-3000:]

    # readout runs (MLFLOW_TRACKING_URI): both runs, finished, scored
    listed = run_cli("runs", "--format", "json", env=env)
    assert listed.returncode == 0, listed.stderr.decode()
    runs = {r["run_name"]: r for r in json.loads(listed.stdout)}
    assert set(runs) == set(RUNS)
    assert all(r["status"] == "FINISHED" and r["val_macro_f1"] is not None for r in runs.values())

    # both models were registered, and their files went to the shared artifact folder
    import mlflow

    client = mlflow.MlflowClient(uri)
    versions = {v.run_id: int(v.version) for v in client.search_model_versions(f"name = '{MODEL}'")}
    assert set(versions) == {r["run_id"] for r in runs.values()}
    assert len(list(team_server["artifacts"].rglob("MLmodel"))) == 2

    # readout tag by alias (--tracking-uri) gives the champion's tags; after readout promote, the other's
    champion = int(client.get_model_version_by_alias(MODEL, "champion").version)
    other = next(v for v in versions.values() if v != champion)
    expected = {v: load_tagger(f"models:/{MODEL}/{v}", uri).predict(PROBE) for v in versions.values()}
    assert [p.scores for p in expected[champion]] != [p.scores for p in expected[other]]
    assert cli_predictions(uri, *PROBE) == [p.to_dict() for p in expected[champion]]

    promoted = run_cli("promote", str(other), "--tracking-uri", uri)
    assert promoted.returncode == 0, promoted.stderr.decode()
    assert promoted.stdout.decode().strip() == f"{MODEL}@champion -> version {other} (was version {champion})"
    assert cli_predictions(uri, *PROBE) == [p.to_dict() for p in expected[other]]

