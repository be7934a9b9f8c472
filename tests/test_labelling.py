"""`readout label` in a real terminal (tmux): keys toggle, accept, skip and undo; every answer is on
disk at once with its provenance; a killed session loses nothing and a rerun resumes."""

from __future__ import annotations

import json
import os
import shutil
import signal
from datetime import datetime

import pytest

from helpers import READOUT, Tmux, run_cli, write_jsonl

LABELS = ["trade", "energy", "defence", "culture"]
# (text, the model's guess); our own sentences, one readout
SENTENCES = [
    ("The ministers agreed to lower tariffs on wine and cheese.", ["trade"]),
    ("A new gas pipeline will link the two grids by 2030.", ["energy"]),
    ("Both navies will patrol the strait together.", []),
    ("Scholarships will bring two hundred students to the capital.", ["culture"]),
]

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None,
                                reason="the labelling session is tested in a real terminal because it reads "
                                       "single keypresses, and tmux is not installed")


def _suggestions(path):
    rows = []
    for i, (text, guess) in enumerate(SENTENCES):
        rows.append({"id": f"sug-{i}", "text": text, "doc_id": "r1", "sentence_index": i,
                     "before": [SENTENCES[i - 1][0]] if i else [], "after": [],
                     "scores": dict(zip(LABELS, [0.55, 0.2, 0.1, 0.05])), "thresholds": dict.fromkeys(LABELS, 0.5),
                     "labels": guess, "model": "models:/readout-tagger@champion",
                     "model_version": "models:/readout-tagger/7", "source": "archive/r1.txt"})
    return write_jsonl(path, rows)


def _rows(path):
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _label(tmp_path, term):
    term.start([str(READOUT), "label", "suggestions.jsonl", "--into", "mine.jsonl", "--by", "tester"], cwd=tmp_path)


def test_keys_toggle_accept_skip_and_undo_and_every_answer_is_written_with_provenance(tmp_path):
    _suggestions(tmp_path / "suggestions.jsonl")
    out, skipped = tmp_path / "mine.jsonl", tmp_path / "mine.skipped.jsonl"
    with Tmux() as term:
        _label(tmp_path, term)
        screen = term.wait_for("0/4 answered")
        assert SENTENCES[0][0] in screen and "[x] 1/t trade" in screen  # the model's guess is pre-filled
        assert "Enter accept" in screen and "u undo" in screen
        term.send("2", "Enter")  # energy on beside the guessed trade
        term.wait_for("1/4 answered")
        assert [r["labels"] for r in _rows(out)] == [["trade", "energy"]]  # on disk before the next key
        term.send("s")
        screen = term.wait_for("1 labelled, 1 skipped")
        assert SENTENCES[2][0] in screen and [r["suggestion_id"] for r in _rows(skipped)] == ["sug-1"]
        term.send("u")  # the skip is undone: back on sentence 2, nothing skipped any more
        screen = term.wait_for("undone: skip")
        assert SENTENCES[1][0] in screen and _rows(skipped) == []
        term.send("c", "Enter")  # energy (guessed) + culture
        term.wait_for("2/4 answered")
        term.send("Enter")  # no label, as guessed
        term.wait_for("3/4 answered")
        term.send("u")  # undo an accepted answer: its labels come back to be changed
        term.wait_for("undone: labelled no label")
        term.send("d", "Enter")
        term.wait_for("3/4 answered")
        term.send("q")
        assert "3 labelled in mine.jsonl" in term.wait_exit()
    rows = _rows(out)
    assert [(r["text"], r["labels"]) for r in rows] == [
        (SENTENCES[0][0], ["trade", "energy"]), (SENTENCES[1][0], ["energy", "culture"]),
        (SENTENCES[2][0], ["defence"])]
    for i, row in enumerate(rows):
        assert row["suggestion_id"] == f"sug-{i}" and row["doc_id"] == "r1" and row["labelled_by"] == "tester"
        assert row["model_version"] == "models:/readout-tagger/7" and row["model_labels"] == SENTENCES[i][1]
        assert datetime.fromisoformat(row["labelled_at"]).tzinfo is not None
    assert _rows(skipped) == []


