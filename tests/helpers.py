"""Shared test helpers: paths, toy data, config writers, the CLI as a subprocess, local servers."""

from __future__ import annotations

import json
import os
import pty
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
CORPUS = ROOT / "data" / "readouts.jsonl"
READOUT = Path(sys.executable).parent / "readout"  # the installed console script
SERVER_START_TIMEOUT_S = 60

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
# The toy readouts are few: a quarter each for validation and test keeps every split non-empty.
TOY_SPLIT = {"split": {"validation": 0.25, "test": 0.25}}


def proba_shape_in_a_fresh_process(family: str, folder: Path, sentence: str) -> str:
    """Load a saved model of ``models.<family>`` in a new Python and tag one sentence there;
    fails if scikit-learn, SciPy or pydantic got imported (serving must not pay for them: a cold
    ``readout tag`` is mostly imports). Returns the printed shape of the probabilities."""
    module, name = family.split(":")
    code = (f"import sys; from pathlib import Path; from models.{module} import {name};"
            f"m = {name}.load(Path({str(folder)!r})); print(m.predict_proba([{sentence!r}]).shape);"
            "assert not [n for n in sys.modules if n.startswith(('sklearn', 'scipy', 'pydantic'))], "
            "'scikit-learn, SciPy or pydantic imported'")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    return path


def write_toy_data(path: Path) -> Path:
    return write_jsonl(path, [{"text": text, "labels": labels, "doc_id": doc} for doc, text, labels in TOY_SENTENCES])


