"""Benchmark the model families: quality, training time and tagging speed, one row per config.

Run by hand from the repository root (the whole run takes ~8 minutes on a 2-core CPU, most of it
fine-tuning):

    python bench/bench_encoders.py                          # the three configs below
    python bench/bench_encoders.py configs/default.yaml     # one row (the fine-tuned default), merged in

Per config: ``training.train.train`` into a scratch MLflow store (bench/out/encoders/, gitignored, never
./mlflow.db), then on the registered model, with its stored thresholds:
- macro-F1 on the corpus's fixed test split, and on the 31 real sentences of
  ../shared/seeds-labelled.jsonl (never trained on; few positives, so a coarse check);
- training wall time (the whole ``train`` call: fit, evaluation, plots, MLflow logging) and fit alone;
- in-process tagging throughput (``Tagger.predict_proba`` on ~2,000 corpus sentences, after a warm-up);
- cold ``readout tag "one sentence"`` process time against the model folder, median of 3 (after one
  unmeasured run, so the file cache is warm).
Encoder families also get an ``int8`` row: the same model with its ONNX graph dynamically quantised
(onnxruntime.quantization), evaluated with the same thresholds; it is measured, not shipped.

Writes bench/results/encoders.json (merged by config) and bench/results/encoders.md.
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

CONFIGS = ("configs/tfidf.yaml", "configs/embedding.yaml", "configs/default.yaml")  # default: finetune
SEEDS = ROOT.parent / "shared" / "seeds-labelled.jsonl"
OUT = ROOT / "bench" / "out" / "encoders"
RESULTS = ROOT / "bench" / "results"
READOUT = Path(sys.executable).parent / "readout"
THROUGHPUT_SENTENCES = 2000
ONE_SENTENCE = "The ministers agreed to expand liquefied natural gas deliveries and to cut tariffs on machinery."


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("configs", nargs="*", default=list(CONFIGS))
    parser.add_argument("--no-int8", action="store_true", help="skip the int8-quantised variants")
    args = parser.parse_args()
    os.chdir(ROOT)  # configs name data/readouts.jsonl relative to the repository root
    OUT.mkdir(parents=True, exist_ok=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    results_file = RESULTS / "encoders.json"
    results = json.loads(results_file.read_text()) if results_file.is_file() else {"rows": {}}
    for config_path in args.configs:
        for row in bench_config(config_path, int8=not args.no_int8):
            results["rows"][row["name"]] = row
            results["environment"] = environment()
            results_file.write_text(json.dumps(results, indent=2) + "\n")
            (RESULTS / "encoders.md").write_text(markdown(results))
            print(json.dumps(row), flush=True)


def bench_config(config_path: str, int8: bool) -> list[dict]:
    from models import FAMILIES
    from training.config import load_config
    from training.references import resolve_model
    from training.train import train

    uri = f"sqlite:///{OUT / 'mlflow.db'}"
    config = load_config(config_path, [f"tracking.uri={uri}", "tracking.promote=never"])
    family = FAMILIES[config.family]
    fit_seconds = []
    original_fit = family.fit

    def timed_fit(self, *args, **kwargs):
        start = time.perf_counter()
        try:
            return original_fit(self, *args, **kwargs)
        finally:
            fit_seconds.append(time.perf_counter() - start)

    family.fit = timed_fit
    try:
        start = time.perf_counter()
        result = train(config, run_name=f"bench {Path(config_path).stem}", progress=lambda m: print(f"· {m}", flush=True))
        train_seconds = time.perf_counter() - start
    finally:
        family.fit = original_fit
    folder = resolve_model(f"models:/{result.registered_model}/{result.version}", uri)
    # A copy outside the store, so the int8 variant can sit beside it.
    local = OUT / "models" / Path(config_path).stem
    shutil.rmtree(local, ignore_errors=True)
    shutil.copytree(folder, local)
    row = {"name": Path(config_path).stem, "config": config_path, "family": config.family,
           "run_id": result.best.run_id, "version": result.version,
           "pipeline_test_macro_f1": result.best.metrics["test_macro_f1"],
           "val_macro_f1": result.best.metrics["val_macro_f1"],
           "train_seconds": round(train_seconds, 1), "fit_seconds": round(sum(fit_seconds), 1),
           **measure(local, config)}
    rows = [row]
    if int8 and (local / "classifier" / "encoder.onnx").is_file():
        quantised = OUT / "models" / f"{Path(config_path).stem}-int8"
        shutil.rmtree(quantised, ignore_errors=True)
        shutil.copytree(local, quantised)
        quantise(quantised / "classifier" / "encoder.onnx")
        rows.append({"name": f"{row['name']}-int8", "config": config_path, "family": config.family,
                     "note": "same model, ONNX graph int8-quantised after training; thresholds unchanged",
                     "train_seconds": row["train_seconds"], "fit_seconds": row["fit_seconds"],
                     **measure(quantised, config)})
    return rows


def measure(folder: Path, config) -> dict:
    """Quality and speed of the saved model in ``folder``, with its stored thresholds."""
    from models.tagger import Tagger
    from training.data import load_data
    from training.evaluate import evaluate, evaluate_file

    tagger = Tagger.load(folder)
    data = load_data(config.data, config.seed)
    test = evaluate(tagger, data, splits=("test",)).metrics
    seed_scores = {f"seeds_{k}": v for k, v in evaluate_file(SEEDS, tagger).items()}

    texts = [t for split in ("train", "validation", "test") for t in data.texts(split)][:THROUGHPUT_SENTENCES]
    tagger.predict_proba(texts[:64])  # warm-up: first-run allocations
    timings = []
    for _ in range(2):  # best of two: the machine may be shared
        start = time.perf_counter()
        tagger.predict_proba(texts)
        timings.append(time.perf_counter() - start)

    command = [str(READOUT), "tag", "--model", str(folder), "--format", "json", ONE_SENTENCE]
    subprocess.run(command, check=True, capture_output=True)  # unmeasured: warms the file cache
    cold = []
    for _ in range(3):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        cold.append(time.perf_counter() - start)

    size = sum(f.stat().st_size for f in (folder / "classifier").rglob("*") if f.is_file())
    return {"test_macro_f1": test["test_macro_f1"],
            "test_f1": {label: test[f"test_f1_{label}"] for label in tagger.labels},
            "seeds_macro_f1": seed_scores["seeds_macro_f1"],
            "seeds_f1": {label: seed_scores[f"seeds_f1_{label}"] for label in tagger.labels},
            "seeds_sentences": seed_scores["seeds_sentences"],
            "throughput_sentences_per_s": round(len(texts) / min(timings), 1),
            "throughput_sentences": len(texts),
            "cold_tag_seconds": round(statistics.median(cold), 2),
            "model_megabytes": round(size / 1e6, 1),
            "thresholds": dict(zip(tagger.labels, map(float, tagger.thresholds_)))}


def quantise(path: Path) -> None:
    """Dynamic int8 quantisation of the weights of an ONNX graph, in place."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    target = path.with_name("int8.onnx")
    quantize_dynamic(str(path), str(target), weight_type=QuantType.QInt8)
    target.replace(path)


