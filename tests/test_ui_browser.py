"""The MLflow UI in a real browser: two trainings compared side by side on the compare-runs page.

Trains two real runs (different ``model.C``) into a fresh SQLite store, starts the UI the way
``readout ui`` does (``training.ui.start``), and renders MLflow's compare-runs page in headless
Chromium. The test passes only when the rendered page names both runs and shows a metric value.

Skipped when no Chromium is installed (``apt-get install chromium``); it installs nothing itself.
Every request goes to 127.0.0.1.

Also a script, to refresh the screenshot in the docs::

    python tests/test_ui_browser.py --screenshot docs/compare-runs.png
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # when run as a script
    sys.path.insert(0, str(ROOT))

CHROMIUM_BINARIES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# Headless, offline-quiet: no sandbox (root in CI), no GPU, and no background traffic of Chromium's
# own (updates, sync, QUIC probes), so the only requests go to the UI on 127.0.0.1.
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic")
WINDOW_SIZE = "1400,900"
# Virtual time stands still while requests are pending, so this is page time, not wall time:
# long enough for the React app to load, fetch both runs and render the tables.
VIRTUAL_TIME_BUDGET_MS = 15000
SERVER_START_TIMEOUT_S = 60
RUN_NAMES = ("tfidf C=1 (browser test)", "tfidf C=8 (browser test)")
OVERRIDES = (["model.C=1"], ["model.C=8"])

# (doc_id, sentence, labels): eight short readouts, 32 sentences.
SENTENCES = [
    ("d1", "The ministers agreed to cut tariffs on steel and aluminium imports next year.", ["trade"]),
    ("d1", "Both sides will expand liquefied natural gas deliveries through the new terminal.", ["energy"]),
    ("d1", "They also discussed joint naval exercises in the eastern Mediterranean.", ["defence"]),
    ("d1", "The meeting took place in a cordial atmosphere.", []),
    ("d2", "A film festival and a season of theatre exchanges will open in the spring.", ["culture"]),
    ("d2", "The leaders signed a free trade agreement covering agricultural exports.", ["trade"]),
    ("d2", "A new wind farm partnership will supply power to the northern grid.", ["energy"]),
    ("d2", "The delegations exchanged views on regional developments.", []),
    ("d3", "Officials pledged to remove customs barriers for small exporters.", ["trade"]),
    ("d3", "The defence ministers approved the co-production of armoured vehicles.", ["defence"]),
    ("d3", "The museums will lend each other ancient manuscripts for a joint exhibition.", ["culture"]),
    ("d3", "A nuclear power cooperation deal covers fuel supply and reactor safety.", ["energy", "defence"]),
    ("d4", "Export quotas on rare earth minerals and tariffs on solar panels were reviewed.", ["trade", "energy"]),
    ("d4", "Military officers will train together at the air force academy.", ["defence"]),
    ("d4", "The two countries will celebrate a year of language and literature exchanges.", ["culture"]),
    ("d4", "The president thanked his host for the warm welcome.", []),
    ("d5", "A bilateral investment treaty will protect investors and boost commerce.", ["trade"]),
    ("d5", "The oil pipeline project will double crude exports to the coast.", ["energy", "trade"]),
    ("d5", "Counter-terrorism units will share intelligence on border threats.", ["defence"]),
    ("d5", "An orchestra tour and scholarships for art students were announced.", ["culture"]),
    ("d6", "Negotiators made progress on a customs union and market access for services.", ["trade"]),
    ("d6", "Electricity interconnectors and hydrogen research will receive joint funding.", ["energy"]),
    ("d6", "The navy will purchase patrol boats and missile defence systems.", ["defence"]),
    ("d6", "A heritage site restoration programme will preserve historic temples.", ["culture"]),
    ("d7", "Import duties on textiles will be phased out under the trade pact.", ["trade"]),
    ("d7", "The solar energy plant will be built with concessional loans.", ["energy"]),
    ("d7", "Arms control and peacekeeping missions were on the security agenda.", ["defence"]),
    ("d7", "Cultural centres will host cinema weeks and music festivals.", ["culture"]),
    ("d8", "Trade ministers will meet to settle the dispute over dairy tariffs.", ["trade"]),
    ("d8", "A gas storage facility will strengthen winter energy security.", ["energy"]),
    ("d8", "Joint military drills and a defence industry forum are planned for autumn.", ["defence"]),
    ("d8", "A touring exhibition of contemporary painting and sculpture will visit both capitals.",
     ["culture"]),
]


def find_chromium() -> str | None:
    for name in CHROMIUM_BINARIES:
        path = shutil.which(name)
        if path:
            return path
    return None


def write_dataset(folder: Path) -> Path:
    path = folder / "readouts.jsonl"
    with path.open("w", encoding="utf-8") as handle:
        for doc_id, text, labels in SENTENCES:
            handle.write(json.dumps({"text": text, "labels": labels, "doc_id": doc_id}) + "\n")
    return path


def write_config(folder: Path, data_path: Path, tracking_uri: str) -> Path:
    path = folder / "config.yaml"
    path.write_text(
        "experiment: readout-tagger\n"
        "seed: 13\n"
        "data:\n"
        f"  path: {json.dumps(str(data_path))}\n"
        "  split_field: null\n"
        "model:\n"
        "  family: tfidf_linear\n"
        "  word_ngrams: [1, 2]\n"
        "thresholds:\n"
        "  strategy: fixed\n"  # tuned thresholds fit the tiny validation split perfectly; fixed ones differ by C
        "  value: 0.5\n"
        "tracking:\n"
        f"  uri: {json.dumps(tracking_uri)}\n",
        encoding="utf-8")
    return path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(process: subprocess.Popen, port: int, timeout: float = SERVER_START_TIMEOUT_S) -> None:
    """Poll ``/health`` until the server answers; fail early if it exits, late if it never answers."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            error = process.stderr.read() if process.stderr else ""
            raise RuntimeError(f"the MLflow UI exited with code {process.returncode}: {error[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"the MLflow UI did not answer on port {port} within {timeout:.0f} s")
        time.sleep(0.25)


def compare_runs_url(port: int, run_ids: list[str], experiment_ids: list[str]) -> str:
    """MLflow's own compare link (``Routes.getCompareRunPageRoute``): a hash route of JSON lists."""
    query = urllib.parse.urlencode({"runs": json.dumps(run_ids), "experiments": json.dumps(experiment_ids)},
                                   quote_via=urllib.parse.quote)
    return f"http://127.0.0.1:{port}/#/compare-runs?{query}"


def run_chromium(binary: str, url: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        command = [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--window-size={WINDOW_SIZE}",
                   "--hide-scrollbars", f"--virtual-time-budget={VIRTUAL_TIME_BUDGET_MS}", *args, url]
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=True)


def render_dom(binary: str, url: str) -> str:
    """The page's DOM after the app has rendered (``--dump-dom``)."""
    return run_chromium(binary, url, "--dump-dom").stdout


def screenshot(binary: str, url: str, path: Path) -> Path:
    path = Path(path).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    run_chromium(binary, url, f"--screenshot={path}")
    if not path.is_file() or path.stat().st_size == 0:
        raise RuntimeError(f"Chromium wrote no screenshot to {path}")
    return path


def format_metric(value: float) -> str:
    """A metric as the MLflow UI prints it (``Utils.formatMetric``): at most 3 decimals."""
    if value == 0:
        return "0"
    if abs(value) < 1e-3:
        return f"{value:.3e}"
    if abs(value) < 10:
        return repr(round(value, 3)).removesuffix(".0")
    if abs(value) < 100:
        return repr(round(value, 2)).removesuffix(".0")
    return repr(round(value, 1)).removesuffix(".0")


@dataclass
class ComparedRuns:
    url: str
    run_names: list[str]
    run_ids: list[str]
    metrics: list[dict[str, float]]


def train_two_runs(folder: Path):
    from training.config import load_config
    from training.train import train

    data = write_dataset(folder)
    config_path = write_config(folder, data, f"sqlite:///{folder / 'mlflow.db'}")
    results = []
    for name, overrides in zip(RUN_NAMES, OVERRIDES):
        results.append(train(load_config(config_path, overrides), run_name=name))
    return results


@contextmanager
def compared_runs(folder: Path) -> Iterator[ComparedRuns]:
    """Two trained runs and a running UI on them; the server is stopped on the way out."""
    from training import ui

    results = train_two_runs(folder)
    port = free_port()
    process = ui.start(results[0].tracking_uri, port)
    try:
        wait_until_up(process, port)
        runs = [r.best for r in results]
        yield ComparedRuns(url=compare_runs_url(port, [r.run_id for r in runs], [results[0].experiment_id]),
                           run_names=[r.run_name for r in runs], run_ids=[r.run_id for r in runs],
                           metrics=[r.metrics for r in runs])
    finally:
        ui.stop(process)


@pytest.fixture
def chromium() -> str:
    binary = find_chromium()
    if binary is None:
        pytest.skip("Chromium not installed: apt-get install chromium")
    return binary


@pytest.mark.slow
def test_compare_runs_page_shows_both_runs_and_their_metrics(chromium, tmp_path):
    with compared_runs(tmp_path) as compared:
        dom = render_dom(chromium, compared.url)
        shot = screenshot(chromium, compared.url, tmp_path / "compare-runs.png")

    assert compared.run_names == list(RUN_NAMES)
    for name in compared.run_names:
        assert name in dom, f"run {name!r} missing from the compare page"
    for metrics in compared.metrics:
        shown = format_metric(metrics["val_macro_f1"])
        assert shown in dom, f"val_macro_f1 {shown} missing from the compare page"
    assert "val_macro_f1" in dom
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Screenshot MLflow's compare-runs page for two fresh runs.")
    parser.add_argument("--screenshot", type=Path, default=ROOT / "docs" / "compare-runs.png", metavar="PATH")
    args = parser.parse_args(argv)
    binary = find_chromium()
    if binary is None:
        print("Chromium not installed: apt-get install chromium", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="readout-ui-") as folder, compared_runs(Path(folder)) as compared:
        path = screenshot(binary, compared.url, args.screenshot)
    print(f"wrote {path} ({compared.url})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
