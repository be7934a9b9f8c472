"""The MLflow UI in a real browser: two trainings compared side by side on the compare-runs page.

Trains two real runs (different ``model.C``) into a fresh SQLite store, starts the UI the way
``readout ui`` does (``training.ui.start``), and opens MLflow's compare-runs page in headless
Chromium, driven over the DevTools protocol (a pipe, standard library only). The test passes only
when the rendered page names both runs and shows each run's own val_macro_f1 as the UI formats it.

Skipped when no Chromium is installed (``apt-get install chromium``); it installs nothing itself.
Every request goes to 127.0.0.1.

Also a script, to refresh the screenshot in the docs::

    python tests/test_ui_browser.py --screenshot docs/compare-runs.png
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
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

from training.train import HEADLINE  # noqa: E402  (val_macro_f1: the metric read off the page)

from browser import DevTools, find_chromium  # noqa: E402  (tests/ is on sys.path)
from helpers import TOY_SPLIT, free_port, wait_until_up, write_config, write_toy_data  # noqa: E402

SERVER_START_TIMEOUT_S = 60
RUN_NAMES = ("tfidf_linear C=0.1", "tfidf_linear C=2")
OVERRIDES = (["model.C=0.1"], ["model.C=2"])


def compare_runs_url(port: int, run_ids: list[str], experiment_ids: list[str]) -> str:
    """MLflow's own compare link (``Routes.getCompareRunPageRoute``): a hash route of JSON lists."""
    query = urllib.parse.urlencode({"runs": json.dumps(run_ids), "experiments": json.dumps(experiment_ids)},
                                   quote_via=urllib.parse.quote)
    return f"http://127.0.0.1:{port}/#/compare-runs?{query}"


# The compare page lists metrics in a react-virtualized grid pair: a column of metric names (links
# to each metric's chart) and a scrolling grid of values, one column per run; rows exist in the
# DOM only once scrolled into view. This scrolls until the row for a metric is shown and returns
# its cells as displayed, left to right (one per run), or null when there is no such row.
METRIC_ROW_JS = """
(async (key) => {
  const frames = () => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)));
  const nameLink = () => [...document.querySelectorAll('a[href*="#/metric?"]')]
    .find(a => a.textContent.trim() === key);
  const values = [...document.querySelectorAll('.ReactVirtualized__Grid')]
    .find(g => g.scrollHeight > g.clientHeight && getComputedStyle(g).overflowY !== 'hidden');
  if (!values) return null;
  for (let top = 0; !nameLink() && top <= values.scrollHeight; top += values.clientHeight / 2) {
    values.scrollTop = top;
    await frames();
  }
  if (!nameLink()) return null;
  const row = nameLink().closest('[style*="top"]');
  values.scrollTop = Math.max(0, row.offsetTop - 2 * row.offsetHeight);
  await frames();
  // The name column follows the values' scroll one scroll event late: nudge by a pixel until the
  // two line up (only the picture depends on it; cells are matched by their row offset below).
  const names = nameLink().closest('.ReactVirtualized__Grid');
  for (let i = 0; i < 10 && Math.abs(names.scrollTop - values.scrollTop) > 1; i++) {
    values.scrollTop += i % 2 ? 1 : -1;
    await frames();
  }
  const rowTop = nameLink().closest('[style*="top"]').style.top;
  return [...values.querySelectorAll('[style*="top"]')]
    .filter(cell => cell.style.top === rowTop)
    .sort((a, b) => parseFloat(a.style.left) - parseFloat(b.style.left))
    .map(cell => cell.innerText.trim());
})
"""

# For the screenshot: fold away the plots and the parameter table and close the assistant panel,
# so one 1400x900 screen holds the run names and the metric table. Best effort: the assertions
# never depend on it.
TIDY_FOR_SCREENSHOT_JS = """
(async () => {
  for (const header of document.querySelectorAll('[role="button"][aria-expanded="true"]')) {
    if (['Visualizations', 'Parameters'].includes(header.textContent.trim())) header.click();
  }
  document.querySelector('[data-component-id="mlflow.assistant.chat_panel.close"]')?.click();
  await new Promise(done => setTimeout(done, 300));
  window.scrollTo(0, 0);
  return true;
})()
"""


@dataclass
class PageView:
    text: str  # the page's visible text (document.body.innerText)
    metric_row: list[str]  # the HEADLINE row of the metric table, one cell per run, as displayed
    requested: list[str]  # every URL the page requested


def view_compare_page(binary: str, url: str, run_names: list[str], screenshot_path: Path | None = None) -> PageView:
    """Open the compare page, wait until both runs are rendered, bring the headline metric's row
    into view, optionally take a screenshot, and return what the page shows."""
    with DevTools(binary) as browser:
        browser.call("Page.navigate", url=url)
        names = json.dumps(run_names)
        browser.wait_for(f"{names}.every(n => document.body && document.body.innerText.includes(n))",
                         "the names of both runs")
        row = browser.wait_for(f"{METRIC_ROW_JS}({json.dumps(HEADLINE)})", f"the {HEADLINE} row of the metric table")
        text = browser.evaluate("document.body.innerText")
        if screenshot_path is not None:
            browser.evaluate(TIDY_FOR_SCREENSHOT_JS)
            browser.evaluate(f"{METRIC_ROW_JS}({json.dumps(HEADLINE)})")
            browser.screenshot(screenshot_path)
        requested = list(browser.requested)
    return PageView(text=text, metric_row=row, requested=requested)


