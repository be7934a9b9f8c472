"""The ``readout`` command: train, tag, evaluate, promote, runs, ui, serve, spark-tag.

Each command is a thin layer over a library function; heavy libraries are imported inside the
command that needs them, so ``--help`` is instant. Bad input is one line on stderr and exit code 2.
Annotations are real objects here, not strings (no ``from __future__ import annotations``): Typer
reads every command's signature on each run, and evaluating string annotations cost ~30 ms of it.
"""

import gc
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from typer._click.exceptions import NoArgsIsHelpError  # Typer vendors click; its class, by type

from training.errors import ReadoutError
from training.outputs import Format  # standard library only: --help stays instant
from training.references import DEFAULT_MODEL

app = typer.Typer(
    name="readout",
    help="Train, track and serve cooperation-area taggers for diplomatic meeting readouts.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

TrackingUri = Annotated[Optional[str], typer.Option("--tracking-uri", help="MLflow tracking URI "
                        "(default: $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db in the working directory).")]


class ReportFormat(str, Enum):
    table = "table"
    json = "json"


def _err(message: str) -> None:
    typer.echo(message, err=True)


@app.command()
def train(
    config: Annotated[Path, typer.Option("--config", "-c", help="YAML config, e.g. configs/default.yaml.")],
    tracking_uri: TrackingUri = None,
    run_name: Annotated[Optional[str], typer.Option("--run-name", help="Name of the MLflow run.")] = None,
    overrides: Annotated[Optional[list[str]], typer.Option("--set", help="Override one config value, "
                         "e.g. --set model.C=2 (repeatable).")] = None,
) -> None:
    """Train a model from a config; log the run to MLflow and register the model."""
    from training.config import load_config

    cfg = load_config(config, overrides or [])
    from training.train import train as run_training

    result = run_training(cfg, tracking_uri=tracking_uri, run_name=run_name, progress=lambda m: _err(f"· {m}"))
    _print_metrics(result.best.metrics, cfg.data.labels)
    if result.parent_run_id:
        typer.echo(f"sweep run {result.parent_run_id}: {len(result.runs)} child runs, best {result.best.run_id} "
                   f"({result.best.run_name})")
    typer.echo(f"run {result.best.run_id} in experiment {cfg.experiment!r} at {result.tracking_uri}")
    alias = f" @{cfg.tracking.alias}" if result.promoted else ""
    typer.echo(f"model {result.registered_model} version {result.version}{alias}: "
               f"models:/{result.registered_model}/{result.version}")


def _print_metrics(metrics: dict[str, float], labels: list[str]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="metrics (thresholds tuned on validation)")
    table.add_column("metric")
    table.add_column("validation", justify="right")
    table.add_column("test", justify="right")
    rows = [("macro F1", "macro_f1"), ("micro F1", "micro_f1"), ("subset accuracy", "subset_accuracy")]
    rows += [(f"F1 {label}", f"f1_{label}") for label in labels]
    for title, key in rows:
        table.add_row(title, f"{metrics[f'val_{key}']:.3f}", f"{metrics[f'test_{key}']:.3f}")
    Console().print(table)


@app.command()
def tag(
    texts: Annotated[Optional[list[str]], typer.Argument(help="Sentences to tag; '-' reads standard input.",
                                                         show_default=False)] = None,
    files: Annotated[Optional[list[str]], typer.Option("--file", "-f", help="A readout file, a folder of them "
                     "(*.txt, *.md), or a JSONL/CSV of readouts; repeatable; '-' for stdin.",
                     show_default=False)] = None,
    split: Annotated[Optional[bool], typer.Option("--split/--no-split", help="Split the input into sentences "
                     "(default for files and stdin); --no-split takes each line as one sentence.",
                     show_default=False)] = None,
    fmt: Annotated[Optional[Format], typer.Option("--format", help="Output format (default: table, or "
                   "the --out file's suffix).", show_default=False)] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Write to this file (needed for parquet).",
                   show_default=False)] = None,
    explain: Annotated[bool, typer.Option("--explain", help="Add each label's evidence: the words that "
                       "drove it.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    model: Annotated[str, typer.Option("--model", "-m", help="models:/NAME@ALIAS, models:/NAME/VERSION, "
                     "runs:/RUN_ID/model or a model folder.")] = DEFAULT_MODEL,
    tracking_uri: TrackingUri = None,
) -> None:
    """Tag sentences, readout files, folders and archives, or standard input, with cooperation areas."""
    from training.inputs import read_input
    from training.references import load_tagger
    from training.batch import tag_to

    fmt = fmt or (Format.for_path(str(out)) if out else Format.table)
    readouts, alone = read_input(texts or [], files or [], split, sys.stdin)
    tagger = load_tagger(model, tracking_uri)
    skipped = tag_to(tagger, readouts, alone, fmt, out, explain=explain, progress=not quiet)
    if skipped:
        _err(f"skipped {skipped} blank line{'s' if skipped > 1 else ''}")


