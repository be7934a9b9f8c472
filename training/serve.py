"""``readout serve``: MLflow's scoring server (``mlflow models serve``) for a model reference.

The reference is resolved the way ``readout tag`` resolves it (the SQLite fast path, else the
MLflow client), to the MLflow model folder that holds the Tagger; the server runs in this Python
environment (``--env-manager local``: nothing is installed or downloaded) with one worker, and
answers ``POST /invocations`` and ``GET /ping``. Ctrl-C or SIGTERM stop it and its worker.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from training.errors import ReadoutError
from training.references import TAGGER_IN_MLFLOW_MODEL, resolve_model

MLMODEL = "MLmodel"
DEFAULT_PORT = 5001  # beside `readout ui` on 5000
START_TIMEOUT_S = 120  # the server imports MLflow and loads the model before it answers


def model_root(ref: str, tracking_uri: str | None = None) -> Path:
    """The MLflow model folder (with ``MLmodel``) whose ``artifacts/tagger`` ``ref`` names."""
    tagger = resolve_model(ref, tracking_uri)
    root = tagger.parent.parent
    if tagger.parts[-2:] == TAGGER_IN_MLFLOW_MODEL.parts and (root / MLMODEL).is_file():
        return root
    raise ReadoutError(f"{ref} is a bare Tagger folder, not an MLflow model: give a logged model "
                       "(models:/NAME@ALIAS, models:/NAME/VERSION, runs:/RUN_ID/model or its downloaded folder)")


def server_command(root: Path, host: str, port: int) -> list[str]:
    return [sys.executable, "-m", "mlflow", "models", "serve", "--model-uri", str(root), "--env-manager", "local",
            "--host", host, "--port", str(port), "--workers", "1"]


def server_env() -> dict[str, str]:
    # MLflow starts `uvicorn` by name: this environment's bin folder must be on PATH even when the
    # environment is not activated (`.venv/bin/readout serve`).
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return {**os.environ, "PATH": path, "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}


def start(root: Path, host: str, port: int) -> subprocess.Popen:
    """Start the scoring server in its own process group (so it can be stopped as a whole)."""
    log = tempfile.TemporaryFile("w+")  # a file, not a pipe: a full pipe nobody reads would freeze it
    process = subprocess.Popen(server_command(root, host, port), env=server_env(), start_new_session=True,
                               stdout=log, stderr=subprocess.STDOUT, text=True)
    process.log = log
    return process


def wait_ready(process: subprocess.Popen, host: str, port: int, timeout: float = START_TIMEOUT_S) -> None:
    """Poll ``/ping`` until it answers; a ``ReadoutError`` with the server's last line if it exits."""
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}/ping"
    deadline = time.monotonic() + timeout
    while process.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            raise ReadoutError(f"the scoring server did not answer {url} within {timeout:.0f} s")
        time.sleep(0.25)
    raise ReadoutError(f"the scoring server exited with code {process.returncode}: {last_line(process)}")


def last_line(process: subprocess.Popen) -> str:
    """The server's own error line (uvicorn's start in ``ERROR:``), else its last line."""
    process.log.seek(0)
    lines = [line for line in process.log.read().strip().splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("ERROR")]
    return (errors or lines or ["no message"])[-1]


def check_port(host: str, port: int) -> None:
    """Fail in one line before starting anything when the port is taken (uvicorn would only say
    "return code 3" after the model has loaded)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ReadoutError(f"cannot listen on {host}:{port}: {exc.strerror} (see --port and --host)") from None


def serve(ref: str, tracking_uri: str | None, host: str, port: int, announce: Callable[[str], None]) -> None:
    """Serve ``ref`` until Ctrl-C or SIGTERM, then stop the server and its worker."""
    from training.ui import run_until_stopped

    root = model_root(ref, tracking_uri)
    check_port(host, port)
    process = start(root, host, port)

    def ready() -> str:
        wait_ready(process, host, port)
        return f"serving {ref} ({root}) at http://{host}:{port}/invocations  (Ctrl-C stops it)"

    code = run_until_stopped(process, ready, announce)
    if code is None:
        return
    raise ReadoutError(f"the scoring server exited with code {code}: {last_line(process)}")

