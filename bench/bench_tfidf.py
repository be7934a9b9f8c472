"""Speed and quality of the default config (run by hand; writes bench/results/tfidf.md + .json).

    python bench/bench_tfidf.py

Measures, on this machine:
- `readout train --config configs/tfidf.yaml` wall time (median of 3 runs, full corpus);
- in-process tagging throughput of the registered champion;
- a cold `readout tag "one sentence"` process, side by side with the plain MLflow way
  (`mlflow.pyfunc.load_model("models:/readout-tagger@champion").predict(...)` in a fresh process);
- macro-F1 on the fixed test split and on the 31 real labelled sentences in ../shared (never trained on).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out" / "tfidf"
RESULTS = ROOT / "bench" / "results"
SEEDS = ROOT.parent / "shared" / "seeds-labelled.jsonl"
READOUT = str(Path(sys.executable).parent / "readout")


def timed(command: list[str], env: dict) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=OUT, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    import shutil

    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    uri = f"sqlite:///{OUT / 'mlflow.db'}"
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri}
    config = str(ROOT / "configs" / "tfidf.yaml")
    data = str(ROOT / "data" / "readouts.jsonl")

    train_times = [timed([READOUT, "train", "-c", config, "--set", f"data.path={data}"], env) for _ in range(3)]

    from training.data import binarize, read_rows
    from training.config import DataConfig
    from training.evaluate import metrics
    from training.references import load_tagger

    tagger = load_tagger("models:/readout-tagger@champion", uri)
    rows = read_rows(DataConfig(path=Path(data)))
    test = [r for r in rows if r["split"] == "test"]
    test_f1 = metrics(binarize([r["labels"] for r in test], tagger.labels),
                      tagger.decide(tagger.predict_proba([r["text"] for r in test])), tagger.labels, "t")
    seeds_f1 = None
    if SEEDS.is_file():
        gold = [json.loads(line) for line in SEEDS.read_text().splitlines()]
        seeds_f1 = metrics(binarize([g["labels"] for g in gold], tagger.labels),
                           tagger.decide(tagger.predict_proba([g["text"] for g in gold])), tagger.labels, "s")

    sentences = [r["text"] for r in rows] * 4
    tagger.predict(sentences[:100])  # warm
    start = time.perf_counter()
    tagger.predict(sentences)
    throughput = len(sentences) / (time.perf_counter() - start)

    cold_readout = [timed([READOUT, "tag", "The two sides agreed to expand trade.", "--format", "json"], env)
                    for _ in range(5)]
    plain = ("import mlflow, pandas as pd; mlflow.set_tracking_uri(%r); "
             "m = mlflow.pyfunc.load_model('models:/readout-tagger@champion'); "
             "print(m.predict(pd.DataFrame({'text': ['The two sides agreed to expand trade.']})))" % uri)
    cold_mlflow = [timed([sys.executable, "-c", plain], env) for _ in range(3)]

    result = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "date": time.strftime("%Y-%m-%d"),
        "train_wall_s_median": round(statistics.median(train_times), 2),
        "train_wall_s": [round(t, 2) for t in train_times],
        "throughput_sentences_per_s": round(throughput),
        "cold_readout_tag_s_median": round(statistics.median(cold_readout), 2),
        "cold_mlflow_pyfunc_s_median": round(statistics.median(cold_mlflow), 2),
        "speedup_vs_mlflow": round(statistics.median(cold_mlflow) / statistics.median(cold_readout), 1),
        "test_macro_f1": test_f1["t_macro_f1"],
        "test_micro_f1": test_f1["t_micro_f1"],
        "seeds_macro_f1": seeds_f1["s_macro_f1"] if seeds_f1 else None,
        "seeds_micro_f1": seeds_f1["s_micro_f1"] if seeds_f1 else None,
        "seeds_per_label_f1": {l: seeds_f1[f"s_f1_{l}"] for l in tagger.labels} if seeds_f1 else None,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "tfidf.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = ["# TF-IDF config (tfidf_linear): speed and quality", "",
             f"Measured {result['date']} on {result['machine']} with `python bench/bench_tfidf.py`.", "",
             "| measure | value | goal |", "|---|---:|---|",
             f"| `readout train --config configs/tfidf.yaml` (median of 3) | {result['train_wall_s_median']} s | < 10 s |",
             f"| in-process tagging throughput | {result['throughput_sentences_per_s']:,} sentences/s | ≥ 20,000 |",
             f"| cold `readout tag \"one sentence\"` (median of 5) | {result['cold_readout_tag_s_median']} s | < 2 s |",
             f"| cold plain MLflow `pyfunc.load_model(...).predict` (median of 3) | {result['cold_mlflow_pyfunc_s_median']} s | |",
             f"| speed-up of `readout tag` over plain MLflow | {result['speedup_vs_mlflow']}× | ≥ 4× |",
             f"| macro-F1, fixed test split (472 sentences) | {result['test_macro_f1']:.3f} | |",
             f"| macro-F1, 31 real seed sentences | {result['seeds_macro_f1']:.3f} | |" if seeds_f1 else "",
             ""]
    (RESULTS / "tfidf.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
