"""Family ``fast_linear``: TF-IDF word and character n-grams and the codebook's terms, summed
word by word so that serving is a table lookup per word, + one-vs-rest logistic regression.

The features differ from ``tfidf_linear``'s in one way that makes them cacheable: the character
block is the sum of each word's own n-gram vector ``u_w`` (sublinear counts x IDF, within the
word), normalised by ``sqrt(sum_w |u_w|^2)`` instead of the norm of the sum; the word block is
``sum_t idf_t e_t / sqrt(sum_t idf_t^2)`` over the sentence's word n-grams. A linear head's score
is then ``sum_w (W u_w) / sqrt(sum_w |u_w|^2)``: each distinct word's ``(W u_w, |u_w|^2)`` is
computed once and kept, beside its own word n-grams' part (its tokens and the bigrams inside it),
and tagging a sentence is a lookup per word, a search for the bigrams that span two words, and a
few sums. On the real
dev readouts it scores as scikit-learn's TF-IDF with the same features does
(bench/results/quality.md) and tags about three times faster. Serves in NumPy alone (no
scikit-learn, no SciPy) unless context is on.
"""

from __future__ import annotations

import json
from array import array
from collections import Counter
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from annotated_types import Ge

from models.base import sigmoid
from models.linear_head import LinearHeadClassifier, LinearHeadParams
from models.text import WORD, Cached, char_wb_grams, char_wb_ids, ngram_ids, ngrams, preprocess


@dataclass
class FastLinearParams(LinearHeadParams):
    family: Literal["fast_linear"] = "fast_linear"
    word_ngrams: tuple[int, int] = (1, 2)  # unigrams and/or bigrams
    char_ngrams: tuple[int, int] | None = (3, 5)  # within words; None: word n-grams only
    min_df: Annotated[int, Ge(1)] = 1
    # The codebook's terms (models.codebook_terms) as four on/off features of this weight (0: off).
    keywords: Annotated[float, Ge(0)] = 0.3

    def __post_init__(self):
        super().__post_init__()
        for name in ("word_ngrams", "char_ngrams"):
            ngrams = getattr(self, name)
            if ngrams is not None and not 1 <= ngrams[0] <= ngrams[1]:
                raise ValueError(f"{name}: give [low, high] with 1 <= low <= high")
        if self.word_ngrams[1] > 2:
            raise ValueError("word_ngrams: fast_linear reads word unigrams and bigrams: high is at most 2")


class _Vocabulary:
    """A fitted vocabulary (term -> column); after loading, read from its file on first use."""

    def __init__(self, filename: str):
        self.filename = filename

    def __set_name__(self, owner, name: str) -> None:
        self.key = f"_{name}"

    def __get__(self, model, owner=None):
        if model is None:
            return self
        if self.key not in model.__dict__:
            terms = _read_lines(model._folder / self.filename)
            model.__dict__[self.key] = dict(zip(terms, range(len(terms))))
        return model.__dict__[self.key]

    def __set__(self, model, vocabulary: dict[str, int]) -> None:
        model.__dict__[self.key] = vocabulary


