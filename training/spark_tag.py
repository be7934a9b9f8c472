"""``readout spark-tag``: tag a table of sentences or readouts with Apache Spark, through the
model's MLflow pyfunc as a Spark UDF (``mlflow.pyfunc.spark_udf``, ``env_manager="local"``).

A model with context reads the rows sharing a ``doc_id`` as one readout, in order, and the UDF
sees each Arrow batch on its own: a readout cut between two batches would lose its neighbours at
the cut. So every readout is kept whole and in order inside one batch:
1. ``repartition(n, doc_id)`` puts all rows of a readout in one partition;
2. ``sortWithinPartitions(doc_id, order)`` makes them contiguous, in reading order (``order`` is
   a column the caller names, else the row's position in the input);
3. ``spark.sql.execution.arrow.maxRecordsPerBatch=0`` and ``maxBytesPerBatch`` at its maximum make
   each partition one Arrow batch, and partitions are sized (``ROWS_PER_PARTITION``) to keep that
   batch small.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path

from training.errors import ReadoutError

TEXT, DOC_ID = "text", "doc_id"
ORDER = "_readout_order"  # the input position of a row, when the caller names no order column
OUTPUT_LABELS, OUTPUT_SCORES = "labels", "scores"  # as in `readout tag --format jsonl`
# About 10 MB of sentences: one partition is one Arrow batch and one predict call in a worker.
ROWS_PER_PARTITION = 50_000
# A partition must never be cut into batches (see the module docstring); the byte cap's largest
# allowed value is INT_MAX - 1, far above any partition of ROWS_PER_PARTITION sentences.
WHOLE_PARTITION_BATCHES = {"spark.sql.execution.arrow.maxRecordsPerBatch": "0",
                           "spark.sql.execution.arrow.maxBytesPerBatch": str(2**31 - 2)}
FORMATS = {".parquet": "parquet", ".jsonl": "json", ".json": "json", ".ndjson": "json"}


@dataclass
class SparkTagResult:
    sentences: int
    readouts: int | None  # None: no doc_id column, each sentence tagged alone
    partitions: int
    output: str
    output_format: str


def file_format(path: str, role: str) -> str:
    """Parquet or JSON lines, from the path's suffix (a folder of part files is named the same way)."""
    fmt = FORMATS.get(Path(path.rstrip("/")).suffix.lower())
    if fmt is None:
        raise ReadoutError(f"{role} {path}: name it *.parquet or *.jsonl (a file, or a folder of part files)")
    return fmt


def session(master: str, conf: dict[str, str] | None = None):
    """A SparkSession whose workers run this Python, with whole-partition Arrow batches."""
    import os

    from pyspark.sql import SparkSession

    # Workers must run this environment's Python (its pandas, mlflow, models), not the first python3 on PATH.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.appName("readout spark-tag").master(master)
    for key, value in {**(conf or {}), **WHOLE_PARTITION_BATCHES}.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    # A failed task logs its whole traceback once per attempt; the driver's exception (one line,
    # from spark_tag) says the same. The stage progress bar stays.
    spark.sparkContext.setLogLevel("FATAL")
    return spark


def tagged(spark, frame, model_uri: str, labels: list[str], order_by: str | None = None,
           partitions: int | None = None):
    """``frame`` (a ``text`` column, optionally ``doc_id``) with ``labels`` (array) and ``scores``
    (a struct, one field per label) added. Lazy: the batch settings of ``session`` must hold on
    ``spark`` when it is written; this function sets them."""
    import mlflow
    from pyspark.sql import functions as F

    for key, value in WHOLE_PARTITION_BATCHES.items():
        spark.conf.set(key, value)
    udf = mlflow.pyfunc.spark_udf(spark, model_uri, env_manager="local")
    given_doc_ids = DOC_ID in frame.columns
    if not given_doc_ids:  # one path for both: a row without a doc_id is a sentence alone
        frame = frame.withColumn(DOC_ID, F.lit(None).cast("string"))
    order = order_by or ORDER
    if order_by is None:
        # increasing in input order within each file: the readouts' reading order
        frame = frame.withColumn(ORDER, F.monotonically_increasing_id())
    frame = frame.withColumn(DOC_ID, F.col(DOC_ID).cast("string"))
    # rows without a doc_id are each alone: spread them by position rather than pile them in one partition
    key = F.coalesce(F.col(DOC_ID), F.concat(F.lit("\0"), F.col(order).cast("string")))
    frame = frame.repartition(partitions or spark.sparkContext.defaultParallelism, key)
    frame = frame.sortWithinPartitions(DOC_ID, order)
    renamed = {c: f"input_{c}" for c in frame.columns if c in (OUTPUT_LABELS, OUTPUT_SCORES)}
    for old, new in renamed.items():
        frame = frame.withColumnRenamed(old, new)
    result = frame.withColumn("_tags", udf(F.struct(F.col(TEXT), F.col(DOC_ID))))
    joined = F.col("_tags.labels")
    label_list = F.when(joined == "", F.array().cast("array<string>")).otherwise(F.split(joined, ";"))
    scores = F.struct(*(F.col("_tags").getField(label).alias(label) for label in labels))
    result = result.withColumn(OUTPUT_LABELS, label_list).withColumn(OUTPUT_SCORES, scores).drop("_tags")
    added = ([] if given_doc_ids else [DOC_ID]) + ([ORDER] if order_by is None else [])
    return result.drop(*added)


