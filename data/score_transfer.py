"""Label the transfer readouts with a teacher model: ``data/transfer.jsonl``'s ``labels`` and
``scores`` are the teacher's, read readout by readout (each sentence beside its neighbours).

The transfer set is unlabelled text the project wrote (data/README.md); `configs/fast.yaml`
trains on it beside the corpus, so the fast family learns what the fine-tuned default knows
(knowledge distillation). Run from the repository root, with the teacher trained from
`configs/default.yaml`:

    python data/score_transfer.py --model models:/readout-tagger@champion --name "configs/default.yaml seed 13"

Rewrites the file in place (same rows and order; only ``labels``, ``scores`` and ``teacher``
change), so a new teacher is one command and a reviewable diff.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from training.references import load_tagger  # noqa: E402

TRANSFER = Path(__file__).with_name("transfer.jsonl")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="the teacher: a model reference or folder")
    parser.add_argument("--name", help="how the file names the teacher (default: the model reference)")
    parser.add_argument("--tracking-uri", default=None)
    parser.add_argument("--file", type=Path, default=TRANSFER)
    args = parser.parse_args()
    rows = [json.loads(line) for line in args.file.read_text(encoding="utf-8").splitlines() if line.strip()]
    tagger = load_tagger(args.model, args.tracking_uri)
    predictions = tagger.predict([r["text"] for r in rows], [r["doc_id"] for r in rows])
    teacher = f"{args.name or args.model} ({tagger.classifier.name}, saved {tagger.created})"
    with args.file.open("w", encoding="utf-8") as out:
        for row, p in zip(rows, predictions):
            row |= {"labels": p.labels, "scores": p.scores, "split": "train", "teacher": teacher}
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"{args.file}: {len(rows):,} sentences labelled by {teacher}")


if __name__ == "__main__":
    main()