def write_config(path: Path, data_path: Path, tracking_uri: str | None = None, **sections) -> Path:
    """A config like configs/tfidf.yaml, pointing at ``data_path`` with a seeded split by
    document; each of ``sections`` updates that top-level section (or replaces a plain value)."""
    config = yaml.safe_load((ROOT / "configs" / "tfidf.yaml").read_text())
    config["data"]["path"] = str(data_path)
    config["data"]["split_field"] = None  # tiny data: seeded split by document
    if tracking_uri:
        config["tracking"]["uri"] = tracking_uri
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(config.get(key), dict):
            config[key].update(value)
        else:
            config[key] = value
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None, stdin: str | bytes | None = None,
            timeout: int = 120) -> subprocess.CompletedProcess:
    """Run the installed ``readout`` command as a user would."""
    assert READOUT.is_file(), f"no readout console script at {READOUT}: pip install -e ."
    full_env = {**os.environ, **(env or {})}
    data = stdin.encode() if isinstance(stdin, str) else stdin
    return subprocess.run([str(READOUT), *args], cwd=cwd, env=full_env, input=data, capture_output=True,
                          timeout=timeout)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_until_up(process: subprocess.Popen, port: int, path: str = "/health",
                  timeout: float = SERVER_START_TIMEOUT_S) -> bytes:
    """Poll ``path`` until the server answers 200 (its body is returned); fail early if the process
    exits, late if it never answers."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            error = process.stderr.read() if process.stderr else ""
            raise RuntimeError(f"the server exited with code {process.returncode}: {str(error)[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as response:
                if response.status == 200:
                    return response.read()
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"no answer on port {port}{path} within {timeout:.0f} s")
        time.sleep(0.25)


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


def run_in_terminal(command: list[str], cwd: Path | None = None, timeout: float = 600) -> tuple[int, str]:
    """Run a command with stdout and stderr on a pseudo-terminal, as in a user's shell: its exit
    code and everything it printed (terminal escapes included)."""
    leader, follower = pty.openpty()
    process = subprocess.Popen([str(c) for c in command], cwd=cwd, stdin=subprocess.DEVNULL, stdout=follower,
                               stderr=follower, env={**os.environ, "COLUMNS": "120"})
    os.close(follower)
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 1 << 16)
        except OSError:  # the terminal closed: the command ended
            break
        if not chunk:
            break
        seen += chunk
    os.close(leader)
    return process.wait(timeout=timeout), seen.decode(errors="replace")


class Tmux:
    """A real terminal: a private tmux server running one command in one pane, driven by
    ``send-keys`` and read with ``capture-pane``. Use as a context manager (the server is killed)."""

    def __init__(self, width: int = 100, height: int = 30):
        import shutil
        import uuid

        self.tmux = shutil.which("tmux")
        self.server = f"readout-test-{uuid.uuid4().hex[:12]}"  # -L: a short socket name, whatever the temp path
        self.size = (str(width), str(height))

    def _call(self, *args: str) -> str:
        out = subprocess.run([self.tmux, "-L", self.server, *args], capture_output=True, text=True, timeout=30)
        if out.returncode != 0:
            raise RuntimeError(f"tmux {' '.join(args)}: {out.stderr.strip()}")
        return out.stdout

    def start(self, command: list[str], cwd: Path) -> None:
        """Run ``command`` in a new session; the pane stays after it exits so its last screen can be read."""
        import shlex

        self._call("-f", "/dev/null", "new-session", "-d", "-s", "t", "-x", self.size[0], "-y", self.size[1],
                   "-c", str(cwd), *(f"-e{k}={v}" for k, v in os.environ.items() if k in ("PATH", "PYTHONPATH")),
                   f"exec {shlex.join(command)}", ";", "set-option", "-t", "t", "remain-on-exit", "on")
        self.socket = Path(self._call("display-message", "-p", "#{socket_path}").strip())

    def send(self, *keys: str) -> None:
        self._call("send-keys", "-t", "t", *keys)

    def screen(self, history: bool = False) -> str:
        """The visible screen; with ``history``, what scrolled off it before (earlier screens) too."""
        return self._call("capture-pane", "-p", "-t", "t", *(["-S", "-"] if history else []))

    def pid(self) -> int:
        return int(self._call("display-message", "-p", "-t", "t", "#{pane_pid}").strip())

    def exited(self) -> bool:
        return self._call("display-message", "-p", "-t", "t", "#{pane_dead}").strip() == "1"

    def wait_for(self, text: str, timeout: float = 30) -> str:
        """The screen once it shows ``text`` and has stopped changing (a program may be mid-way
        through drawing it); an error with the screen if it never does."""
        deadline = time.monotonic() + timeout
        previous = None
        while True:
            screen = self.screen()
            if text in screen and screen == previous:
                return screen
            previous = screen
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} not on the screen within {timeout:.0f} s:\n{screen}")
            time.sleep(0.1)

    def wait_exit(self, timeout: float = 30) -> str:
        """Once the command has exited, its output with the history: tmux's "Pane is dead" line
        may scroll the last output off the screen."""
        deadline = time.monotonic() + timeout
        while not self.exited():
            if time.monotonic() > deadline:
                raise AssertionError(f"the command did not exit within {timeout:.0f} s:\n{self.screen()}")
            time.sleep(0.1)
        return self.screen(history=True)

    def __enter__(self) -> Tmux:
        return self

    def __exit__(self, *exc) -> None:
        subprocess.run([self.tmux, "-L", self.server, "kill-server"], capture_output=True, timeout=30)
        if getattr(self, "socket", None) is not None:
            self.socket.unlink(missing_ok=True)  # a killed server leaves its socket file behind


# ------------------------------------------------------------------------- PostgreSQL, MLflow server

POSTGRES_BIN_GLOB = "/usr/lib/postgresql/*/bin"  # Debian's `postgresql` package (initdb is not on PATH)
POSTGRES_START_TIMEOUT_S = 30


def find_postgres() -> Path | None:
    """The newest installed PostgreSQL's bin folder (with initdb and postgres), or None."""
    import glob

    found = [Path(p) for p in glob.glob(POSTGRES_BIN_GLOB) if (Path(p) / "initdb").is_file()]
    return max(found, key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0) if found else None