def spark_tag(input_path: str, output_path: str, model: str, tracking_uri: str | None = None,
              master: str = "local[*]", partitions: int | None = None, order_by: str | None = None,
              conf: dict[str, str] | None = None, note=lambda message: None) -> SparkTagResult:
    """Read ``input_path``, tag every row with ``model`` and write ``output_path``."""
    import importlib.util

    from models.tagger import MANIFEST
    from training.references import TAGGER_IN_MLFLOW_MODEL
    from training.serve import model_root

    if importlib.util.find_spec("pyspark") is None:
        raise ReadoutError("readout spark-tag needs pyspark: pip install -e '.[spark]' (and Java 17+)")
    in_format, out_format = file_format(input_path, "INPUT"), file_format(output_path, "OUTPUT")
    if "://" not in input_path and not Path(input_path).exists():
        raise ReadoutError(f"INPUT not found: {input_path}")
    if "://" not in output_path and Path(output_path).exists():
        raise ReadoutError(f"OUTPUT {output_path} already exists: give a new path (nothing is overwritten)")
    root = model_root(model, tracking_uri)
    labels = json.loads((root / TAGGER_IN_MLFLOW_MODEL / MANIFEST).read_text())["labels"]
    overridden = [k for k in WHOLE_PARTITION_BATCHES if k in (conf or {})]
    if overridden:
        note(f"ignored --conf {', '.join(overridden)}: each partition must be one Arrow batch, so no readout is cut")

    _quiet_spark_and_mlflow()
    from pyspark.errors import PySparkException

    spark = None
    try:
        spark = session(master, conf)
        frame = spark.read.format(in_format).load(input_path)
        if TEXT not in frame.columns:
            raise ReadoutError(f"INPUT {input_path} has no {TEXT!r} column (columns: {', '.join(frame.columns)})")
        if order_by is not None and order_by not in frame.columns:
            raise ReadoutError(f"--order-by {order_by!r} is not a column of {input_path}")
        counts = frame.agg(*_counts(frame)).first()
        if counts["rows"] == 0:
            raise ReadoutError(f"INPUT {input_path} has no rows")
        if counts["texts"] < counts["rows"]:
            raise ReadoutError(f"INPUT {input_path}: {counts['rows'] - counts['texts']} rows have no {TEXT}")
        parts = partitions or max(spark.sparkContext.defaultParallelism,
                                  math.ceil(counts["rows"] / ROWS_PER_PARTITION))
        result = tagged(spark, frame, str(root), labels, order_by, parts)
        result.write.format(out_format).mode("errorifexists").save(output_path)
    except PySparkException as exc:
        hint = " (Spark needs Java: apt-get install default-jre-headless)" if spark is None else ""
        raise ReadoutError(f"spark-tag {input_path}: {_one_line(exc)}{hint}") from None
    finally:
        if spark is not None:
            spark.stop()
    return SparkTagResult(counts["rows"], counts["readouts"], parts, output_path, out_format)


def _counts(frame):
    from pyspark.sql import functions as F

    readouts = F.countDistinct(DOC_ID) if DOC_ID in frame.columns else F.lit(None)
    return [F.count(F.lit(1)).alias("rows"), F.count(TEXT).alias("texts"), readouts.alias("readouts")]


def _quiet_spark_and_mlflow() -> None:
    """Keep the terminal for the command's own lines: no download bars or INFO logs from MLflow (nor
    its warning that env_manager="local" reuses this environment: that is the design here), and not
    PySpark's warning about pandas 3 (the results are tested equal to ``readout tag``'s)."""
    import logging
    import os
    import warnings

    import mlflow  # noqa: F401  (it sets its loggers' levels on import: quiet them after it)

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message=".*PySpark does not yet fully support pandas.*")


def _one_line(exc: Exception) -> str:
    """A Spark error in one line: for a failure inside a worker, the Python exception it raised."""
    import re

    text = str(exc)
    raised = re.findall(r"^(\w+(?:Error|Exception): .+)$", text, re.MULTILINE)
    line = raised[-1] if raised else text.strip().splitlines()[0]
    return " ".join(line.split())[:300]
