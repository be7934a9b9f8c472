"""Speed of the shipped configs, measured in one run on this machine (run by hand):

    python bench/bench_speed.py                                   # configs/fast.yaml and configs/tfidf.yaml
    python bench/bench_speed.py configs/default.yaml --runs 1 --sentences 2000   # any config, merged in
    python bench/bench_speed.py configs/default.yaml --model FOLDER --sentences 2000  # a saved model: no training

Per config, into a scratch MLflow store (bench/out/speed/, gitignored):
- `readout train --config ...` wall time, the whole command, on the config's own data files
  (median of --runs);
- in-process tagging throughput of the registered model (`Tagger.predict` on --sentences corpus
  sentences (20,000), each tagged alone; and as readouts, with context, when the model uses it;
  median of 3 passes, each from a freshly loaded model);
- a cold `readout tag "one sentence"` process, printing its table and with `--format json`
  (median of 9 each, after one unmeasured run).
Writes bench/results/speed.json (merged by config) and bench/results/speed.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "bench" / "out" / "speed"
RESULTS = ROOT / "bench" / "results"
READOUT = str(Path(sys.executable).parent / "readout")
SENTENCES = 20_000
COLD_RUNS = 9  # cold starts per output format (median)
PASSES = 3  # in-process tagging passes (median)
ONE = "The ministers agreed to expand liquefied natural gas deliveries and to cut tariffs on machinery."


def timed(command: list[str], env: dict) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=OUT, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def bench(config: str, runs: int, sentences: int = SENTENCES, model: str | None = None) -> dict:
    from training.config import DataConfig, load_config
    from training.data import read_rows
    from training.references import load_tagger

    name = Path(config).stem
    store = OUT / name
    shutil.rmtree(store, ignore_errors=True)
    store.mkdir(parents=True)
    uri = f"sqlite:///{store / 'mlflow.db'}"
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri}
    data = str(ROOT / "data" / "readouts.jsonl")
    # The config's own data files (the fast config's transfer set too), from the scratch folder.
    files = "[" + ", ".join(str(ROOT / path) for path in load_config(ROOT / config).data.paths) + "]"
    train_s = [] if model else [timed([READOUT, "train", "-c", str(ROOT / config), "--set", f"data.path={files}",
                                       "--set", "tracking.promote=always"], env) for _ in range(runs)]
    reference = model or "models:/readout-tagger@champion"
    rows = read_rows(DataConfig(path=Path(data)))
    texts = [r["text"] for r in rows][:sentences]
    docs = [r["group"] for r in rows][:sentences]
    alone, as_readouts = [], []
    for _ in range(PASSES):  # each from a freshly loaded model: what it meets first counts every time
        tagger = load_tagger(reference, uri)
        tagger.predict(texts[:200])  # warm
        start = time.perf_counter()
        tagger.predict(texts)
        alone.append(len(texts) / (time.perf_counter() - start))
        start = time.perf_counter()
        tagger.predict(texts, docs)
        as_readouts.append(len(texts) / (time.perf_counter() - start))
    alone, as_readouts = statistics.median(alone), statistics.median(as_readouts)
    # As on a user's machine, Python caches the compiled modules (a shell with
    # PYTHONDONTWRITEBYTECODE set would recompile the project's own on every run); the first,
    # unmeasured run writes that cache. The default output (a table) and JSON, alternating.
    cold_env = {k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"}
    timed([READOUT, "tag", ONE, "--model", reference], cold_env)
    cold, cold_json = [], []
    for _ in range(COLD_RUNS):
        cold.append(timed([READOUT, "tag", ONE, "--model", reference], cold_env))
        cold_json.append(timed([READOUT, "tag", ONE, "--format", "json", "--model", reference], cold_env))
    return {"config": config, "family": tagger.classifier.name, "context": tagger.context.to_dict(),
            "train_wall_s_median": round(statistics.median(train_s), 1) if train_s else None,
            "train_wall_s": [round(t, 1) for t in train_s], "model": model,
            "sentences_per_s_alone": round(alone), "sentences_per_s_as_readouts": round(as_readouts),
            "cold_readout_tag_s_median": round(statistics.median(cold), 2),
            "cold_readout_tag_json_s_median": round(statistics.median(cold_json), 2), "tagged": len(texts)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("configs", nargs="*", default=["configs/fast.yaml", "configs/tfidf.yaml"])
    parser.add_argument("--runs", type=int, default=3, help="trainings per config (median)")
    parser.add_argument("--sentences", type=int, default=SENTENCES, help="sentences tagged in process")
    parser.add_argument("--model", help="a saved model folder to time instead of training one (train time left out)")
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    results_file = RESULTS / "speed.json"
    results = json.loads(results_file.read_text()) if results_file.is_file() else {"rows": {}}
    for config in args.configs:
        results["rows"][config] = bench(config, args.runs, args.sentences, args.model)
        results["machine"] = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
        results["date"] = time.strftime("%Y-%m-%d")
        results_file.write_text(json.dumps(results, indent=2) + "\n")
        print(json.dumps(results["rows"][config]), flush=True)
    print(write_markdown(results))


def write_markdown(results: dict) -> str:
    lines = ["# Speed of the shipped configs", "",
             f"Measured {results['date']} on {results['machine']} with `python bench/bench_speed.py` "
             "(train: the whole `readout train` command; tagging: `Tagger.predict` in one process, "
             "corpus sentences, median of 3 passes from a freshly loaded model; cold: a fresh `readout tag \"one sentence\"` process printing its table, "
             "and with `--format json`, median of 9 each).", "",
             "| config | family | context | train | sentences tagged | tag/s (alone) | tag/s (as readouts) "
             "| cold `readout tag` | cold, `--format json` |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|"]
    for config, row in results["rows"].items():
        ctx = row["context"]
        readout = "+readout" if ctx.get("readout") else ""
        lines.append(f"| `{config}` | {row['family']} | {ctx['before']}+{ctx['after']}{readout} | "
                     f"{'—' if row.get('train_wall_s_median') is None else str(row['train_wall_s_median']) + ' s'} | "
                     f"{row['tagged']:,} "
                     f"| {row['sentences_per_s_alone']:,} | {row['sentences_per_s_as_readouts']:,} | "
                     f"{row['cold_readout_tag_s_median']} s | {_seconds(row.get('cold_readout_tag_json_s_median'))} |")
    lines += ["", "The texts tagged are the corpus's sentences, so a model that keeps per-word scores "
              "(`fast_linear`: the training words' ship with the model) finds most words known; a word "
              "first seen costs it about 0.1 ms, once (a batch's new words are scored together). Runs on this "
              "machine vary by about 30 %."]
    saved = [f"`{config}`" for config, row in results["rows"].items() if row.get("model")]
    if saved:
        lines += ["", f"{', '.join(saved)}: timed from a saved model folder (`--model`), not trained here; "
                  "its fit time is in bench/results/quality.md."]
    (RESULTS / "speed.md").write_text("\n".join(lines) + "\n")
    return "\n".join(lines)


def _seconds(value) -> str:
    return "—" if value is None else f"{value} s"


if __name__ == "__main__":
    main()
