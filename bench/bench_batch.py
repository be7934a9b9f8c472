"""Batch tagging and evidence, measured on this machine (run by hand):

    python bench/bench_batch.py            # tfidf (trained here if bench/out has none)
    python bench/bench_batch.py --model models:/readout-tagger@champion --tracking-uri sqlite:///mlflow.db \
        --sentences 2000 --runs 1         # another model (encoders are slow: fewer sentences), merged in

- **Batch rate**: a folder of 10,000 corpus sentences (about 870 readouts, one text file each),
  tagged by `readout tag --file FOLDER --out tags.jsonl` in a pseudo-terminal, so the progress bar
  is drawn; its own summary line gives the rate from the first file read to the last row written.
  Beside it, the in-process rate: `Tagger.predict` on the same sentences as readouts, model loaded.
  The done-when of issue 11 is the first at >= 80 % of the second. Also the whole command's wall time
  (start-up included).
- **Evidence cost**: `Tagger.predict` alone and with `Tagger.explain` on 1,000 sentences as
  readouts, sentences/s, for each model.

Writes bench/results/batch.json and bench/results/batch.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
from helpers import run_in_terminal  # noqa: E402  (the tests' pseudo-terminal runner)

OUT = ROOT / "bench" / "out" / "batch"
RESULTS = ROOT / "bench" / "results"
READOUT = str(Path(sys.executable).parent / "readout")
SENTENCES = 10_000
EXPLAINED = 1_000
RUNS = 3


def corpus_readouts(limit: int) -> list[tuple[str, list[str]]]:
    """Whole corpus readouts, in order, until ``limit`` sentences."""
    readouts: dict[str, list[str]] = {}
    total = 0
    for line in (ROOT / "data" / "readouts.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row["doc_id"] not in readouts and total >= limit:
            break
        readouts.setdefault(row["doc_id"], []).append(row["text"])
        total += 1
    return list(readouts.items())


def write_folder(readouts, folder: Path) -> int:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for doc, sentences in readouts:
        (folder / f"{doc}.txt").write_text("\n\n".join(sentences) + "\n", encoding="utf-8")
    return sum(len(s) for _, s in readouts)


def in_a_terminal(command: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    code, printed = run_in_terminal(command)
    if code:
        raise RuntimeError(printed[-2000:])
    return time.perf_counter() - start, printed


def tfidf_model() -> tuple[str, str | None]:
    store = ROOT / "bench" / "out" / "speed" / "tfidf"
    uri = f"sqlite:///{store / 'mlflow.db'}"
    if not (store / "mlflow.db").is_file():
        store.mkdir(parents=True, exist_ok=True)
        subprocess.run([READOUT, "train", "-c", str(ROOT / "configs" / "tfidf.yaml"), "--set",
                        f"data.path={ROOT / 'data' / 'readouts.jsonl'}", "--tracking-uri", uri], check=True,
                       capture_output=True, cwd=store)
    return "models:/readout-tagger@champion", uri


def bench(model: str, uri: str | None, folder: Path, readouts, runs: int) -> dict:
    from training.references import load_tagger

    tagger = load_tagger(model, uri)
    texts = [s for _, sentences in readouts for s in sentences]
    docs = [doc for doc, sentences in readouts for _ in sentences]
    command = [READOUT, "tag", "--model", model, "--file", str(folder), "--out", str(OUT / "tags.jsonl")]
    if uri:
        command += ["--tracking-uri", uri]
    # In pairs, one right after the other, so both see the same load on a shared machine.
    in_process, warm, batch, walls = [], [], [], []
    for _ in range(runs):
        fresh = load_tagger(model, uri)  # freshly loaded, as each command has it (TF-IDF caches words)
        start = time.perf_counter()
        fresh.predict(texts, docs)
        in_process.append(len(texts) / (time.perf_counter() - start))
        start = time.perf_counter()
        fresh.predict(texts, docs)
        warm.append(len(texts) / (time.perf_counter() - start))
        wall, printed = in_a_terminal(command)
        found = re.search(r"tagged ([\d,]+) sentences in ([\d,]+) readouts in [\d.]+ s \(([\d,]+) sentences/s\)",
                          printed)
        if not found or "sentences/s" not in printed.split("tagged")[0]:
            raise RuntimeError(f"no progress bar or summary in: {printed[-1000:]}")
        batch.append(float(found.group(3).replace(",", "")))
        walls.append(wall)
    shares = [b / i for b, i in zip(batch, in_process)]
    few, few_docs = texts[:EXPLAINED], docs[:EXPLAINED]
    start = time.perf_counter()
    predictions = tagger.predict(few, few_docs)
    plain = time.perf_counter() - start
    start = time.perf_counter()
    tagger.explain(predictions, few_docs)
    explain = time.perf_counter() - start
    labelled = sum(1 for p in predictions if p.labels)
    return {
        "model": model, "family": tagger.classifier.name, "context": tagger.context.to_dict(),
        "sentences": len(texts), "readouts": len(readouts), "runs": runs,
        "in_process_per_s": round(statistics.median(in_process)),
        "in_process_warm_per_s": round(statistics.median(warm)),
        "batch_per_s": round(statistics.median(batch)),
        "batch_share": round(statistics.median(shares), 3),  # median of the pairs' ratios
        "batch_wall_s": round(statistics.median(walls), 2),
        "explain": {"sentences": EXPLAINED, "with_labels": labelled, "tag_per_s": round(EXPLAINED / plain),
                    "tag_and_explain_per_s": round(EXPLAINED / (plain + explain), 1),
                    "explain_s": round(explain, 2)},
    }


def write(new: list[dict]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "batch.json"
    kept = json.loads(path.read_text())["results"] if path.is_file() else []
    results = [r for r in kept if r["family"] not in {n["family"] for n in new}] + new
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    (RESULTS / "batch.json").write_text(json.dumps({"machine": machine, "results": results}, indent=2) + "\n")
    lines = ["# Batch tagging and evidence", "",
             f"Machine: {machine}, shared with other work while measured. `python bench/bench_batch.py`; "
             "median of the runs given per row; each run tags in process, then runs the command, so both see the "
             "same load, and *batch / in process* is the median of those pairs' ratios.", "",
             "**Batch rate**: `readout tag --file FOLDER --out tags.jsonl` on a folder of corpus readouts (one text "
             "file each), in a pseudo-terminal so the progress bar is drawn; the rate is the command's own summary "
             "(first file read to last row written). **In process**: `Tagger.predict` on the same sentences as "
             "readouts, on a freshly loaded model as the command has (*warm*: the same model a second time; TF-IDF "
             "caches each word's n-grams). **Wall**: the whole command, start-up included.", "",
             "| model | family | sentences | readouts | runs | in process /s | warm /s | batch with progress /s "
             "| batch / in process | wall |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        lines.append(f"| `{r['model']}` | {r['family']} | {r['sentences']:,} | {r['readouts']:,} | {r['runs']} | "
                     f"{r['in_process_per_s']:,} | {r['in_process_warm_per_s']:,} | {r['batch_per_s']:,} | {100 * r['batch_share']:.0f} % | "
                     f"{r['batch_wall_s']:.1f} s |")
    lines += ["", f"**Evidence cost** (`--explain`): {EXPLAINED:,} sentences as readouts, tagged, and tagged "
              "then explained (evidence is computed for sentences with a label only).", "",
              "| family | sentences with a label | tag /s | tag + explain /s | explain time |", "|---|---:|---:|---:|---:|"]
    for r in results:
        e = r["explain"]
        lines.append(f"| {r['family']} | {e['with_labels']} | {e['tag_per_s']:,} | {e['tag_and_explain_per_s']:,} | "
                     f"{e['explain_s']:.1f} s |")
    (RESULTS / "batch.md").write_text("\n".join(lines) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", default=[], help="models to measure instead of tfidf "
                        "(with --tracking-uri)")
    parser.add_argument("--tracking-uri", default=None)
    parser.add_argument("--sentences", type=int, default=SENTENCES)
    parser.add_argument("--runs", type=int, default=RUNS)
    args = parser.parse_args()
    readouts = corpus_readouts(args.sentences)
    folder = OUT / "archive"
    write_folder(readouts, folder)
    models = [(m, args.tracking_uri) for m in args.model] or [tfidf_model()]
    results = [bench(model, uri, folder, readouts, args.runs) for model, uri in models]
    write(results)
    print((RESULTS / "batch.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