@app.command()
def report(
    inputs: Annotated[list[str], typer.Argument(help="Readout files, folders (*.txt, *.md) or JSONL/CSV "
                                                     "archives of readouts; '-' for stdin.", show_default=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="The HTML file to write.")] = Path("report.html"),
    title: Annotated[str, typer.Option("--title", help="The report's heading.")] = "Readout report",
    explain: Annotated[bool, typer.Option("--explain/--no-explain", help="Mark the words that drove each "
                       "label (slower with encoder models).")] = True,
    split: Annotated[bool, typer.Option("--split/--no-split", help="Split texts into sentences; "
                     "--no-split takes each line (or JSONL/CSV row) as one sentence.")] = True,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    model: Annotated[str, typer.Option("--model", "-m", help="Model reference, as for tag.")] = DEFAULT_MODEL,
    tracking_uri: TrackingUri = None,
) -> None:
    """Tag an archive of readouts and write one self-contained HTML report (charts, table, readouts)."""
    from training.archive import read_readouts
    from training.inputs import nonempty
    from training.references import describe_model, load_tagger
    from training.report import write_report

    readouts = nonempty(read_readouts(inputs, split, sys.stdin))
    tagger = load_tagger(model, tracking_uri)
    done = write_report(tagger, readouts, out, describe_model(model, tracking_uri), title, explain, not quiet)
    typer.echo(f"{out}: {done['readouts']:,} readouts, {done['sentences']:,} sentences, "
               f"{done['bytes'] / 1e6:.1f} MB; open it in a browser")


