"""Tagging a stream of readouts in chunks: readouts in, ``(readout, predictions)`` out, with the
rate reported as it goes.

Readouts are gathered until a chunk holds ``chunk`` sentences (a readout is never cut), tagged in
one ``Tagger.predict`` call (each readout's sentences are each other's context) and handed on, so
memory holds one chunk whatever the archive's size.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator

from training.archive import Readout

CHUNK_SENTENCES = 4096  # large enough that per-call overhead is lost in the noise (bench/bench_batch.py)


def tag_readouts(tagger, readouts: Iterable[Readout], explain: bool = False, chunk: int = CHUNK_SENTENCES,
                 on_progress: Callable[[int, int], None] | None = None) -> Iterator[tuple[Readout, list]]:
    """Each readout with its predictions, in input order. A readout whose ``doc_id`` is None is a
    lone sentence (no context). ``on_progress(readouts, sentences)`` after each chunk."""
    pending: list[Readout] = []
    size = 0
    for readout in readouts:
        pending.append(readout)
        size += len(readout.sentences)
        if size >= chunk:
            yield from _tag_chunk(tagger, pending, explain, on_progress)
            pending, size = [], 0
    if pending:
        yield from _tag_chunk(tagger, pending, explain, on_progress)


def _tag_chunk(tagger, readouts: list[Readout], explain: bool, on_progress):
    texts = [s for r in readouts for s in r.sentences]
    # Keys by position, not doc_id: two readouts with one name stay two readouts.
    doc_ids = [None if r.doc_id is None else str(k) for k, r in enumerate(readouts) for _ in r.sentences]
    predictions = tagger.predict(texts, doc_ids)
    if explain:
        tagger.explain(predictions, doc_ids)
    if on_progress is not None:
        on_progress(len(readouts), len(texts))
    start = 0
    for readout in readouts:
        yield readout, predictions[start:start + len(readout.sentences)]
        start += len(readout.sentences)


class Rate:
    """Sentences and readouts done, and the tagging rate since it was made; ``redraw(rate)`` after
    each ``add`` (a progress bar)."""

    def __init__(self, redraw: Callable[[Rate], None] | None = None) -> None:
        self.readouts = self.sentences = 0
        self.redraw = redraw
        self.started = time.perf_counter()

    def add(self, readouts: int, sentences: int) -> None:
        self.readouts += readouts
        self.sentences += sentences
        if self.redraw is not None:
            self.redraw(self)

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.started

    @property
    def per_second(self) -> float:
        return self.sentences / max(self.seconds, 1e-9)

    def summary(self) -> str:
        return (f"tagged {self.sentences:,} sentences in {self.readouts:,} readouts in {self.seconds:.1f} s "
                f"({self.per_second:,.0f} sentences/s)")


def tag_to(tagger, readouts: Iterable[Readout], alone: bool, fmt, out=None, explain: bool = False,
           progress: bool = True, stdout=None, stderr=None) -> int:
    """Tag ``readouts`` and write them in ``fmt`` to ``out`` (a path) or standard output; returns
    the blank lines skipped. A file is written as ``NAME.partial`` and renamed when complete, so
    an interrupted run never leaves a truncated file under the name asked for. The progress bar
    (stderr) shows for readouts when both stderr and the output are a terminal or a file."""
    import sys

    from training.errors import ReadoutError
    from training.outputs import Format, rows, writer

    stdout, stderr = stdout or sys.stdout, stderr or sys.stderr
    if fmt is Format.parquet and out is None:
        raise ReadoutError("parquet is binary: give --out FILE.parquet")
    partial = None if out is None else out.with_name(out.name + ".partial")
    stream = stdout if partial is None else _open(partial, binary=fmt is Format.parquet)
    shown = progress and not alone and stderr.isatty() and (out is not None or stdout.isatty())
    skipped = 0
    try:
        sink = writer(fmt, stream, tagger.labels, tagger)
        # The model's libraries load on first use: here, on one sentence, before the rate starts.
        tagger.predict(["start"])
        with progress_bar(shown, stderr) as rate:
            for readout, predictions in tag_readouts(tagger, readouts, explain, on_progress=rate.add):
                skipped += readout.skipped
                sink.write(list(rows(readout, predictions, alone)))
            sink.close()
    except BaseException:
        if partial is not None:
            stream.close()
            partial.unlink(missing_ok=True)
        raise
    if partial is not None:
        stream.close()
        partial.replace(out)
    if shown:
        stderr.write(rate.summary() + (f" -> {out}" if out else "") + "\n")
    return skipped


def _open(path, binary: bool):
    from training.errors import ReadoutError

    try:
        return path.open("wb") if binary else path.open("w", encoding="utf-8", newline="")
    except OSError as exc:
        raise ReadoutError(f"cannot write {str(path).removesuffix('.partial')}: {exc.strerror}") from None


def progress_bar(shown: bool, stderr):
    """A context giving a ``Rate`` that starts once the bar is up (its start-up is not tagging
    time) and redraws a rich progress bar on stderr at each ``add``; without ``shown``, no bar."""
    from contextlib import contextmanager

    @contextmanager
    def bar():
        if not shown:
            yield Rate()
            return
        from rich.console import Console
        from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        columns = (SpinnerColumn(), TextColumn("tagging"), BarColumn(),
                   TextColumn("{task.fields[sentences]:,} sentences · {task.fields[readouts]:,} readouts · "
                              "{task.fields[rate]:,.0f} sentences/s"), TimeElapsedColumn())
        # Four redraws a second: the drawing thread then costs the tagging loop nothing measurable.
        with Progress(*columns, console=Console(file=stderr), transient=True, refresh_per_second=4) as view:
            task = view.add_task("tag", total=None, sentences=0, readouts=0, rate=0.0)
            yield Rate(lambda rate: view.update(task, sentences=rate.sentences, readouts=rate.readouts,
                                                rate=rate.per_second))

    return bar()
