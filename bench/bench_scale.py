"""Beyond one laptop, measured on this machine (run by hand):

    python bench/bench_scale.py                      # all three parts
    python bench/bench_scale.py --only serving       # or team, spark

One model: `configs/tfidf.yaml` trained on the full corpus (into bench/out/scale/, gitignored).
- **serving**: `readout serve`'s scoring server, one client posting one request at a time
  (`dataframe_split`, 1 and 32 sentences per request): requests/s, sentences/s, p50/p99 latency.
- **team**: a cold `readout tag "one sentence"` through an MLflow server on PostgreSQL (the same
  config trained into it) beside the SQLite fast path; median of 5 after one unmeasured run.
- **spark**: `readout spark-tag` on 200,000 corpus sentences as readouts (the corpus repeated,
  each copy under new doc_ids) at `local[2]`, beside `Tagger.predict` in one process.
Writes bench/results/scale.json (merged by part) and bench/results/scale.md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # the throwaway PostgreSQL and the team server command of the tests
OUT = ROOT / "bench" / "out" / "scale"
RESULTS = ROOT / "bench" / "results"
READOUT = str(Path(sys.executable).parent / "readout")
CONFIG = ROOT / "configs" / "tfidf.yaml"
CORPUS = ROOT / "data" / "readouts.jsonl"
MODEL = "models:/readout-tagger@champion"
ONE = "The ministers agreed to expand liquefied natural gas deliveries and to cut tariffs on machinery."
REQUESTS = {1: 400, 32: 150}  # requests per batch size
SPARK_SENTENCES = 200_000


def corpus() -> list[dict]:
    return [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines()]


def train(uri: str) -> None:
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri}
    subprocess.run([READOUT, "train", "-c", str(CONFIG), "--set", f"data.path={CORPUS}", "--set",
                    "tracking.promote=always"], cwd=OUT, env=env, check=True, capture_output=True)


def sqlite_store() -> str:
    store = OUT / "sqlite"
    uri = f"sqlite:///{store / 'mlflow.db'}"
    if not (store / "mlflow.db").is_file():
        store.mkdir(parents=True, exist_ok=True)
        train(uri)
    return uri


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


def bench_serving(uri: str) -> dict:
    from helpers import free_port
    from training.serve import model_root, start, wait_ready
    from training.ui import stop

    texts = [r["text"] for r in corpus()]
    port = free_port()
    process = start(model_root(MODEL, uri), "127.0.0.1", port)
    rows = {}
    try:
        wait_ready(process, "127.0.0.1", port)
        for size, count in REQUESTS.items():
            bodies = [json.dumps({"dataframe_split": {"columns": ["text"], "data": [[t] for t in
                      texts[i * size:(i + 1) * size]]}}).encode() for i in range(count + 10)]
            latencies = []
            for i, body in enumerate(bodies):
                request = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", data=body,
                                                 headers={"Content-Type": "application/json"})
                start_s = time.perf_counter()
                with urllib.request.urlopen(request, timeout=60) as response:
                    assert len(json.loads(response.read())["predictions"]) == size
                if i >= 10:  # the first 10 warm the server
                    latencies.append(time.perf_counter() - start_s)
            total = sum(latencies)
            rows[str(size)] = {"sentences_per_request": size, "requests": count,
                               "requests_per_s": round(count / total, 1), "sentences_per_s": round(count * size / total),
                               "p50_ms": round(1000 * statistics.median(latencies), 1),
                               "p99_ms": round(1000 * percentile(latencies, 0.99), 1)}
            print(json.dumps(rows[str(size)]), flush=True)
    finally:
        stop(process)
    return {"rows": rows, "client": "one client, one request at a time, on the same machine"}


def cold_tag(uri: str) -> float:
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri}
    command = [READOUT, "tag", ONE, "--format", "json"]
    subprocess.run(command, cwd=OUT, env=env, check=True, capture_output=True)  # unmeasured
    times = []
    for _ in range(5):
        start_s = time.perf_counter()
        subprocess.run(command, cwd=OUT, env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - start_s)
    return round(statistics.median(times), 2)


def bench_team(uri: str) -> dict:
    from helpers import Postgres, find_postgres, free_port, team_server_command, wait_until_up
    from training.ui import server_env, stop

    bin_dir = find_postgres()
    if bin_dir is None:
        raise SystemExit("PostgreSQL is not installed (apt-get install postgresql)")
    artifacts = OUT / "team-artifacts"
    shutil.rmtree(artifacts, ignore_errors=True)
    with Postgres(bin_dir) as postgres:
        port = free_port()
        process = subprocess.Popen(team_server_command(postgres.uri, artifacts, port), env=server_env(),
                                   start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_until_up(process, port, timeout=120)
            server = f"http://127.0.0.1:{port}"
            train(server)
            row = {"cold_tag_team_server_s": cold_tag(server), "cold_tag_sqlite_s": cold_tag(uri)}
        finally:
            stop(process)
    print(json.dumps(row), flush=True)
    return row


def bench_spark(uri: str) -> dict:
    from training.references import load_tagger
    from training.spark_tag import session, spark_tag

    rows, data = corpus(), []
    for copy in range(math.ceil(SPARK_SENTENCES / len(rows))):
        data += [{"doc_id": f"{r['doc_id']}-{copy}", "text": r["text"]} for r in rows]
    data = data[:SPARK_SENTENCES]
    source = OUT / "spark-in.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in data), encoding="utf-8")

    tagger = load_tagger(MODEL, uri)
    start_s = time.perf_counter()
    tagger.predict([r["text"] for r in data], [r["doc_id"] for r in data])
    in_process = time.perf_counter() - start_s

    output = OUT / "spark-out.parquet"
    shutil.rmtree(output, ignore_errors=True)
    start_s = time.perf_counter()
    session("local[2]")  # spark_tag reuses (and then stops) this session: its start is timed apart
    started = time.perf_counter() - start_s
    start_s = time.perf_counter()
    result = spark_tag(str(source), str(output), MODEL, uri, master="local[2]")
    job = time.perf_counter() - start_s
    row = {"sentences": len(data), "readouts": result.readouts, "partitions": result.partitions,
           "in_process_s": round(in_process, 1), "in_process_sentences_per_s": round(len(data) / in_process),
           "spark_start_s": round(started, 1), "spark_job_s": round(job, 1),
           "spark_sentences_per_s": round(len(data) / job),
           "spark_sentences_per_s_with_start": round(len(data) / (job + started))}
    print(json.dumps(row), flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["serving", "team", "spark"], action="append")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    results_file = RESULTS / "scale.json"
    results = json.loads(results_file.read_text()) if results_file.is_file() else {}
    uri = sqlite_store()
    for part, bench in {"serving": bench_serving, "team": bench_team, "spark": bench_spark}.items():
        if args.only and part not in args.only:
            continue
        load = os.getloadavg()[0]
        results[part] = {**bench(uri), "date": time.strftime("%Y-%m-%d %H:%M"),
                         "load_average_1min_before": round(load, 1),
                         "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"}
        results_file.write_text(json.dumps(results, indent=2) + "\n")
    write_markdown(results)


def write_markdown(results: dict) -> None:
    lines = ["# Beyond one laptop: serving, team server, Spark", "",
             "Measured with `python bench/bench_scale.py` on `configs/tfidf.yaml` trained on the full corpus, on this "
             "project's machine: 2 cores, **shared with other work while it ran** (the 1-minute load average before "
             "each part is given; above 2, the figures are lower than on an idle machine).", ""]
    if "serving" in results:
        s = results["serving"]
        lines += [f"## REST serving (`readout serve`, one worker) — {s['date']}, load {s['load_average_1min_before']}",
                  "", f"{s['client']}; `dataframe_split` requests.", "",
                  "| sentences / request | requests | requests/s | sentences/s | p50 | p99 |", "|---:|---:|---:|---:|---:|---:|"]
        for row in s["rows"].values():
            lines.append(f"| {row['sentences_per_request']} | {row['requests']} | {row['requests_per_s']} | "
                         f"{row['sentences_per_s']:,} | {row['p50_ms']} ms | {row['p99_ms']} ms |")
        lines.append("")
    if "team" in results:
        t = results["team"]
        lines += [f"## Cold `readout tag` — {t['date']}, load {t['load_average_1min_before']}", "",
                  "A fresh `readout tag \"one sentence\"` process, median of 5 (the same config trained into each store).",
                  "", "| store | cold `readout tag` |", "|---|---:|",
                  f"| SQLite file (the fast path: no MLflow import) | {t['cold_tag_sqlite_s']} s |",
                  f"| MLflow server on PostgreSQL (imports MLflow, downloads the model) | {t['cold_tag_team_server_s']} s |",
                  ""]
    if "spark" in results:
        p = results["spark"]
        lines += [f"## Spark batch tagging (`readout spark-tag`, `local[2]`) — {p['date']}, load "
                  f"{p['load_average_1min_before']}", "",
                  f"{p['sentences']:,} sentences in {p['readouts']:,} readouts (the corpus repeated), JSONL in, Parquet "
                  f"out, {p['partitions']} partitions.", "",
                  "| how | time | sentences/s |", "|---|---:|---:|",
                  f"| `Tagger.predict` in one process (as readouts) | {p['in_process_s']} s | "
                  f"{p['in_process_sentences_per_s']:,} |",
                  f"| Spark job (read, count, tag, write) | {p['spark_job_s']} s | {p['spark_sentences_per_s']:,} |",
                  f"| Spark job + session start ({p['spark_start_s']} s) | {round(p['spark_job_s'] + p['spark_start_s'], 1)} s "
                  f"| {p['spark_sentences_per_s_with_start']:,} |", ""]
    (RESULTS / "scale.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
