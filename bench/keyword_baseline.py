"""A plain keyword list written from the codebook (version 2): the floor every model must beat.

Each label is on when the sentence contains one of its terms (word prefixes, case-insensitive);
energy that is bought or sold also gets trade, as the codebook says. No context, no learning.
``python bench/keyword_baseline.py FILE.jsonl`` prints its macro-F1 and per-label F1 on a
labelled file.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models.scoring import per_label  # noqa: E402

LABELS = ["trade", "energy", "defence", "culture"]
TERMS = {
    "trade": ["trade", "tariff", "export", "import", "invest", "market access", "business", "economic", "economy",
              "finance", "financial", "bank", "payment", "currency", "agricultur", "food", "fertili", "cereal",
              "grain", "wheat", "industr", "factor", "manufactur", "mineral", "mining", "lithium", "corridor",
              "special economic zone", "rail", "port", "logistic", "belt and road", "commerc", "customs",
              "free trade", "supply chain", "goods"],
    "energy": ["energy", "oil", "gas", "lng", "pipeline", "electric", "power plant", "nuclear power", "renewable",
               "solar", "wind", "hydro", "coal", "uranium", "refiner", "grid", "petrol", "crude", "fuel"],
    "defence": ["defence", "defense", "military", "arms", "weapon", "army", "navy", "naval", "air force", "troops",
                "exercise", "drill", "security cooperation", "counter-terror", "counterterror", "terroris",
                "intelligence", "border security", "maritime security", "coast guard", "peacekeep", "cyber",
                "non-proliferation", "nonproliferation", "jets", "fighter", "missile", "warship", "submarine"],
    "culture": ["cultur", "art", "heritage", "museum", "religio", "pilgrim", "hajj", "umrah", "language",
                "educat", "universit", "student", "scholarship", "academic", "people-to-people", "tourism",
                "tourist", "sport", "football", "cricket", "olympic", "media", "film", "youth", "festival"],
}
BOUGHT_OR_SOLD = re.compile(r"\b(buy|bought|purchas|sell|sold|sale|import|export|price|pric|invest)", re.I)
_PATTERNS = {label: re.compile(r"\b(" + "|".join(map(re.escape, terms)) + r")", re.I) for label, terms in TERMS.items()}


def keyword_labels(sentence: str) -> list[str]:
    on = {label for label, pattern in _PATTERNS.items() if pattern.search(sentence)}
    if "energy" in on and BOUGHT_OR_SOLD.search(sentence):
        on.add("trade")
    return [label for label in LABELS if label in on]


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
