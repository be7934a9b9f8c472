"""The HTML report at scale, and its screenshots for the README (run by hand):

    python bench/bench_report.py

- Builds a JSONL archive of 2,000 readouts from the corpus (its readouts cycled, each with a date
  and its pair's countries), runs `readout report` on it with a TF-IDF model (evidence on), and
  records the command's time and the file's size.
- Opens it in headless Chromium from disk: time until the page has drawn everything (its own
  `performance.now()` at the end of its script), and the time an area filter and a click on a
  readout take to redraw.
- Writes the report of the shipped example archive (`data/examples/archive/`) and screenshots of it
  to docs/report.png (desktop) and docs/report-phone.png (390 px wide).

Writes bench/results/report.json and bench/results/report.md. Needs Chromium.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
from bench.bench_batch import READOUT, tfidf_model  # noqa: E402
from browser import DevTools, find_chromium  # noqa: E402  (the browser tests' harness)

OUT = ROOT / "bench" / "out" / "report"
RESULTS = ROOT / "bench" / "results"
DOCS = ROOT / "docs"
READOUTS = 2_000
READY = "document.body && document.body.dataset.ready === '1'"
FILTER_JS = """(() => { const t = performance.now(); const a = document.getElementById('area'); a.value = 'energy';
  a.dispatchEvent(new Event('input')); return performance.now() - t; })()"""
CLICK_JS = """(() => { const t = performance.now(); document.querySelectorAll('#rows tr')[3].click();
  return performance.now() - t; })()"""


def big_archive(path: Path) -> int:
    readouts: dict[str, dict] = {}
    for line in (ROOT / "data" / "readouts.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        doc = readouts.setdefault(row["doc_id"], {"pair": row.get("pair", ""), "sentences": []})
        doc["sentences"].append(row["text"])
    docs = list(readouts.items())
    start = dt.date(2019, 1, 1)
    with path.open("w", encoding="utf-8") as out:
        for k in range(READOUTS):
            doc_id, doc = docs[k % len(docs)]
            countries = [c.strip() for c in doc["pair"].replace("–", "-").split("-") if c.strip()] or ["unknown"]
            out.write(json.dumps({"doc_id": f"{doc_id}-{k}", "text": " ".join(doc["sentences"]),
                                  "date": (start + dt.timedelta(days=(k * 7) % 2500)).isoformat(),
                                  "countries": countries, "title": f"{doc['pair']} readout {k}"},
                                 ensure_ascii=False) + "\n")
    return READOUTS


def report(inputs: list[str], out: Path, model: str, uri: str) -> float:
    start = time.perf_counter()
    subprocess.run([READOUT, "report", *inputs, "--out", str(out), "--model", model, "--tracking-uri", uri, "-q"],
                   check=True, capture_output=True, cwd=ROOT)  # from the root: the page names files as a user would
    return time.perf_counter() - start


def in_browser(binary: str, path: Path) -> dict:
    loads, filters, clicks = [], [], []
    for _ in range(3):
        with DevTools(binary, timeout=120) as browser:
            browser.call("Page.enable")
            started = time.perf_counter()
            browser.call("Page.navigate", url=path.resolve().as_uri())
            browser.wait_for(READY, "the report", timeout=120)
            loads.append((time.perf_counter() - started, int(browser.evaluate("document.body.dataset.readyMs"))))
            filters.append(browser.evaluate(FILTER_JS))
            clicks.append(browser.evaluate(CLICK_JS))
    return {"load_s": round(statistics.median(l for l, _ in loads), 2),
            "drawn_ms": statistics.median(ms for _, ms in loads),
            "filter_ms": round(statistics.median(filters), 1), "click_ms": round(statistics.median(clicks), 1)}


def screenshots(binary: str, path: Path) -> None:
    with DevTools(binary) as browser:
        browser.call("Page.enable")
        browser.call("Page.navigate", url=path.resolve().as_uri())
        browser.wait_for(READY, "the report")
        browser.screenshot(DOCS / "report.png")
        browser.evaluate("document.querySelectorAll('#rows tr')[2].click()")
        time.sleep(0.8)
        browser.screenshot(DOCS / "report-readout.png")
        browser.viewport(390, 844, mobile=True)
        browser.call("Page.navigate", url=path.resolve().as_uri())
        browser.wait_for(READY, "the report")
        browser.screenshot(DOCS / "report-phone.png")


def main() -> int:
    binary = find_chromium()
    if binary is None:
        print("Chromium not installed: apt-get install chromium", file=sys.stderr)
        return 1
    OUT.mkdir(parents=True, exist_ok=True)
    model, uri = tfidf_model()
    archive = OUT / "archive-2000.jsonl"
    big_archive(archive)
    big = OUT / "report-2000.html"
    seconds = report([str(archive)], big, model, uri)
    sentences = sum(len(d["s"]) for d in json.loads(
        big.read_text(encoding="utf-8").split('type="application/json">', 1)[1].split("</script>", 1)[0])["docs"])
    browser = in_browser(binary, big)
    example = OUT / "example.html"
    report(["data/examples/archive"], example, model, uri)
    screenshots(binary, example)
    result = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
              "readouts": READOUTS, "sentences": sentences, "report_s": round(seconds, 1),
              "bytes": big.stat().st_size, **browser, "example_bytes": example.stat().st_size}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "report.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = ["# The HTML report at scale", "",
             f"Machine: {result['machine']}. `python bench/bench_report.py`, TF-IDF model, evidence on; "
             "browser figures are headless Chromium, median of 3.", "",
             "| readouts | sentences | `readout report` | file size | opened to drawn | page script | area filter | "
             "open a readout |", "|---:|---:|---:|---:|---:|---:|---:|---:|",
             f"| {READOUTS:,} | {sentences:,} | {result['report_s']:.1f} s | {result['bytes'] / 1e6:.1f} MB | "
             f"{result['load_s']:.2f} s | {result['drawn_ms']} ms | {result['filter_ms']} ms | {result['click_ms']} ms |",
             "", f"The example archive's report (`data/examples/archive/`, 24 readouts) is "
             f"{result['example_bytes'] / 1e3:.0f} kB. The table shows 25 readouts a page and one readout is drawn at "
             "a time, so the page stays responsive however large the archive; its size grows with the sentences "
             "(about 250 bytes each with evidence)."]
    (RESULTS / "report.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
