"""Tagging archives: many files, folders and JSONL/CSV of readouts through ``readout tag``, with
metadata carried onto every row, jsonl/csv/parquet output, evidence and a progress bar."""

import csv
import io
import json
import pyarrow.parquet as pq
import pytest

from helpers import READOUT, ROOT, run_cli, run_in_terminal, write_jsonl

ARCHIVE = ROOT / "data" / "examples" / "archive"


def _tag(trained, *args, cwd=None):
    result = run_cli("tag", "--tracking-uri", trained["uri"], *args, cwd=cwd or trained["folder"])
    assert result.returncode == 0, result.stderr.decode()
    return result


def _jsonl(result) -> list[dict]:
    return [json.loads(line) for line in result.stdout.decode().splitlines()]


def test_a_folder_is_tagged_readout_by_readout_with_its_metadata(trained):
    rows = _jsonl(_tag(trained, "--file", str(ARCHIVE), "--format", "jsonl"))
    files = sorted(ARCHIVE.glob("*.txt"))
    assert [r["doc_id"] for r in rows if r["sentence_index"] == 0] == [f.stem for f in files]
    first = files[0]
    mine = [r for r in rows if r["doc_id"] == first.stem]
    assert [r["sentence_index"] for r in mine] == list(range(len(mine)))
    assert mine[0]["date"] == first.stem[:10] and len(mine[0]["countries"]) >= 2 and mine[0]["title"]
    # The same readout tagged on its own gets the same sentences and labels: a folder changes nothing.
    alone = _jsonl(_tag(trained, "--file", str(first), "--format", "jsonl"))
    assert [(r["sentence"], r["labels"]) for r in alone] == [(r["sentence"], r["labels"]) for r in mine]


def test_jsonl_and_csv_archives_pass_extra_fields_through(trained, tmp_path):
    archive = write_jsonl(tmp_path / "archive.jsonl", [
        {"doc_id": "r1", "text": "Trade rose by a third. The navies will sail together.", "date": "2024-05-01",
         "countries": ["Chile", "Peru"], "desk": "south"},
        {"text": "A new gas pipeline opened.", "title": "no id"},
    ])
    rows = _jsonl(_tag(trained, "--file", str(archive), "--format", "jsonl"))
    assert [(r["doc_id"], r["sentence_index"]) for r in rows] == [("r1", 0), ("r1", 1), ("archive:2", 0)]
    assert rows[0]["desk"] == "south" and rows[0]["countries"] == ["Chile", "Peru"] and rows[2]["title"] == "no id"

    table = tmp_path / "archive.csv"
    table.write_text("doc_id,text,countries\nr1,Trade rose by a third.,Chile; Peru\n"
                     "r1,The navies will sail together.,Chile; Peru\n", encoding="utf-8")
    out = _tag(trained, "--file", str(table), "--format", "csv").stdout.decode()
    parsed = list(csv.DictReader(io.StringIO(out)))
    assert [(r["doc_id"], r["sentence_index"], r["countries"]) for r in parsed] == [
        ("r1", "0", "Chile;Peru"), ("r1", "1", "Chile;Peru")]  # consecutive rows of one doc_id: one readout
    assert list(parsed[0])[-4:] == ["trade", "energy", "defence", "culture"]


def test_parquet_needs_a_file_and_holds_the_same_rows(trained, tmp_path):
    out = tmp_path / "tags.parquet"
    _tag(trained, "--file", str(ARCHIVE), "--out", str(out))  # the suffix picks the format
    table = pq.read_table(out).to_pylist()
    rows = _jsonl(_tag(trained, "--file", str(ARCHIVE), "--format", "jsonl"))
    assert [(t["doc_id"], t["sentence"], t["labels"]) for t in table] == [
        (r["doc_id"], r["sentence"], ";".join(r["labels"])) for r in rows]
    assert table[0]["trade"] == pytest.approx(rows[0]["scores"]["trade"])
    refused = run_cli("tag", "--tracking-uri", trained["uri"], "--file", str(ARCHIVE), "--format", "parquet",
                      cwd=trained["folder"])
    assert refused.returncode == 2 and "--out" in refused.stderr.decode()


def test_a_failed_run_leaves_no_output_file(trained, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"doc_id": "a", "text": "Trade rose."}\n{"doc_id": "b", "text": \n', encoding="utf-8")
    out = tmp_path / "tags.jsonl"
    result = run_cli("tag", "--tracking-uri", trained["uri"], "--file", str(bad), "--out", str(out),
                     cwd=trained["folder"])
    assert result.returncode == 2 and "bad.jsonl:2: malformed JSON" in result.stderr.decode()
    assert list(tmp_path.glob("tags.jsonl*")) == []


def test_explain_names_words_of_the_sentence_for_each_label_on(trained):
    rows = _jsonl(_tag(trained, "--file", str(ARCHIVE), "--format", "jsonl", "--explain"))
    explained = [r for r in rows if r["labels"]]
    assert explained, "the tiny model tags nothing in the archive"
    for row in rows:
        assert set(row["evidence"]) == set(row["labels"])
        for words in row["evidence"].values():
            assert [w["weight"] for w in words] == sorted((w["weight"] for w in words), reverse=True)
            for word in words:
                assert row["sentence"][word["start"]:word["end"]] == word["word"] and word["weight"] > 0
    assert any(row["evidence"][label] for row in explained for label in row["labels"])


def test_bad_front_matter_is_one_line_with_the_file_and_line(trained, tmp_path):
    path = tmp_path / "r.txt"
    path.write_text("---\ndate: 2024-01-01\ncountries: [Chile, Peru\n---\nTrade rose.\n", encoding="utf-8")
    result = run_cli("tag", "--tracking-uri", trained["uri"], "--file", str(path), cwd=trained["folder"])
    err = result.stderr.decode().strip()
    assert result.returncode == 2 and len(err.splitlines()) == 1 and f"{path}:" in err and "YAML" in err


def _in_a_terminal(args, cwd) -> str:
    code, printed = run_in_terminal([READOUT, *args], cwd=cwd, timeout=60)
    assert code == 0, printed
    return printed


def test_progress_shows_in_a_terminal_and_not_in_a_pipe(trained, tmp_path):
    args = ["tag", "--tracking-uri", trained["uri"], "--file", str(ARCHIVE), "--out", str(tmp_path / "t.jsonl")]
    shown = _in_a_terminal(args, trained["folder"])
    assert "sentences/s" in shown and f"in {len(list(ARCHIVE.glob('*.txt')))} readouts" in shown
    assert "sentences/s" not in _in_a_terminal([*args, "--quiet"], trained["folder"])
    piped = run_cli(*args, cwd=trained["folder"])
    assert piped.returncode == 0 and "sentences/s" not in piped.stderr.decode()
