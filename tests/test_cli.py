"""The installed ``readout`` command, run as a subprocess the way users run it."""

import csv
import io
import json

import pytest

from helpers import ROOT, run_cli, write_config

SAMPLE = ROOT / "data" / "examples" / "sample_readout.txt"


def _ok(result):
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout.decode()


def _tag(trained, *args, stdin=None):
    # A wide terminal, so the table does not wrap sentences across lines.
    return run_cli("tag", "--tracking-uri", trained["uri"], *args, cwd=trained["folder"], stdin=stdin,
                   env={"COLUMNS": "200"})


def test_train_prints_metrics_run_id_and_model_version(trained):
    out = trained["stdout"]
    assert "macro F1" in out and "F1 culture" in out
    assert "run " in out and "model readout-tagger version 1 @champion" in out
    assert "fitting tfidf_linear" in trained["stderr"]  # progress goes to stderr


@pytest.mark.parametrize("fmt", ["json", "jsonl", "csv", "table"])
def test_tag_sentences_in_every_format(trained, fmt):
    sentences = ["Both sides agreed to boost trade and investment.", "The navies will hold joint drills."]
    out = _ok(_tag(trained, *sentences, "--format", fmt))
    if fmt == "json":
        rows = json.loads(out)
    elif fmt == "jsonl":
        rows = [json.loads(line) for line in out.splitlines()]
    elif fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(out)))
        assert list(rows[0]) == ["sentence", "labels", "trade", "energy", "defence", "culture"]
        rows = [{"sentence": r["sentence"], "labels": r["labels"].split(";") if r["labels"] else []} for r in rows]
    else:
        # Each sentence's row names its labels in the labels column, under thresholds in the headers.
        cells = {line.split("│")[2].strip(): line.split("│")[3].strip() for line in out.splitlines()
                 if line.count("│") > 4 and line.split("│")[1].strip().isdigit()}
        assert "trade" in cells[sentences[0]] and "defence" in cells[sentences[1]]
        assert "≥" in out
        return
    assert [r["sentence"] for r in rows] == sentences
    assert "trade" in rows[0]["labels"] and "defence" in rows[1]["labels"]
    if fmt != "csv":
        assert set(rows[0]["scores"]) == {"trade", "energy", "defence", "culture"}
        assert all(0 <= p <= 1 for p in rows[0]["scores"].values())


def test_tag_a_readout_file_is_split_into_sentences(trained):
    rows = json.loads(_ok(_tag(trained, "--file", str(SAMPLE), "--format", "json")))
    assert len(rows) == 11
    assert rows[0]["sentence"].startswith("WELLINGTON, 12 March")
    assert rows[-1]["labels"] == []  # the closing invitation is protocol


def test_tag_reads_stdin(trained):
    rows = json.loads(_ok(_tag(trained, "-", "--format", "json",
                               stdin="Trade rose. The armies trained together.\n")))
    assert [r["sentence"] for r in rows] == ["Trade rose.", "The armies trained together."]


def test_no_split_takes_lines_and_counts_blank_ones(trained, tmp_path):
    path = tmp_path / "lines.txt"
    path.write_text("First line. Still the first.\n\n   \nSecond line\n")
    result = _tag(trained, "--file", str(path), "--no-split", "--format", "jsonl")
    assert [json.loads(l)["sentence"] for l in _ok(result).splitlines()] == ["First line. Still the first.",
                                                                             "Second line"]
    assert "skipped 2 blank lines" in result.stderr.decode()


def test_evaluate_scores_a_labelled_file(trained):
    out = _ok(run_cli("evaluate", "--data", str(trained["data"]), "--tracking-uri", trained["uri"],
                      "--format", "json", cwd=trained["folder"]))
    scores = json.loads(out)
    assert scores["sentences"] > 300 and 0.5 < scores["macro_f1"] <= 1.0
    assert set(scores) >= {"micro_f1", "subset_accuracy", "f1_trade", "recall_culture"}


def test_promote_moves_the_alias_to_another_version(tmp_path, tiny_config, store):
    for _ in range(2):
        _ok(run_cli("train", "--config", str(tiny_config), cwd=tmp_path))
    out = _ok(run_cli("promote", "2", "--tracking-uri", store, cwd=tmp_path))
    assert "readout-tagger@champion -> version 2 (was version 1)" in out
    bad = run_cli("promote", "9", "--tracking-uri", store, cwd=tmp_path)
    assert bad.returncode == 2 and "no version 9" in bad.stderr.decode()


def test_default_store_is_sqlite_in_the_working_directory(tmp_path, tiny_data):
    config = write_config(tmp_path / "c.yaml", tiny_data)  # no tracking URI anywhere
    env = {"MLFLOW_TRACKING_URI": ""}
    _ok(run_cli("train", "--config", str(config), cwd=tmp_path, env=env))
    assert (tmp_path / "mlflow.db").is_file() and (tmp_path / "mlartifacts").is_dir()
    out = _ok(run_cli("tag", "Gas deliveries will rise.", "--format", "jsonl", cwd=tmp_path, env=env))
    assert "energy" in json.loads(out)["labels"]