def environment() -> dict:
    import onnxruntime
    import torch

    return {"cpu": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
            "load_average_at_write": [round(x, 2) for x in os.getloadavg()],
            "python": platform.python_version(), "torch": torch.__version__, "onnxruntime": onnxruntime.__version__,
            "cuda": torch.cuda.is_available(), "date": time.strftime("%Y-%m-%d %H:%M")}


def markdown(results: dict) -> str:
    env = results.get("environment", {})
    lines = [
        "# Encoder families: quality and speed",
        "",
        "Command: `python bench/bench_encoders.py` (from the repository root; see its docstring).",
        f"Machine: {env.get('cpu_count')} CPU cores, CUDA {'yes' if env.get('cuda') else 'no'}; "
        f"torch {env.get('torch')}, onnxruntime {env.get('onnxruntime')}, Python {env.get('python')}; "
        f"{env.get('date')}. The machine may have been shared, so times are indicative.",
        "",
        "Macro-F1 uses each model's stored (validation-tuned) thresholds. *Seeds*: the 31 real, held-out "
        "sentences of ../shared/seeds-labelled.jsonl (16 with no label; 3 to 7 positives per label), so one "
        "sentence moves a label's F1 a lot. *Train*: the whole `train` call (fit, evaluation, plots, MLflow "
        "logging); *fit*: the family's `fit` alone. *Tag/s*: in-process `predict_proba` on 2,000 corpus "
        "sentences. *Cold tag*: a new `readout tag \"one sentence\"` process, median of 3.",
        "",
        "| config | family | test macro-F1 | seeds macro-F1 | train s | fit s | tag/s | cold tag s | model MB |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in results["rows"].values():
        lines.append(f"| {row['name']} | {row['family']} | {row['test_macro_f1']:.3f} | {row['seeds_macro_f1']:.3f} "
                     f"| {row['train_seconds']:.0f} | {row['fit_seconds']:.0f} | {row['throughput_sentences_per_s']:.0f} "
                     f"| {row['cold_tag_seconds']:.2f} | {row['model_megabytes']:.1f} |")
    lines += ["", "Per-label F1 (test / seeds):", "",
              "| config | " + " | ".join(next(iter(results["rows"].values()))["test_f1"]) + " |",
              "|---|" + "---:|" * len(next(iter(results["rows"].values()))["test_f1"])]
    for row in results["rows"].values():
        cells = [f"{row['test_f1'][k]:.3f} / {row['seeds_f1'][k]:.3f}" for k in row["test_f1"]]
        lines.append(f"| {row['name']} | " + " | ".join(cells) + " |")
    notes = [f"- {row['name']}: {row['note']}" for row in results["rows"].values() if row.get("note")]
    return "\n".join(lines + ([""] + notes if notes else [])) + "\n"


if __name__ == "__main__":
    main()