class FastLinear(LinearHeadClassifier):
    name = "fast_linear"
    Params = FastLinearParams
    run_name_keys = {"C": "C", "keywords": "kw"}

    # ---- training ----------------------------------------------------------------------------

    def _fit(self, texts, Y, doc_ids, validation, on_epoch):
        from models.codebook_terms import CodebookTerms

        p = self.params
        plain = list(map(preprocess, texts))
        low, high = p.word_ngrams
        index: dict[str, int] = {}
        found = [array("q", (index.setdefault(g, len(index)) for n in range(low, high + 1)
                             for g in ngrams(WORD.findall(text), n))).tobytes() for text in plain]
        self.word_vocabulary_, self.word_idf_ = _vocabulary(index, found, p.min_df)
        self.char_vocabulary_, self.char_idf_ = {}, np.zeros(0, dtype=np.float32)
        if p.char_ngrams:
            low, high = p.char_ngrams
            index = {}  # each distinct word's n-grams numbered once
            ids_of = Cached(lambda word: array("q", (index.setdefault(g, len(index))
                                                      for g in char_wb_grams(f" {word} ", low, high))).tobytes())
            found = [b"".join(map(ids_of.__getitem__, text.split())) for text in plain]
            self.char_vocabulary_, self.char_idf_ = _vocabulary(index, found, p.min_df)
        self.terms_ = CodebookTerms()
        self._fit_words = sorted({word for text in plain for word in text.split()})
        self._tables = None  # the serving tables depend on the head: built once it is fitted
        self._fit_head(self._features(texts), Y, doc_ids, validation, on_epoch)

    def _features(self, texts):
        """The features as a SciPy matrix (training, context, evidence): word block, character
        block, codebook terms."""
        import scipy.sparse as sp

        n, texts = len(texts), list(map(preprocess, texts))
        ids, lengths = self._token_ids(texts)
        rows = np.repeat(np.arange(n), lengths)
        idf = self.word_idf_[ids]
        norms = _safe_sqrt(np.bincount(rows, weights=idf * idf, minlength=n))
        blocks = [sp.csr_matrix((idf / norms[rows], (rows, ids)), shape=(n, len(self.word_idf_)))]
        index: dict[str, int] = {}  # each distinct word, once
        words = [[index.setdefault(w, len(index)) for w in text.split()] for text in texts]
        lengths = np.fromiter(map(len, words), dtype=np.int64, count=n)
        T = sp.csr_matrix((np.ones(int(lengths.sum())), (np.repeat(np.arange(n), lengths),
                                                         [w for row in words for w in row])), shape=(n, len(index)))
        if self.char_vocabulary_:
            grams, vals, sizes = self._char_values(list(index))
            U = sp.csr_matrix((vals, grams, np.concatenate([[0], np.cumsum(sizes)])),
                              shape=(len(index), len(self.char_idf_)))
            squares = np.asarray(U.multiply(U).sum(axis=1)).ravel()
            blocks.append(sp.diags(1.0 / _safe_sqrt(T @ squares)) @ (T @ U))
        if self.params.keywords:
            in_text = np.asarray(T @ self._term_bits(list(index))) > 0
            bits = self._with_phrases(texts, in_text[:, :-1], in_text[:, -1])
            blocks.append(sp.csr_matrix(bits * self.params.keywords))
        return sp.hstack(blocks, format="csr")

    def _char_values(self, words: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each word's own character n-gram vector, sublinear counts x IDF, as the columns and
        values of all words concatenated and how many each word has (training and serving)."""
        low, high = self.params.char_ngrams
        grams, counts, sizes = array("q"), array("d"), array("q")
        for word in words:
            found = Counter(char_wb_ids(f" {word} ", low, high, self.char_vocabulary_))
            grams.extend(found), counts.extend(found.values()), sizes.append(len(found))
        grams = np.frombuffer(grams, dtype=np.int64)
        vals = (1.0 + np.log(np.frombuffer(counts, dtype=np.float64))) * self.char_idf_[grams]
        return grams, vals, np.frombuffer(sizes, dtype=np.int64)

    def _term_bits(self, words: list[str]) -> np.ndarray:
        """Per word: the codebook labels whose single-word terms it holds, and whether a
        multi-word term may start in it (``_with_phrases`` reads the texts for those)."""
        terms = self.terms_
        return np.array([terms.found_in_word(w) + [terms.may_start_phrase(w)] for w in words],
                        dtype=np.float64).reshape(len(words), len(terms.labels) + 1)

    # ---- serving -----------------------------------------------------------------------------

    def _predict_proba(self, texts, doc_ids):
        if self.params.context.enabled:  # context blocks are built with SciPy
            return super()._predict_proba(texts, doc_ids)
        if self._tables is None:
            self._tables = _Tables(self)
        k, texts = self.coef_.shape[0], list(map(preprocess, texts))
        # (n, 2k + 2 + 4 + 1) per text: the word n-grams' part of each label's score and their
        # sum of idf^2, the same for the character block, the codebook labels found in words,
        # whether a multi-word term may start in one (``_WordTable``).
        sums = self._tables.sums(list(map(str.split, texts)))  # char_wb's words: whole word tokens
        logits = self.intercept_ + sums[:, :k] / _safe_sqrt(sums[:, k])[:, None]
        if self.params.char_ngrams:
            logits += sums[:, k + 1:2 * k + 1] / _safe_sqrt(sums[:, 2 * k + 1])[:, None]
        if self.params.keywords:
            bits = self._with_phrases(texts, sums[:, 2 * k + 2:-1] > 0, sums[:, -1] > 0)
            logits += self.params.keywords * bits @ self.coef_[:, -bits.shape[1]:].T
        return sigmoid(logits)

    def _token_ids(self, texts) -> tuple[np.ndarray, np.ndarray]:
        """The known word n-grams of each preprocessed text (ids, concatenated) and how many each has."""
        found, lengths = ngram_ids(texts, self.params.word_ngrams, self.word_vocabulary_)
        return np.frombuffer(found, dtype=np.intc).astype(np.int64), np.frombuffer(lengths, dtype=np.int64)

    def _with_phrases(self, texts, in_words: np.ndarray, may_hold_phrase: np.ndarray) -> np.ndarray:
        """``terms_.found`` for each preprocessed text: its words' finds (the word table's), plus
        the terms that span words and the energy-trade rule, read from the texts that need it."""
        terms, bits = self.terms_, in_words.copy()
        for i in np.flatnonzero(may_hold_phrase):
            bits[i] |= terms.found_in_phrases(texts[i])
        if {"energy", "trade"} <= set(terms.labels):
            energy, trade = terms.labels.index("energy"), terms.labels.index("trade")
            for i in np.flatnonzero(bits[:, energy] & ~bits[:, trade]):
                bits[i] = terms.with_trade_rule(bits[i].tolist(), texts[i])
        return bits.astype(np.float64)

    # ---- saving ------------------------------------------------------------------------------

    def _save(self, folder: Path) -> None:
        # Plain text and arrays, no pickle; the serving tables are saved too, so a cold
        # ``readout tag`` reads them instead of rebuilding them (~1 s) from the vocabularies.
        if self._tables is None:
            self._tables = _Tables(self)
        # The training words are scored once, here, and saved: tagging then looks them up.
        self._tables.words.add_all(self.__dict__.get("_fit_words", []))
        _write_lines(folder / "word_terms.txt", _in_id_order(self.word_vocabulary_))
        _write_lines(folder / "char_terms.txt", _in_id_order(self.char_vocabulary_))
        (folder / "terms.json").write_text(json.dumps(self.terms_.settings(), ensure_ascii=False))
        np.savez(folder / "idf.npz", word=self.word_idf_, char=self.char_idf_)
        self._save_head(folder)
        self._tables.save(folder)

    def _load(self, folder: Path) -> None:
        from models.codebook_terms import CodebookTerms

        self._folder = folder  # the vocabularies are read from it on first use
        with np.load(folder / "idf.npz", allow_pickle=False) as arrays:
            self.word_idf_, self.char_idf_ = arrays["word"], arrays["char"]
        self.terms_ = CodebookTerms(**json.loads((folder / "terms.json").read_text()))
        self._load_head(folder)
        self._tables = _Tables(self, folder)

    # n-gram -> its feature column. Serving a loaded model reads the tables; the character
    # vocabulary only for a word the tables lack, the word vocabulary for context or evidence.
    word_vocabulary_ = _Vocabulary("word_terms.txt")
    char_vocabulary_ = _Vocabulary("char_terms.txt")


class _Tables:
    """What serving looks up, from the fitted head: a row per word n-gram (its part of each
    label's score before the norm, and idf^2), and a row per whitespace word seen so far
    (``_WordTable``) that already holds its own unigrams and bigrams. Only the bigrams that span
    two words are looked up per sentence: by integer keys (first token x width + second token)
    and one NumPy search, not string joins."""

    def __init__(self, model: FastLinear, folder: Path | None = None):
        self.model = model
        self.low, self.high = model.params.word_ngrams
        if folder is None:
            self.tokens, self.unigrams, self.pairs, self.bigrams = self._build(model)
        else:
            self.tokens = _read_lines(folder / "tokens.txt")
            with np.load(folder / "tables.npz", allow_pickle=False) as arrays:
                self.unigrams, self.pairs, self.bigrams = arrays["unigrams"], arrays["pairs"], arrays["bigrams"]
        self.width = len(self.tokens) + 1  # the unknown token's id is len(tokens): no n-gram holds it
        self.token_of = _TokenIds(dict(zip(self.tokens, range(len(self.tokens)))), unknown=len(self.tokens))
        self.words = _WordTable(self, folder)

    @staticmethod
    def _build(model: FastLinear):
        """The word n-gram tables from the vocabulary and the head: tokens, a row per token,
        and the bigrams as sorted keys with their rows."""
        k, vocabulary = model.coef_.shape[0], model.word_vocabulary_
        rows = np.column_stack([(model.coef_[:, :len(model.word_idf_)] * model.word_idf_).T,
                                model.word_idf_.astype(np.float64) ** 2])
        tokens = sorted({token for term in vocabulary for token in term.split(" ")})
        token_of, width = {token: i for i, token in enumerate(tokens)}, len(tokens) + 1
        unigrams = np.zeros((width, k + 1))
        pairs, pair_rows = [], []
        for term, i in vocabulary.items():
            parts = term.split(" ")
            if len(parts) == 1:
                unigrams[token_of[term]] = rows[i]
            else:
                pairs.append(token_of[parts[0]] * width + token_of[parts[1]])
                pair_rows.append(i)
        order = np.argsort(np.asarray(pairs, dtype=np.int64), kind="stable")
        bigrams = rows[np.asarray(pair_rows, dtype=np.int64)[order]] if pairs else np.zeros((0, k + 1))
        return tokens, unigrams, np.asarray(pairs, dtype=np.int64)[order], bigrams

    def save(self, folder: Path) -> None:
        _write_lines(folder / "tokens.txt", self.tokens)
        np.savez(folder / "tables.npz", unigrams=self.unigrams, pairs=self.pairs, bigrams=self.bigrams)
        self.words.save(folder)

    def bigram_sums(self, left: np.ndarray, right: np.ndarray, group: np.ndarray, n: int) -> np.ndarray:
        """Per group (``n`` of them), the sum of the bigram rows of each token and the next in a
        sequence of tokens: ``left[i], right[i]`` is the pair at positions i and i + 1, and
        ``group`` says which group each position is in (a pair across two groups counts for none)."""
        if not len(self.pairs):
            return np.zeros((n, self.bigrams.shape[1]))
        keys = left * self.width + right
        at = np.minimum(np.searchsorted(self.pairs, keys), len(self.pairs) - 1)
        hit = (self.pairs[at] == keys) & (group[:-1] == group[1:])
        return _row_sums(self.bigrams[at[hit]], np.bincount(group[:-1][hit], minlength=n))

    def sums(self, words: list[list[str]]) -> np.ndarray:
        """Per text (its preprocessed words): the sum of its words' rows, plus the bigrams from
        one word's last token to the next word's first."""
        if len(self.words.words) > _WordTable.LIMIT:  # bounded for long-running servers
            self.words = _WordTable(self)
        table, row_of = self.words, self.words.row_of
        every = list(chain.from_iterable(words))  # loops in C from here: no Python frame per word
        table.add_all(every)  # the batch's new words, at once
        rows = np.fromiter(map(row_of.__getitem__, every), dtype=np.int64, count=len(every))
        lengths = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
        sums = _row_sums(table.rows[rows], lengths)
        if self.high == 2 and len(rows) > 1:
            text_of = np.repeat(np.arange(len(lengths)), lengths)
            held = table.first[rows] >= 0  # words with no token (punctuation) leave the chain unbroken
            rows, text_of = rows[held], text_of[held]
            sums[:, :self.unigrams.shape[1]] += self.bigram_sums(table.last[rows[:-1]], table.first[rows[1:]],
                                                                 text_of, len(lengths))
        return sums


class _TokenIds(dict):
    """token -> its id; every token no n-gram holds -> one shared id."""

    def __init__(self, ids: dict[str, int], unknown: int):
        super().__init__(ids)
        self.unknown = unknown

    def __missing__(self, token: str) -> int:
        return self.unknown


class _WordTable:
    """word -> a row of (its word n-grams' part of each label's score and their idf^2: its
    tokens' unigrams and the bigrams inside it; the same for its character n-grams, |u_w|^2;
    the codebook labels whose single-word terms it holds; whether a multi-word term may start
    in it), and its first and last token ids (-1: no token), computed on first sight and kept.
    A new table starts before a batch once it holds ``LIMIT`` words."""

    LIMIT = 500_000
    FILE = "word_table.npz"  # with words.txt: the training words, scored when the model is saved

    def __init__(self, tables: _Tables, folder: Path | None = None):
        self.tables, model = tables, tables.model
        self.width = 2 * (model.coef_.shape[0] + 1) + len(model.terms_.labels) + 1
        self.rows = np.zeros((0, self.width))
        self.first = self.last = np.zeros(0, dtype=np.int64)
        self.words: list[str] = []
        self.row_of: dict[str, int] = {}  # filled by add_all before any lookup
        if folder is not None and (folder / self.FILE).is_file():
            self.words = _read_lines(folder / "words.txt")
            with np.load(folder / self.FILE, allow_pickle=False) as arrays:
                self.rows, self.first, self.last = arrays["rows"], arrays["first"], arrays["last"]
            self.row_of.update(zip(self.words, range(len(self.words))))

    def save(self, folder: Path) -> None:
        n = len(self.words)
        _write_lines(folder / "words.txt", self.words)
        np.savez(folder / self.FILE, rows=self.rows[:n], first=self.first[:n], last=self.last[:n])

    def add_all(self, words) -> None:
        """Score those of ``words`` not in the table yet, all at once: a batch of new words costs a few
        NumPy calls, not a few per word (a readout archive meets many: names, places)."""
        row_of = self.row_of
        words = sorted(set(words).difference(row_of))  # in C; sorted: the table's order is the same each run
        if not words:
            return
        tables, model = self.tables, self.tables.model
        k, m, n = model.coef_.shape[0], len(words), len(self.words)
        rows = np.zeros((m, self.width))
        # Word n-grams: each word's tokens' unigrams, and the bigrams between its own tokens.
        ids, lengths = array("q"), array("q")
        for word in words:
            start = len(ids)
            ids.extend(map(tables.token_of.__getitem__, WORD.findall(word)))
            lengths.append(len(ids) - start)
        ids, lengths = np.frombuffer(ids, dtype=np.int64), np.frombuffer(lengths, dtype=np.int64)
        word_of = np.repeat(np.arange(m), lengths)
        if tables.low == 1:
            rows[:, :k + 1] = _row_sums(tables.unigrams[ids], lengths)
        if tables.high == 2 and len(ids) > 1:
            rows[:, :k + 1] += tables.bigram_sums(ids[:-1], ids[1:], word_of, m)
        # Character n-grams: sublinear counts x IDF within each word, through the head.
        if model.params.char_ngrams:
            grams, vals, sizes = model._char_values(words)
            head = model.coef_[:, len(model.word_idf_):]
            rows[:, k + 1:2 * k + 1] = _row_sums((head[:, grams] * vals).T, sizes)
            rows[:, 2 * k + 1] = np.bincount(np.repeat(np.arange(m), sizes), weights=vals * vals, minlength=m)
        rows[:, 2 * k + 2:] = model._term_bits(words)
        if n + m > len(self.rows):  # grow by doubling
            size = max(1024, 2 * (n + m))
            self.rows = np.concatenate([self.rows[:n], np.zeros((size - n, self.width))])
            self.first = np.concatenate([self.first[:n], np.full(size - n, -1, dtype=np.int64)])
            self.last = np.concatenate([self.last[:n], np.full(size - n, -1, dtype=np.int64)])
        self.rows[n:n + m] = rows
        held = np.flatnonzero(lengths)
        ends = np.cumsum(lengths)
        self.first[n + held], self.last[n + held] = ids[ends[held] - lengths[held]], ids[ends[held] - 1]
        self.words += words
        row_of.update(zip(words, range(n, n + m)))


def _in_id_order(vocabulary: dict[str, int]) -> list[str]:
    terms = [""] * len(vocabulary)
    for term, i in vocabulary.items():
        terms[i] = term
    return terms


def _write_lines(path: Path, terms: list[str]) -> None:
    """Terms one per line (none holds a line break: words are split on whitespace)."""
    path.write_text("\n".join(terms), encoding="utf-8")


def _read_lines(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    return text.split("\n") if text else []


def _vocabulary(index: dict[str, int], found: list[bytes], min_df: int) -> tuple[dict[str, int], np.ndarray]:
    """From n-grams numbered by ``index`` and each text's n-gram ids (int64 bytes): the n-grams
    in at least ``min_df`` texts -> new ids, and their IDF as scikit-learn smooths it,
    ``ln((1 + n) / (1 + df)) + 1``. One sort of (text, n-gram) keys counts the texts of each."""
    lengths = np.fromiter(map(len, found), dtype=np.int64, count=len(found)) // 8
    width = max(len(index), 1)
    keys = np.repeat(np.arange(len(found), dtype=np.int64) * width, lengths) + np.frombuffer(b"".join(found), np.int64)
    keys.sort()
    distinct = keys[np.flatnonzero(np.diff(keys, prepend=-1))] % width
    df = np.bincount(distinct, minlength=len(index))
    keep = np.flatnonzero(df >= min_df)
    terms = list(index)  # in id order
    vocabulary = {terms[i]: j for j, i in enumerate(keep.tolist())}
    idf = np.log((1.0 + len(found)) / (1.0 + df[keep])) + 1.0
    return vocabulary, idf.astype(np.float32)


def _row_sums(values: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The sum of each text's rows of ``values`` (rows concatenated text by text)."""
    starts = np.zeros(len(lengths), dtype=np.int64)
    np.cumsum(lengths[:-1], out=starts[1:])
    # A zero row at the end gives every start a row to point at (a text without rows, last ones too).
    padded = np.concatenate([values, np.zeros((1, values.shape[1]))])
    sums = np.add.reduceat(padded, starts, axis=0) if len(lengths) else np.zeros((0, values.shape[1]))
    sums[lengths == 0] = 0.0  # reduceat gives an empty text the next row
    return sums


def _safe_sqrt(squares) -> np.ndarray:
    roots = np.sqrt(np.asarray(squares, dtype=np.float64))
    roots[roots == 0] = 1.0
    return roots
