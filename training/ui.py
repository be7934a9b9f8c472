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

from training.tracking import ARTIFACTS_DIR, resolve_uri, sqlite_path


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
    from training.tracking import connect

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


def serve(tracking_uri: str | None, port: int, announce: Callable[[str], None]) -> None:
    """Run the UI until Ctrl-C, then stop it and every process it started."""
    from training.errors import ReadoutError

    process = start(tracking_uri, port)
    announce(f"MLflow UI for {resolve_uri(tracking_uri)} at http://127.0.0.1:{port}  (Ctrl-C stops it)")
    try:
        code = process.wait()
    except KeyboardInterrupt:
        stop(process)
        announce("stopped")
        return
    process.log.seek(0)
    error = process.log.read().strip().splitlines()
    raise ReadoutError(f"the MLflow UI exited with code {code}: {error[-1] if error else 'no message'}")