def first_view(binary: str, url: str, run_names: list[str]) -> str:
    """The visible text of ``url`` once every run name is on the page (what a user first sees)."""
    with DevTools(binary) as browser:
        browser.call("Page.navigate", url=url)
        names = json.dumps(run_names)
        browser.wait_for(f"{names}.every(n => document.body && document.body.innerText.includes(n))",
                         "the names of the runs")
        return browser.evaluate("document.body.innerText")


def format_metric(value: float) -> str:
    """A metric as the MLflow UI prints it (``Utils.formatMetric``: ``Math.round`` to 3 decimals
    below 10, 2 below 100, else 1; JavaScript's shortest number text)."""
    def js_round(x: float, digits: int) -> str:
        text = repr(math.floor(x * 10**digits + 0.5) / 10**digits)
        return text.removesuffix(".0")

    if value == 0:
        return "0"
    if abs(value) < 1e-3:
        mantissa, exponent = f"{value:.3e}".split("e")
        return f"{mantissa}e{int(exponent):+d}"
    if abs(value) < 10:
        return js_round(value, 3)
    if abs(value) < 100:
        return js_round(value, 2)
    return js_round(value, 1)


@dataclass
class ComparedRuns:
    url: str
    runs_url: str  # the link `readout ui` prints
    run_names: list[str]
    run_ids: list[str]
    metrics: list[dict[str, float]]


def train_two_runs(folder: Path):
    from training.config import load_config
    from training.train import train

    data = write_toy_data(folder / "readouts.jsonl")
    config_path = write_config(folder / "config.yaml", data, f"sqlite:///{folder / 'mlflow.db'}", data=TOY_SPLIT)
    return [train(load_config(config_path, overrides), run_name=name) for name, overrides in zip(RUN_NAMES, OVERRIDES)]


@contextmanager
def compared_runs(folder: Path) -> Iterator[ComparedRuns]:
    """Two trained runs and the UI serving them; the server is stopped on the way out."""
    from training import ui

    results = train_two_runs(folder)
    port = free_port()
    process = ui.start(results[0].tracking_uri, port)
    try:
        wait_until_up(process, port)
        runs = [r.best for r in results]
        yield ComparedRuns(url=compare_runs_url(port, [r.run_id for r in runs], [results[0].experiment_id]),
                           runs_url=ui.runs_url(results[0].tracking_uri, port, "readout-tagger"),
                           run_names=[r.run_name for r in runs], run_ids=[r.run_id for r in runs],
                           metrics=[r.metrics for r in runs])
    finally:
        ui.stop(process)


@pytest.mark.slow
def test_compare_runs_page_shows_both_runs_and_their_metrics(chromium, tmp_path):
    shot = tmp_path / "compare-runs.png"
    with compared_runs(tmp_path) as compared:
        page = view_compare_page(chromium, compared.url, compared.run_names, screenshot_path=shot)
        landing = first_view(chromium, compared.runs_url, compared.run_names)

    # The link `readout ui` prints opens on the runs table, not on MLflow 3's GenAI overview.
    assert "/runs" in compared.runs_url
    assert all(name in landing for name in compared.run_names)
    assert "Model registry" in landing  # the model-training sidebar ...
    assert not {"Judges", "Prompts", "Detect issues"} & set(landing.splitlines())  # ... not the GenAI one
    assert compared.run_names == list(RUN_NAMES)
    assert "Comparing 2 Runs" in page.text
    for name, run_id in zip(compared.run_names, compared.run_ids):
        assert name in page.text and run_id in page.text
    # Each run's own validation macro-F1, in the run's column, formatted as the UI formats it.
    shown = [format_metric(metrics[HEADLINE]) for metrics in compared.metrics]
    assert shown[0] != shown[1], "the two C values should score differently on this data"
    assert page.metric_row == shown
    # The UI works offline: every request the page made went to the server on 127.0.0.1.
    origin = compared.url.split("/#")[0]
    elsewhere = [url for url in page.requested if not url.startswith((origin + "/", "data:", "blob:"))]
    assert page.requested and not elsewhere, elsewhere
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Screenshot MLflow's compare-runs page for two fresh runs.")
    parser.add_argument("--screenshot", type=Path, default=ROOT / "docs" / "compare-runs.png", metavar="PATH")
    args = parser.parse_args(argv)
    binary = find_chromium()
    if binary is None:
        print("Chromium not installed: apt-get install chromium", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="readout-ui-") as folder, compared_runs(Path(folder)) as compared:
        page = view_compare_page(binary, compared.url, compared.run_names, screenshot_path=args.screenshot)
    print(f"wrote {args.screenshot} ({HEADLINE}: {dict(zip(compared.run_names, page.metric_row))})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
