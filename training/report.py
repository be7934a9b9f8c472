"""``readout report``: an archive of readouts, tagged, as one self-contained HTML file.

The page (``training/report.html``) is plain HTML, CSS and JavaScript with no network access: the
tagged archive is embedded in it as JSON, and the page draws its charts as inline SVG, a
sortable, filterable, paginated table of readouts, and each readout with its sentences coloured
by label and the evidence words marked. Sentences are stored compactly (scores to 3 decimals,
labels as a bit mask) so that 2,000 readouts stay a few megabytes (bench/bench_report.py).
"""

from __future__ import annotations

import datetime as dt
import html
import json
from collections.abc import Iterable
from importlib import resources
from pathlib import Path

from training.archive import Readout

PALETTE = {"trade": "#2563eb", "energy": "#d97706", "defence": "#dc2626", "culture": "#059669"}
SPARE_COLOURS = ("#7c3aed", "#db2777", "#0891b2", "#65a30d", "#9333ea", "#ea580c")
PLACEHOLDER = "/*REPORT_DATA*/null"


def colours(labels: list[str]) -> dict[str, str]:
    spare = iter(SPARE_COLOURS * (len(labels) // len(SPARE_COLOURS) + 1))
    return {label: PALETTE.get(label) or next(spare) for label in labels}


def report_data(tagger, tagged: Iterable[tuple[Readout, list]], model: dict, title: str) -> dict:
    """The JSON the page reads: the model, the labels and every readout with its sentences.

    A sentence is ``[text, mask, scores, evidence]``: bit k of ``mask`` is label k, ``scores``
    one per label, ``evidence`` a list of ``[label index, start, end, weight]``."""
    labels = tagger.labels
    index = {label: k for k, label in enumerate(labels)}
    docs = []
    for readout, predictions in tagged:
        sentences = []
        for p in predictions:
            mask = sum(1 << index[label] for label in p.labels)
            evidence = [[index[label], w.start, w.end, w.weight]
                        for label, words in (p.evidence or {}).items() for w in words]
            sentences.append([p.sentence, mask, [round(p.scores[label], 3) for label in labels], evidence])
        meta = readout.meta
        countries = meta.get("countries")
        docs.append({"id": readout.doc_id, "title": str(meta.get("title") or readout.doc_id),
                     "date": str(meta["date"])[:10] if meta.get("date") else None,
                     "countries": [str(c) for c in countries] if isinstance(countries, list) else
                     ([str(countries)] if countries else []),
                     "source": readout.source, "s": sentences})
    return {
        "title": title,
        "generated": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
        "labels": labels,
        "colours": colours(labels),
        "thresholds": [round(float(t), 3) for t in tagger.thresholds_],
        "model": {**model, "family": tagger.classifier.name, "created": tagger.created},
        "docs": docs,
    }


def render(data: dict) -> str:
    """The page with ``data`` embedded (``</`` escaped so no sentence can end the script)."""
    template = resources.files("training").joinpath("report.html").read_text(encoding="utf-8")
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")
    return template.replace(PLACEHOLDER, payload, 1).replace("{{title}}", html.escape(data["title"]))


def write_report(tagger, readouts: Iterable[Readout], out: Path, model: dict, title: str = "Readout report",
                 explain: bool = True, progress: bool = True) -> dict:
    """Tag ``readouts``, write the report to ``out`` (atomically) and return its counts."""
    import sys

    from training.batch import progress_bar, tag_readouts

    with progress_bar(progress and sys.stderr.isatty(), sys.stderr) as rate:
        data = report_data(tagger, tag_readouts(tagger, readouts, explain, on_progress=rate.add), model, title)
    partial = out.with_name(out.name + ".partial")
    try:
        partial.write_text(render(data), encoding="utf-8")
    except OSError as exc:
        from training.errors import ReadoutError

        raise ReadoutError(f"cannot write {out}: {exc.strerror}") from None
    partial.replace(out)
    return {"readouts": rate.readouts, "sentences": rate.sentences, "bytes": out.stat().st_size,
            "seconds": round(rate.seconds, 1)}
