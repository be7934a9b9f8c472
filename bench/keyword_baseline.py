"""A plain keyword list written from the codebook (version 2, ``models/codebook_terms.py``): the
floor every model must beat. Each label is on when the sentence contains one of its terms; energy
that is bought or sold also gets trade, as the codebook says. No context, no learning.
``python bench/keyword_baseline.py FILE.jsonl`` prints its macro-F1 and per-label F1 on a
labelled file.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models.codebook_terms import LABELS, keyword_labels  # noqa: E402
from models.scoring import per_label  # noqa: E402


def score(path: Path) -> dict[str, float]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    Y = np.array([[label in row["labels"] for label in LABELS] for row in rows], dtype=int)
    D = np.array([[label in keyword_labels(row["text"]) for label in LABELS] for row in rows], dtype=int)
    f1 = per_label(Y, D)[2]
    return {"macro_f1": float(f1.mean()), **{f"f1_{label}": float(v) for label, v in zip(LABELS, f1)},
            "sentences": len(rows)}


if __name__ == "__main__":
    for name in sys.argv[1:]:
        print(name, json.dumps({k: round(v, 3) for k, v in score(Path(name)).items()}))
