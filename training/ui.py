"""``readout ui``: the MLflow UI for the run store, lean enough for a laptop.

Plain ``mlflow ui`` starts several web workers and a background job runner (~15 processes, ~3 GB);
comparing runs needs one worker and no jobs.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable

from training.store import ARTIFACTS_DIR, resolve_uri, sqlite_path


def server_command(uri: str, port: int) -> list[str]:
    command = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", uri,
               "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    db = sqlite_path(uri)
    if db is not None:
        command += ["--default-artifact-root", (db.parent / ARTIFACTS_DIR).as_uri()]
    return command


def server_env() -> dict[str, str]:
    return {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", "MLFLOW_DISABLE_TELEMETRY":
            os.environ.get("MLFLOW_DISABLE_TELEMETRY", "true")}


def start(tracking_uri: str | None, port: int) -> subprocess.Popen:
    """Start the UI server in its own process group (so it can be stopped as a whole)."""
    from training.store import connect

    uri = connect(tracking_uri)
    # Server messages go to a file, not a pipe: nobody reads a pipe while the UI runs, and a full
    # one (a long session's warnings) would freeze the server.
    log = tempfile.TemporaryFile("w+")
    process = subprocess.Popen(server_command(uri, port), env=server_env(), start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=log, text=True)
    process.log = log
    return process


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def runs_url(uri: str, port: int, experiment: str) -> str:
    """The page a user wants first: the runs table of the experiment (tagged to open on training
    runs rather than MLflow 3's GenAI overview), or the experiment list when it does not exist yet."""
    import mlflow

    from training.store import experiment_id

    base = f"http://127.0.0.1:{port}"
    if mlflow.MlflowClient(uri).get_experiment_by_name(experiment) is None:
        return base
    # experiment_id also tags an experiment that predates the tag, so it opens on its runs
    # workflowType: the sidebar's "Model training" mode (the UI's default is GenAI)
    return f"{base}/#/experiments/{experiment_id(experiment, uri)}/runs?workflowType=machine_learning"


def serve(tracking_uri: str | None, port: int, experiment: str, announce: Callable[[str], None]) -> None:
    """Run the UI until Ctrl-C or SIGTERM, then stop it and every process it started."""
    from training.errors import ReadoutError

    process = start(tracking_uri, port)

    def ready() -> str:
        uri = resolve_uri(tracking_uri)
        return f"MLflow UI for {uri}: {runs_url(uri, port, experiment)}  (Ctrl-C stops it)"

    code = run_until_stopped(process, ready, announce)
    if code is None:
        return
    process.log.seek(0)
    error = process.log.read().strip().splitlines()
    raise ReadoutError(f"the MLflow UI exited with code {code}: {error[-1] if error else 'no message'}")


def run_until_stopped(process: subprocess.Popen, ready: Callable[[], str], announce: Callable[[str], None]):
    """Wait on a server until it exits (its exit code) or Ctrl-C / SIGTERM stops it (None); either
    way the server and every process it started are gone on return. ``ready()`` runs first and
    gives the line to announce (it may wait for the server to answer)."""
    previous = signal.signal(signal.SIGTERM, _interrupt)  # `kill`, `timeout` or a process manager
    try:
        announce(ready())
        return process.wait()
    except KeyboardInterrupt:
        announce("stopped")
        return None
    finally:
        stop(process)
        signal.signal(signal.SIGTERM, previous)


def _interrupt(signum, frame):
    raise KeyboardInterrupt