@app.command()
def evaluate(
    data: Annotated[Path, typer.Option("--data", "-d", help="Labelled JSONL/CSV file (text, labels).")],
    model: Annotated[str, typer.Option("--model", "-m", help="Model reference, as for tag.")] = DEFAULT_MODEL,
    tracking_uri: TrackingUri = None,
    fmt: Annotated[ReportFormat, typer.Option("--format", help="Output format.")] = ReportFormat.table,
) -> None:
    """Score a model on a labelled file (rows sharing a doc_id are one readout) with its thresholds."""
    import json

    from training.evaluate import evaluate_file
    from training.references import load_tagger

    scores = evaluate_file(data, load_tagger(model, tracking_uri))
    if fmt is ReportFormat.json:
        typer.echo(json.dumps(scores, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{model} on {data} ({scores['sentences']} sentences)")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in scores.items():
        table.add_row(key, f"{value:.3f}" if isinstance(value, float) else str(value))
    Console().print(table)


@app.command()
def promote(
    version: Annotated[int, typer.Argument(help="Model version to give the alias to.")],
    name: Annotated[str, typer.Option("--name", help="Registered model name.")] = "readout-tagger",
    alias: Annotated[str, typer.Option("--alias", help="Alias to move.")] = "champion",
    tracking_uri: TrackingUri = None,
) -> None:
    """Move an alias (default: champion) to a model version."""
    from training.registry import promote as move_alias

    previous = move_alias(version, name, alias, tracking_uri)
    was = f" (was version {previous})" if previous is not None else ""
    typer.echo(f"{name}@{alias} -> version {version}{was}")


@app.command()
def ui(
    port: Annotated[int, typer.Option("--port", "-p", help="Port on 127.0.0.1.")] = 5000,
    experiment: Annotated[str, typer.Option("--experiment", "-e", help="Experiment whose runs the printed "
                          "URL opens.")] = "readout-tagger",
    tracking_uri: TrackingUri = None,
) -> None:
    """Open the MLflow UI on the run store (one worker, no background job runner)."""
    from training.ui import serve

    serve(tracking_uri, port, experiment, announce=typer.echo)


@app.command()
def runs(
    experiment: Annotated[str, typer.Option("--experiment", "-e", help="Experiment name.")] = "readout-tagger",
    sort: Annotated[str, typer.Option("--sort", help="Metric to sort by, best first.")] = "val_macro_f1",
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="Most runs to show.")] = 20,
    fmt: Annotated[ReportFormat, typer.Option("--format", help="Output format.")] = ReportFormat.table,
    tracking_uri: TrackingUri = None,
) -> None:
    """List runs of an experiment with their key params and metrics."""
    import json

    from training.runs import list_runs

    table = list_runs(experiment, sort, limit, tracking_uri)
    if fmt is ReportFormat.json:
        typer.echo(json.dumps(table, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    view = Table(title=f"runs of {experiment!r}, best {sort} first")
    columns = ["run_name", "run_id", "status", "family", sort, "test_macro_f1", "data", "params"]
    for column in columns:
        view.add_column(column, justify="right" if "f1" in column else "left", overflow="fold")
    for row in table:
        view.add_row(*(_cell(row.get(c)) for c in columns))
    Console().print(view)


@app.command()
def suggest(
    inputs: Annotated[list[str], typer.Argument(help="Unlabelled readouts: files, folders (*.txt, *.md), "
                      "JSONL/CSV of readouts.", show_default=False)],
    model: Annotated[str, typer.Option("--model", "-m", help="Model reference, as for tag.")] = DEFAULT_MODEL,
    n: Annotated[int, typer.Option("-n", min=1, help="How many sentences to suggest.")] = 50,
    out: Annotated[Path, typer.Option("--out", "-o", help="Suggestions file (JSONL) to write.")] = Path(
        "suggestions.jsonl"),
    exclude: Annotated[Optional[list[Path]], typer.Option("--exclude", help="A labelled JSONL/CSV file whose "
                       "sentences are not suggested again (repeatable).")] = None,
    tracking_uri: TrackingUri = None,
) -> None:
    """Pick the sentences most worth labelling: nearest their label's threshold, spread over labels and readouts."""
    from collections import Counter

    from training.archive import read_readouts
    from training.references import describe_model, load_tagger
    from training.suggest import labelled_texts, suggest as pick_sentences, write_suggestions

    tagger = load_tagger(model, tracking_uri)
    skip = labelled_texts(exclude or [])
    seen = Counter()
    rows = pick_sentences(tagger, read_readouts(inputs), n, describe_model(model, tracking_uri), skip,
                          on_progress=lambda readouts, sentences: seen.update(readouts=readouts, sentences=sentences))
    write_suggestions(rows, out)
    by_label = Counter(row["uncertain"]["label"] for row in rows)
    typer.echo(f"{len(rows)} suggestions from {len({r['doc_id'] for r in rows})} of {seen['readouts']} readouts "
               f"({seen['sentences']} sentences) -> {out}; nearest the threshold of "
               + ", ".join(f"{label} {by_label[label]}" for label in tagger.labels))
    typer.echo(f"label them: readout label {out} --into data/my-labels.jsonl")


@app.command()
def label(
    suggestions: Annotated[Path, typer.Argument(help="A suggestions file from readout suggest.")],
    into: Annotated[Path, typer.Option("--into", "-o", help="Labelled rows are appended here (JSONL that "
                    "trains as it is); skipped suggestions go beside it to NAME.skipped.jsonl.")],
    by: Annotated[Optional[str], typer.Option("--by", help="Who labels (default: the OS user).")] = None,
) -> None:
    """Label suggested sentences in the terminal: 1-4 toggle, Enter accept, s skip, u undo, q quit."""
    from rich.console import Console

    from training.labelling import run, skipped_path

    counts = run(suggestions, into, by or _os_user(), sys.stdin, Console(highlight=False))
    typer.echo(f"{counts['accepted']} labelled in {into}, {counts['skipped']} skipped "
               f"({skipped_path(into)}), {counts['left']} of {counts['total']} to go; run again to resume")
    if counts["accepted"]:
        typer.echo(f"train with them: readout train -c configs/tfidf.yaml --set 'data.path=[data/readouts.jsonl, {into}]'")


def _os_user() -> str:
    import getpass
    import os

    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a container user with no name
        return f"uid {os.getuid()}"


class AuditFormat(str, Enum):
    table = "table"
    jsonl = "jsonl"


@app.command()
def audit(
    config: Annotated[Path, typer.Option("--config", "-c", help="The config whose data and family to audit, "
                      "e.g. configs/tfidf.yaml.")],
    k: Annotated[int, typer.Option("-k", min=2, help="Folds, by document.")] = 5,
    overrides: Annotated[Optional[list[str]], typer.Option("--set", help="Override one config value, "
                         "as for train (repeatable).")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="Most findings to show.")] = 30,
    fmt: Annotated[AuditFormat, typer.Option("--format", help="Output format.")] = AuditFormat.table,
) -> None:
    """Rank likely label errors in the training data (out-of-fold predictions + cleanlab)."""
    import json

    from training.audit import audit as find_issues
    from training.config import load_config

    cfg = load_config(config, overrides or [])
    findings = find_issues(cfg, k, progress=lambda m: _err(f"· {m}"))
    _err(f"{len(findings)} likely label errors found; showing {min(limit, len(findings))}")
    if fmt is AuditFormat.jsonl:
        sys.stdout.write("".join(json.dumps(f.to_dict(), ensure_ascii=False) + "\n" for f in findings[:limit]))
        return
    from rich.console import Console
    from rich.table import Table

    view = Table(title=f"likely label errors in {cfg.data.describe()} ({k}-fold, {cfg.family})")
    widths = {"sentence": (32, None), "given": (None, 16), "suggested": (None, 16)}  # the sentence gets the room
    for column in ("#", "quality", "doc_id", "sentence", "given", "suggested", "check"):
        low, high = widths.get(column, (None, None))
        view.add_column(column, justify="right" if column in ("#", "quality") else "left", overflow="fold",
                        min_width=low, max_width=high)
    for f in findings[:limit]:
        view.add_row(str(f.rank), f"{f.quality:.3f}", f.doc_id, f.text, ", ".join(f.given) or "—",
                     ", ".join(f.suggested) or "—", f.check)
    Console().print(view)


def _cell(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    return str(value)


@app.command()
def serve(
    model: Annotated[str, typer.Option("--model", "-m", help="Model reference, as for tag.")] = DEFAULT_MODEL,
    port: Annotated[int, typer.Option("--port", "-p", help="Port to listen on.")] = 5001,
    host: Annotated[str, typer.Option("--host", help="Interface to listen on (0.0.0.0: every one).")] = "127.0.0.1",
    tracking_uri: TrackingUri = None,
) -> None:
    """Serve a model over HTTP with MLflow's scoring server: POST /invocations, GET /ping."""
    from training.serve import serve as run_server

    run_server(model, tracking_uri, host, port, announce=typer.echo)


@app.command("spark-tag")
def spark_tag(
    input_path: Annotated[str, typer.Argument(metavar="INPUT", help="Parquet or JSONL (a file or a folder of "
                          "parts, named *.parquet / *.jsonl) with a text column, and doc_id for readouts.")],
    output_path: Annotated[str, typer.Argument(metavar="OUTPUT", help="New folder to write, *.parquet or "
                           "*.jsonl: the input's columns plus labels and scores.")],
    model: Annotated[str, typer.Option("--model", "-m", help="Model reference, as for tag.")] = DEFAULT_MODEL,
    master: Annotated[str, typer.Option("--master", help="Spark master: local[N], spark://HOST:7077, yarn...")]
    = "local[*]",
    partitions: Annotated[Optional[int], typer.Option("--partitions", min=1, help="Partitions to tag in "
                          "(default: the cores, or more to keep each under 50,000 rows).")] = None,
    order_by: Annotated[Optional[str], typer.Option("--order-by", help="Column giving each sentence's place "
                        "in its readout (default: the input's order).")] = None,
    conf: Annotated[Optional[list[str]], typer.Option("--conf", help="Spark setting KEY=VALUE, e.g. "
                    "spark.executor.memory=4g (repeatable).")] = None,
    tracking_uri: TrackingUri = None,
) -> None:
    """Tag a table of sentences or readouts with Spark, through the model's MLflow Spark UDF."""
    from training.spark_tag import spark_tag as run_job

    settings = {}
    for item in conf or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ReadoutError(f"--conf {item!r}: use KEY=VALUE")
        settings[key.strip()] = value
    result = run_job(input_path, output_path, model, tracking_uri, master, partitions, order_by, settings, note=_err)
    readouts = f" in {_count(result.readouts, 'readout')}" if result.readouts is not None else " (each alone)"
    typer.echo(f"tagged {_count(result.sentences, 'sentence')}{readouts} on {_count(result.partitions, 'partition')}: "
               f"{result.output} ({result.output_format})")


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def main() -> None:
    """Entry point: one clear line and exit code 2 for bad input, 130 for Ctrl-C."""
    try:
        _run()
    finally:
        # The process ends here: the interpreter's last garbage collection would walk every
        # object the libraries and the model made, ~0.1 s of a cold `readout tag`, to free
        # memory the OS takes back anyway. Frozen objects are left out of it.
        gc.freeze()


def _run() -> None:
    try:
        code = app(standalone_mode=False)
    except ReadoutError as exc:
        _err(f"error: {exc}")
        sys.exit(2)
    except (KeyboardInterrupt, typer.Abort):
        _err("interrupted")
        sys.exit(130)
    except NoArgsIsHelpError:  # `readout` alone: Typer has printed the help; that is success
        sys.exit(0)
    except typer.TyperException as exc:  # Typer's (vendored) click usage errors: bad option, bad --format...
        ctx = getattr(exc, "ctx", None)
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        _err(f"error: {' '.join(message.split())}{hint}")
        sys.exit(getattr(exc, "exit_code", 2))
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
