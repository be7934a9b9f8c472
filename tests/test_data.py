"""Data files are checked row by row (file:line in every message) and split by document."""

import json

import pytest

from training.config import DataConfig
from training.data import load_data, read_rows
from training.errors import ReadoutError

from helpers import write_jsonl


def _error(path, **config):
    with pytest.raises(ReadoutError) as caught:
        read_rows(DataConfig(path=path, **config))
    assert "\n" not in str(caught.value)
    return str(caught.value)


def _rows(n_docs=6, per_doc=4):
    return [{"text": f"Sentence {i} of readout {d} about cooperation number {d * 10 + i}.",
             "labels": ["trade"] if i % 2 else [], "doc_id": f"d{d}"} for d in range(n_docs) for i in range(per_doc)]


def test_malformed_json_line_is_reported_with_its_number(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "a b c", "labels": [], "doc_id": "1"}\n{"text": "oops", "labels": [\n')
    assert f"{path}:2: malformed JSON" in _error(path)


def test_label_outside_the_label_set(tmp_path):
    rows = _rows()
    rows[3]["labels"] = ["trad"]
    message = _error(write_jsonl(tmp_path / "d.jsonl", rows))
    assert ":4:" in message and "'trad'" in message


@pytest.mark.parametrize("text", ["", "   "])
def test_empty_text(tmp_path, text):
    rows = _rows()
    rows[1]["text"] = text
    assert ":2: empty or missing 'text'" in _error(write_jsonl(tmp_path / "d.jsonl", rows))


def test_duplicate_text_names_both_lines(tmp_path):
    rows = _rows()
    rows[5]["text"] = "  " + rows[0]["text"].upper()
    assert ":6: duplicate text (first seen on line 1)" in _error(write_jsonl(tmp_path / "d.jsonl", rows))


def test_non_utf8_file(tmp_path):
    path = tmp_path / "latin1.jsonl"
    path.write_bytes('{"text": "café talks", "labels": [], "doc_id": "1"}\n'.encode("latin-1"))
    assert "not valid UTF-8" in _error(path)


def test_missing_document_id(tmp_path):
    rows = _rows()
    del rows[2]["doc_id"]
    assert ":3: missing 'doc_id'" in _error(write_jsonl(tmp_path / "d.jsonl", rows))


def test_blank_lines_in_jsonl_are_skipped(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in _rows()) + "\n\n\n")
    assert len(read_rows(DataConfig(path=path))) == 24


def test_csv_with_semicolon_separated_labels(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text('text,labels,doc_id\n"Gas and arms deal signed.",energy;defence,a\nLeaders met.,,b\n')
    rows = read_rows(DataConfig(path=path))
    assert [r["labels"] for r in rows] == [["energy", "defence"], []]


def test_split_keeps_every_document_in_one_split_and_is_reproducible(tmp_path, tiny_data):
    config = DataConfig(path=tiny_data, split_field=None)
    data = load_data(config, seed=3)
    homes = {}
    for split, ds in data.splits.items():
        for group in ds["group"]:
            assert homes.setdefault(group, split) == split, f"document {group} in two splits"
    assert all(len(ds) for ds in data.splits.values())
    again = load_data(config, seed=3)
    assert {s: again.texts(s) for s in again.splits} == {s: data.texts(s) for s in data.splits}
    other = load_data(config, seed=4)
    assert other.texts("test") != data.texts("test")


def test_a_fixed_split_column_is_used_as_given(tmp_path):
    rows = _rows(n_docs=3)
    for row in rows:
        row["split"] = {"d0": "train", "d1": "validation", "d2": "test"}[row["doc_id"]]
    data = load_data(DataConfig(path=write_jsonl(tmp_path / "d.jsonl", rows)), seed=0)
    assert set(data.splits["test"]["group"]) == {"d2"}


def test_a_document_in_two_fixed_splits_is_an_error(tmp_path):
    rows = _rows(n_docs=3)
    for i, row in enumerate(rows):
        row["split"] = "train" if i else "test"
    with pytest.raises(ReadoutError, match="appears in both"):
        load_data(DataConfig(path=write_jsonl(tmp_path / "d.jsonl", rows)), seed=0)


def test_labels_are_binarized_in_config_order(tmp_path, tiny_data):
    data = load_data(DataConfig(path=tiny_data, split_field=None), seed=0)
    Y = data.Y("train")
    first = data.splits["train"]["labels"][0]
    assert Y.shape[1] == 4
    assert [label for label, on in zip(data.labels, Y[0]) if on] == first


# ---- several data files (data.path: [corpus, your labels]) ----------------------------------

def _split_corpus(tmp_path):
    rows = _rows(n_docs=3)
    for row in rows:
        row["split"] = {"d0": "train", "d1": "validation", "d2": "test"}[row["doc_id"]]
    return write_jsonl(tmp_path / "corpus.jsonl", rows)


def _my_labels(tmp_path, docs=("mine1", "mine2")):
    rows = [{"text": f"My own sentence {i} about a gas deal in {doc}.", "labels": ["energy"], "doc_id": doc,
             "labelled_by": "tester"} for doc in docs for i in range(2)]
    return write_jsonl(tmp_path / "mine.jsonl", rows)


def test_a_list_of_files_is_read_as_one_data_set_and_unsplit_rows_go_to_train(tmp_path):
    corpus, mine = _split_corpus(tmp_path), _my_labels(tmp_path)
    data = load_data(DataConfig(path=[corpus, mine]), seed=0)
    train = data.splits["train"]
    assert set(train["group"]) == {"d0", "mine1", "mine2"}
    assert set(data.splits["validation"]["group"]) == {"d1"} and set(data.splits["test"]["group"]) == {"d2"}
    assert list(data.digests) == [str(corpus), str(mine)] and len(set(data.digests.values())) == 2
    alone = load_data(DataConfig(path=corpus), seed=0)
    assert alone.digest == data.digests[str(corpus)] and data.digest != alone.digest


def test_a_text_in_two_files_names_both(tmp_path):
    corpus = _split_corpus(tmp_path)
    first = json.loads(corpus.read_text().splitlines()[2])
    mine = write_jsonl(tmp_path / "mine.jsonl", [{"text": "Another one.", "labels": [], "doc_id": "x"},
                                                 {**first, "split": None, "doc_id": "x"}])
    assert f"{mine}:2: duplicate text (first seen on {corpus}:3)" in _error([corpus, mine])


def test_a_labelled_readout_that_is_also_in_the_corpus_test_split_is_an_error(tmp_path):
    corpus = _split_corpus(tmp_path)
    mine = _my_labels(tmp_path, docs=("d2",))  # no split column: would go to train, but d2 is test
    with pytest.raises(ReadoutError, match=f"{mine}:1: document 'd2' appears in both"):
        load_data(DataConfig(path=[corpus, mine]), seed=0)


def test_a_missing_file_in_the_list_is_named(tmp_path):
    from training.config import load_config
    from helpers import write_config

    config = write_config(tmp_path / "c.yaml", _split_corpus(tmp_path))
    with pytest.raises(ReadoutError, match=f"data.path: file not found: {tmp_path / 'nope.jsonl'}"):
        load_config(config, [f"data.path=[{tmp_path / 'corpus.jsonl'}, {tmp_path / 'nope.jsonl'}]"])