def test_a_killed_session_keeps_every_answer_and_a_rerun_resumes_after_the_last(tmp_path):
    _suggestions(tmp_path / "suggestions.jsonl")
    out = tmp_path / "mine.jsonl"
    with Tmux() as term:
        _label(tmp_path, term)
        term.wait_for("0/4 answered")
        term.send("Enter", "s")  # typed ahead: the second key must not be lost while the first is saved
        term.wait_for("1 labelled, 1 skipped")
        os.kill(term.pid(), signal.SIGKILL)  # no clean-up of any kind
        term.wait_exit()
    assert [r["suggestion_id"] for r in _rows(out)] == ["sug-0"]
    assert [r["suggestion_id"] for r in _rows(tmp_path / "mine.skipped.jsonl")] == ["sug-1"]
    with Tmux() as term:
        _label(tmp_path, term)
        screen = term.wait_for("2/4 answered")
        assert SENTENCES[2][0] in screen.split("▶")[1]  # resumes after the last answer
        term.send("3", "Enter", "Enter")
        term.wait_for("Every suggestion is answered")  # it stays open for an undo until q
        term.send("q")
        term.wait_exit()
    rows = _rows(out)
    assert [(r["suggestion_id"], r["labels"]) for r in rows] == [
        ("sug-0", ["trade"]), ("sug-2", ["defence"]), ("sug-3", ["culture"])]


def test_a_second_session_on_the_same_file_is_refused_and_no_terminal_is_an_error(tmp_path):
    suggestions = _suggestions(tmp_path / "suggestions.jsonl")
    result = run_cli("label", str(suggestions), "--into", str(tmp_path / "mine.jsonl"), stdin="")
    assert result.returncode == 2 and "run it in a terminal" in result.stderr.decode()
    with Tmux() as first, Tmux() as second:
        _label(tmp_path, first)
        first.wait_for("0/4 answered")
        _label(tmp_path, second)
        assert "error: another labelling session is writing to mine.jsonl" in second.wait_exit()
        first.send("Enter")
        first.wait_for("1/4 answered")
    assert len(_rows(tmp_path / "mine.jsonl")) == 1


def test_the_loop_suggest_label_train_and_compare(tmp_path, tiny_data, store):
    """The README's loop on the example archive: suggest -> label in the terminal -> train on the
    corpus and the new labels -> both runs in readout runs, the new one with both files' digests."""
    import mlflow

    from helpers import ROOT, write_config
    from training.data import file_digest

    config = write_config(tmp_path / "config.yaml", tiny_data, store)
    first = run_cli("train", "-c", str(config), cwd=tmp_path)
    assert first.returncode == 0, first.stderr.decode()
    suggested = run_cli("suggest", str(ROOT / "data" / "examples" / "archive"), "-n", "5", "--out",
                        str(tmp_path / "suggestions.jsonl"), "--tracking-uri", store, cwd=tmp_path)
    assert suggested.returncode == 0, suggested.stderr.decode()
    with Tmux() as term:
        _label(tmp_path, term)
        term.wait_for("0/5 answered")
        for i, keys in enumerate([["1"], [], ["2", "3"], ["s"], []]):  # toggle, accept as guessed, skip...
            term.send(*keys, *([] if keys == ["s"] else ["Enter"]))
            term.wait_for(f"{i + 1}/5 answered")
        term.send("q")
        term.wait_exit()
    mine = tmp_path / "mine.jsonl"
    assert len(_rows(mine)) == 4
    second = run_cli("train", "-c", str(config), "--set", f"data.path=[{tiny_data}, {mine}]", cwd=tmp_path)
    assert second.returncode == 0, second.stderr.decode()
    assert "model readout-tagger version 2" in second.stdout.decode()

    listed = run_cli("runs", "--format", "json", "--tracking-uri", store)
    runs = json.loads(listed.stdout)
    assert sorted(r["data"] for r in runs) == sorted([str(tiny_data), f"{tiny_data}, {mine}"])
    new = next(r for r in runs if str(mine) in r["data"])
    tags = mlflow.MlflowClient(store).get_run(new["run_id"]).data.tags
    assert json.loads(tags["data_digests"]) == {str(tiny_data): file_digest(tiny_data), str(mine): file_digest(mine)}
