"""The sentence splitter on real readouts and on the cases readouts are full of."""

import json

import pytest

from training.sentences import split_sentences

from helpers import SHARED


@pytest.mark.skipif(not (SHARED / "seeds").is_dir(), reason="../shared/seeds not beside the project")
def test_real_readouts_split_into_their_labelled_sentences():
    gold = [json.loads(line) for line in (SHARED / "seeds-labelled.jsonl").read_text().splitlines()]
    for source in sorted({row["source"] for row in gold}):
        expected = [row["text"] for row in gold if row["source"] == source]
        assert split_sentences((SHARED / "seeds" / source).read_text(encoding="utf-8")) == expected


@pytest.mark.parametrize("text, expected", [
    ("BEIJING: The PM met Dr. Li. They agreed.", ["BEIJING: The PM met Dr. Li.", "They agreed."]),
    ("He spoke in the U.S. Senate. Talks followed.", ["He spoke in the U.S. Senate.", "Talks followed."]),
    ("They met in the U.S. The talks ended.", ["They met in the U.S.", "The talks ended."]),
    ("“We agree,” he said. “Trade will grow.” Both sides left.",
     ["“We agree,” he said.", "“Trade will grow.”", "Both sides left."]),
    ("NAIROBI:\nThe two presidents met.", ["NAIROBI: The two presidents met."]),
    ("The ministers discussed\ntrade and energy.\nA new line.",
     ["The ministers discussed trade and energy.", "A new line."]),
    ("Headline without a stop\nThe body starts here.", ["Headline without a stop", "The body starts here."]),
    ("Gen. J. Smith visited on Jan. 5. Prices rose 3.5 percent.",
     ["Gen. J. Smith visited on Jan. 5.", "Prices rose 3.5 percent."]),
    ("Photo: The leaders meet. (Reuters)", ["Photo: The leaders meet. (Reuters)"]),
    ("\n\n  \n", []),
    # Hard-wrapped at a fixed width: a line that reaches near the width continues, capital or not.
    ("The ministers recalled the 1984 Treaty of Friendship and the Treaty of\nPeace signed in the capital.\n"
     "Both sides agreed to meet again in the coming months in the other capital.",
     ["The ministers recalled the 1984 Treaty of Friendship and the Treaty of Peace signed in the capital.",
      "Both sides agreed to meet again in the coming months in the other capital."]),
    ("1. The Ministers welcomed the plan. 2. They noted progress.\n(b) Trade rose.",
     ["1. The Ministers welcomed the plan.", "2. They noted progress.", "(b) Trade rose."]),
])
def test_split_rules(text, expected):
    assert split_sentences(text) == expected