def _fails_cleanly(result, *fragments):
    err = result.stderr.decode()
    assert result.returncode == 2, (result.returncode, err)
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_bad_config_inputs_fail_with_one_line(tmp_path, tiny_data):
    _fails_cleanly(run_cli("train", "--config", str(tmp_path / "none.yaml")), "config file not found")
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("data: [\n")
    _fails_cleanly(run_cli("train", "--config", str(bad_yaml)), "YAML syntax error", "line")
    unknown = write_config(tmp_path / "u.yaml", tiny_data, seeed=1)
    _fails_cleanly(run_cli("train", "--config", str(unknown)), "unknown key 'seeed'", "did you mean 'seed'")
    wrong = write_config(tmp_path / "w.yaml", tiny_data, seed="abc")
    _fails_cleanly(run_cli("train", "--config", str(wrong)), "seed")
    missing = write_config(tmp_path / "m.yaml", tmp_path / "no-data.jsonl")
    _fails_cleanly(run_cli("train", "--config", str(missing)), "file not found")


def test_bad_data_fails_before_any_run_exists(tmp_path, tiny_rows, store):
    bad = tmp_path / "bad.jsonl"
    lines = [json.dumps(r) for r in tiny_rows[:30]]
    lines[6] = '{"text": "broken'
    bad.write_text("\n".join(lines))
    config = write_config(tmp_path / "c.yaml", bad, store)
    _fails_cleanly(run_cli("train", "--config", str(config)), ":7: malformed JSON")
    rows = [dict(r) for r in tiny_rows[:30]]
    rows[4]["labels"] = ["sports"]
    bad.write_text("\n".join(json.dumps(r) for r in rows))
    _fails_cleanly(run_cli("train", "--config", str(config)), ":5:", "'sports'")
    assert not (tmp_path / "mlflow.db").exists()


def test_unreachable_tracking_server(tiny_config):
    _fails_cleanly(run_cli("train", "--config", str(tiny_config), "--tracking-uri", "http://127.0.0.1:9"),
                   "cannot reach the MLflow tracking server")


def test_bad_tag_inputs_fail_with_one_line(trained, tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n  \n")
    _fails_cleanly(_tag(trained, "--file", str(empty)), "no sentences to tag")
    _fails_cleanly(_tag(trained, "-", stdin=""), "no sentences to tag")
    latin = tmp_path / "latin.txt"
    latin.write_bytes("Café diplomacy.\n".encode("latin-1"))
    _fails_cleanly(_tag(trained, "--file", str(latin)), "not valid UTF-8")
    _fails_cleanly(_tag(trained, "--file", str(tmp_path / "nope.txt")), "file not found")
    _fails_cleanly(_tag(trained, "x", "--format", "xml"), "xml")
    _fails_cleanly(_tag(trained, "x", "--model", "models:/readout-tagger@nobody"), "alias @nobody")
    _fails_cleanly(_tag(trained, "x", "--model", "models:/other-model@champion"), "other-model")
    _fails_cleanly(_tag(trained, "x", "--model", "s3://bucket/model"), "unknown model reference")
    _fails_cleanly(_tag(trained, "x", "--model", str(tmp_path)), "not a readout-tagger model")
    foreign = tmp_path / "old-model"
    foreign.mkdir()
    (foreign / "tagger.json").write_text('{"format": 1, "family": "tfidf_linear"}')
    _fails_cleanly(_tag(trained, "x", "--model", str(foreign)), "cannot load model", "retrain")
    _fails_cleanly(run_cli("tag", "x", cwd=tmp_path, env={"MLFLOW_TRACKING_URI": ""}), "no MLflow store")


def test_help_lists_every_command_and_readout_alone_shows_it():
    out = _ok(run_cli("--help"))
    listed = {line.split("│")[1].split()[0] for line in out.splitlines() if line.count("│") >= 2 and
              line.split("│")[1].strip()}
    assert {"train", "tag", "evaluate", "promote", "runs", "ui"} <= listed
    alone = run_cli()
    assert alone.returncode == 0 and alone.stdout.decode().strip() == out.strip()


def _run_id(trained) -> str:
    line = next(l for l in trained["stdout"].splitlines() if l.startswith("run "))
    return line.split()[1]


@pytest.mark.parametrize("ref", ["models:/readout-tagger/1", "runs:/{run_id}/model", "models:/readout-tagger@champion"])
def test_every_kind_of_model_reference_gives_the_same_tags(trained, ref):
    sentence = "Both sides agreed to boost trade and investment."
    out = _ok(_tag(trained, sentence, "--format", "jsonl", "--model", ref.format(run_id=_run_id(trained))))
    champion = _ok(_tag(trained, sentence, "--format", "jsonl"))
    assert json.loads(out) == json.loads(champion)


def test_tag_through_a_tracking_server(trained):
    """A tracking-server URI moves the same command to a team server (here: one on 127.0.0.1)."""
    import socket
    import time
    import urllib.request

    from training import ui

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ui.start(trained["uri"], port)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2).read()
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, "the MLflow server did not start"
                time.sleep(0.5)
        sentence = "Gas exports to Europe will double."
        remote = run_cli("tag", sentence, "--format", "jsonl", "--tracking-uri", f"http://127.0.0.1:{port}",
                         cwd=trained["folder"])
        assert json.loads(_ok(remote)) == json.loads(_ok(_tag(trained, sentence, "--format", "jsonl")))
    finally:
        ui.stop(server)