def _server_user() -> dict:
    """initdb and postgres refuse to run as root (CI and this project's machines run as root): there,
    run them as `postgres` (made by Debian's package) or else `nobody`. Returns Popen's user/group
    arguments, so that the server is our direct child and our signals reach it."""
    if os.geteuid() != 0:
        return {}
    import pwd

    for name in ("postgres", "nobody"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
    raise RuntimeError("running as root and there is neither a postgres nor a nobody user to run PostgreSQL as")


class Postgres:
    """A throwaway PostgreSQL cluster in a temp folder on a free port of 127.0.0.1, trusting local
    connections, with a database ``mlflow`` owned by the user ``mlflow``. ``uri`` is the SQLAlchemy
    URI MLflow takes as ``--backend-store-uri``. Use as a context manager: the server is stopped and
    its folder removed on exit."""

    def __init__(self, bin_dir: Path):
        import tempfile

        self.bin_dir = bin_dir
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="readout-postgres-"))  # under /tmp: the user can reach it
        self.process: subprocess.Popen | None = None
        as_user = _server_user()
        try:
            if as_user:
                os.chown(self.folder, as_user["user"], as_user["group"])
            data = self.folder / "data"
            subprocess.run([str(bin_dir / "initdb"), "-D", str(data), "-U", "mlflow", "--auth=trust", "-E", "UTF8",
                            "--no-locale"], check=True, capture_output=True, timeout=120, cwd=self.folder, **as_user)
            self.log = open(self.folder / "server.log", "w+")  # a file: nobody drains a pipe while it runs
            self.process = subprocess.Popen(
                [str(bin_dir / "postgres"), "-D", str(data), "-p", str(self.port), "-k", str(self.folder),
                 "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"],  # fsync off: a test cluster, thrown away
                stdout=self.log, stderr=subprocess.STDOUT, cwd=self.folder, start_new_session=True, **as_user)
            self._wait_ready()
            subprocess.run([str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "mlflow",
                            "mlflow"], check=True, capture_output=True, timeout=60)
        except BaseException:
            self.close()
            raise
        self.uri = f"postgresql+psycopg://mlflow@127.0.0.1:{self.port}/mlflow"

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + POSTGRES_START_TIMEOUT_S
        while subprocess.run([str(self.bin_dir / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)],
                             timeout=10).returncode != 0:
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.log.seek(0)
                raise RuntimeError(f"PostgreSQL did not start: {self.log.read()[-2000:]}")
            time.sleep(0.2)

    def close(self) -> None:
        import shutil
        import signal

        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # PostgreSQL's "fast" shutdown
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process is not None:
            self.log.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> Postgres:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def team_server_command(backend_uri: str, artifacts: Path, port: int) -> list[str]:
    """The README's "Team setup" server: MLflow on PostgreSQL, serving a shared artifact folder,
    with one worker (the job runner is turned off in ``training.ui.server_env``)."""
    return [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", backend_uri,
            "--artifacts-destination", artifacts.as_uri(), "--host", "127.0.0.1", "--port", str(port),
            "--workers", "1"]


def cli_predictions(uri: str, *args: str) -> list[dict]:
    """``readout tag ARGS --format json`` on the store at ``uri``: each row's sentence, labels and
    scores, in input order (rows read from files also name their doc_id and sentence_index)."""
    result = run_cli("tag", *args, "--format", "json", "--quiet", "--tracking-uri", uri)
    assert result.returncode == 0, result.stderr.decode()
    return [{key: row[key] for key in ("sentence", "labels", "scores")} for row in json.loads(result.stdout)]


def two_readouts_and_lone_sentences(rows: list[dict]) -> tuple[list[list[dict]], list[str]]:
    """The first two readouts of ``rows`` (lists of rows in reading order) and three sentences of
    this file's own to tag alone."""
    readouts: dict[str, list[dict]] = {}
    for row in rows:
        if row["doc_id"] in readouts or len(readouts) < 2:
            readouts.setdefault(row["doc_id"], []).append(row)
    alone = ["The two navies will sail together next spring.", "Both sides hailed it as a milestone.",
             "The ministers agreed to cut tariffs on farm machinery."]
    return list(readouts.values()), alone
