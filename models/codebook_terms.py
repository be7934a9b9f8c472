"""The codebook's terms (version 2): a plain keyword list per label.

Two users: ``bench/keyword_baseline.py`` (the floor every model must beat: a label is on when
one of its terms is in the sentence) and the TF-IDF families' ``keywords`` option (``fast_linear``,
``tfidf_linear``), where the same four on/off signals are four extra features the head weighs
against the n-grams. Terms are word prefixes, read in lowercased, accent-stripped text; energy that
is bought or sold also gets trade, as the codebook says.
"""

from __future__ import annotations

import re

from models.text import preprocess

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
BOUGHT_OR_SOLD = r"\b(buy|bought|purchas|sell|sold|sale|import|export|price|pric|invest)"


class CodebookTerms:
    """The terms compiled. A sentence is read as the TF-IDF families read it (lowercase, accents
    stripped, split on whitespace): a single-word term is found in one word, so a fast family can
    keep each word's finds; a term with a space ("market access") is looked for in the sentence."""

    def __init__(self, terms: dict[str, list[str]] | None = None, bought_or_sold: str = BOUGHT_OR_SOLD):
        self.terms, self.bought_or_sold = terms or TERMS, bought_or_sold
        self.labels = list(self.terms)
        words = [_trie([t for t in ts if " " not in t]) for ts in self.terms.values()]
        self._word = [re.compile(rf"\b{w}") if w else None for w in words]
        phrases = [_trie([t for t in ts if " " in t]) for ts in self.terms.values()]
        # One pass over the text for every label's multi-word terms: a named group per label.
        either = "|".join(f"(?P<l{k}>{p})" for k, p in enumerate(phrases) if p)
        self._phrases = re.compile(rf"\b(?:{either})") if either else None
        self._firsts = sorted({t.split(" ")[0] for ts in self.terms.values() for t in ts if " " in t})
        self._sold = re.compile(bought_or_sold)
        self._energy = self.labels.index("energy") if "energy" in self.terms else None
        self._trade = self.labels.index("trade") if "trade" in self.terms else None

    def found(self, sentence: str) -> list[bool]:
        """For each label, whether ``sentence`` names one of its terms (the energy-trade rule
        applied)."""
        text = preprocess(sentence)
        on = self.found_in_phrases(text)
        for word in text.split():
            on = [a or b for a, b in zip(on, self.found_in_word(word))]
        return self.with_trade_rule(on, text)

    def found_in_word(self, word: str) -> list[bool]:
        """Which labels' single-word terms a preprocessed word holds."""
        return [p is not None and p.search(word) is not None for p in self._word]

    def found_in_phrases(self, text: str) -> list[bool]:
        """Which labels' multi-word terms a preprocessed text holds."""
        on = [False] * len(self.labels)
        if self._phrases is not None:
            for m in self._phrases.finditer(text):
                on[int(m.lastgroup[1:])] = True
        return on

    def may_start_phrase(self, word: str) -> bool:
        """False when no multi-word term can start in this word: a text none of whose words may
        start one needs no ``found_in_phrases``."""
        return any(first in word for first in self._firsts)

    def with_trade_rule(self, on: list[bool], text: str) -> list[bool]:
        """Energy bought or sold is trade too (codebook v2)."""
        if self._energy is not None and self._trade is not None and on[self._energy] and not on[self._trade]:
            on = list(on)
            on[self._trade] = self._sold.search(text) is not None
        return on

    def spans(self, sentence: str) -> list[tuple[int, int, int]]:
        """``(label index, start, end)`` of each term found (the energy-trade rule's trade too),
        in ``sentence``'s own characters where lowercasing keeps them in place."""
        text = sentence.lower()
        out = [(k, m.start(), m.end()) for k, p in enumerate(self._word) if p is not None for m in p.finditer(text)]
        if self._phrases is not None:
            out += [(int(m.lastgroup[1:]), m.start(), m.end()) for m in self._phrases.finditer(text)]
        if self._trade is not None and self._energy is not None and any(k == self._energy for k, _, _ in out):
            out += [(self._trade, m.start(), m.end()) for m in self._sold.finditer(text)]
        return out

    def settings(self) -> dict:
        return {"terms": self.terms, "bought_or_sold": self.bought_or_sold}


def _trie(terms: list[str]) -> str | None:
    """A regex for any of ``terms`` as a trie of their characters: several times faster to
    search than a list of alternatives. None for no terms."""
    if not terms:
        return None
    trie: dict = {}
    for term in terms:
        node = trie
        for ch in term:
            node = node.setdefault(ch, {})
        node[""] = {}

    def regex(node: dict) -> str:
        branches = [re.escape(ch) + regex(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if "" in node else body

    return regex(trie)


_DEFAULT = CodebookTerms()


def keyword_labels(sentence: str) -> list[str]:
    """The labels whose terms ``sentence`` contains (with the energy-trade rule)."""
    return [label for label, on in zip(_DEFAULT.labels, _DEFAULT.found(sentence)) if on]
