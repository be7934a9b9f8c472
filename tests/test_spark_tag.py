"""``readout spark-tag`` on Apache Spark (``local[2]``): the same labels and scores as ``readout tag``.

The model reads each sentence beside its neighbours (``context_store``), so a readout cut between
two Arrow batches would change its scores at the cut. The run asks Spark for batches of 5 rows
(``--conf spark.sql.execution.arrow.maxRecordsPerBatch=5``): the command must keep every readout
whole anyway. Skipped where pyspark or Java cannot be had (``.ci/run`` installs Java).
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess

import pytest

from training.references import load_tagger

from helpers import cli_predictions, run_cli, two_readouts_and_lone_sentences, write_jsonl

SMALL_BATCH = 5


def _java_missing() -> str | None:
    java = shutil.which("java")
    if java is None:
        return "there is no java on PATH (apt-get install default-jre-headless)"
    if subprocess.run([java, "-version"], capture_output=True, timeout=60).returncode != 0:
        return f"{java} -version fails"
    return None


@pytest.fixture(scope="module")
def spark_available():
    if importlib.util.find_spec("pyspark") is None:
        pytest.skip("Spark tagging is not tested because pyspark is not installed (pip install -e '.[test]')")
    reason = _java_missing()
    if reason:
        pytest.skip(f"Spark tagging is not tested because {reason}")


def test_spark_tag_gives_readout_tags_labels_and_scores_for_readouts_and_lone_sentences(
        spark_available, context_store, tiny_rows, tmp_path):
    uri = context_store["uri"]
    _, alone = two_readouts_and_lone_sentences(tiny_rows)
    # 40 readouts (~390 rows) with their doc_id, then sentences without one (each tagged alone)
    rows = [{"doc_id": r["doc_id"], "text": r["text"], "labels": r["labels"]} for r in tiny_rows]
    rows += [{"doc_id": None, "text": text, "labels": []} for text in alone]
    source = write_jsonl(tmp_path / "in.jsonl", rows)

    result = run_cli("spark-tag", str(source), str(tmp_path / "out.parquet"), "--master", "local[2]",
                     "--partitions", "2", "--conf", f"spark.sql.execution.arrow.maxRecordsPerBatch={SMALL_BATCH}",
                     "--tracking-uri", uri, timeout=600)
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    assert f"tagged {len(rows)} sentences in 40 readouts on 2 partitions" in result.stdout.decode()
    assert "maxRecordsPerBatch" in result.stderr.decode()  # told that its setting was overridden

    import pyarrow.parquet as pq

    out = pq.read_table(tmp_path / "out.parquet").to_pylist()
    assert len(out) == len(rows)
    got = {(o["doc_id"], o["text"]): (o["labels"], o["scores"]) for o in out}
    # the input's own labels column is kept, renamed beside the predicted ones
    assert {(o["doc_id"], o["text"]): o["input_labels"] for o in out} == {
        (r["doc_id"], r["text"]): r["labels"] for r in rows}

    # every row equals the in-process Tagger's reading of the whole input as readouts
    tagger = load_tagger("models:/readout-tagger@champion", uri)
    expected = tagger.predict([r["text"] for r in rows], [r["doc_id"] for r in rows])
    for row, want in zip(rows, expected):
        assert got[(row["doc_id"], row["text"])] == (want.labels, want.scores), row

    # ... and `readout tag`'s on the same file (consecutive rows sharing a doc_id are a readout, a
    # row without one is alone), and on the lone sentences given as arguments
    for row, want in zip(rows, cli_predictions(uri, "--file", str(source), "--no-split")):
        assert got[(row["doc_id"], row["text"])] == (want["labels"], want["scores"]), row
    for text, want in zip(alone, cli_predictions(uri, *alone)):
        assert got[(None, text)] == (want["labels"], want["scores"])

    # The check above can fail: cut into batches of SMALL_BATCH rows, the readouts score otherwise.
    texts, docs = [r["text"] for r in tiny_rows], [r["doc_id"] for r in tiny_rows]
    cut = [p for start in range(0, len(texts), SMALL_BATCH)
           for p in tagger.predict(texts[start:start + SMALL_BATCH], docs[start:start + SMALL_BATCH])]
    assert any(c.scores != w.scores for c, w in zip(cut, expected)), "the model should read context"


@pytest.mark.parametrize("problem, args, message", [
    ("missing input", ["{tmp}/none.jsonl", "{tmp}/out.parquet"], "INPUT not found"),
    ("unknown format", ["{tmp}/in.csv", "{tmp}/out.parquet"], "name it *.parquet or *.jsonl"),
    ("existing output", ["{tmp}/in.jsonl", "{tmp}/in.jsonl"], "already exists"),
    ("bad --conf", ["{tmp}/in.jsonl", "{tmp}/new.parquet", "--conf", "spark.executor.memory"], "KEY=VALUE"),
])
def test_spark_tag_rejects_bad_input_in_one_line_before_starting_spark(tmp_path, problem, args, message):
    write_jsonl(tmp_path / "in.jsonl", [{"text": "A sentence."}])
    (tmp_path / "in.csv").write_text("text\nA sentence.\n")
    args = [a.format(tmp=tmp_path) for a in args]
    result = run_cli("spark-tag", *args, cwd=tmp_path)
    stderr = result.stderr.decode()
    assert result.returncode == 2, stderr
    assert stderr.startswith("error: ") and message in stderr and len(stderr.strip().splitlines()) == 1, stderr
