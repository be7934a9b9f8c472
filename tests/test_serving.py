"""``readout serve``: MLflow's scoring server for the champion, asked over real HTTP.

One server for the module, started as a user starts it (the installed ``readout`` command), on a
model that reads context, so a request with ``doc_id`` is a readout. Its answers must be
``readout tag``'s labels and scores; a bad request gets a 4xx with a message that names the
problem; SIGTERM stops the server and its worker.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from helpers import (READOUT, cli_predictions, free_port, processes_serving, run_cli, two_readouts_and_lone_sentences,
                     wait_until_up)

LABELS = ["trade", "energy", "defence", "culture"]


@pytest.fixture(scope="module")
def server(context_store):
    port = free_port()
    process = subprocess.Popen([str(READOUT), "serve", "--port", str(port), "--tracking-uri", context_store["uri"]],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until_up(process, port, "/ping", timeout=180)
        yield {"process": process, "port": port, "uri": context_store["uri"]}
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)


def request(port: int, body: bytes, content_type: str = "application/json") -> tuple[int, str]:
    """POST /invocations: the status and the body, for an error as for a success."""
    sent = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", data=body,
                                  headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(sent, timeout=60) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def post(port: int, payload: dict) -> tuple[int, dict]:
    status, text = request(port, json.dumps(payload).encode())
    return status, json.loads(text)


def as_tag_output(predictions: list[dict], texts: list[str]) -> list[dict]:
    """The server's rows ({labels: "a;b", trade: p, ...}) in `readout tag --format json`'s shape."""
    return [{"sentence": text, "labels": [x for x in p["labels"].split(";") if x],
             "scores": {label: p[label] for label in LABELS}} for text, p in zip(texts, predictions)]


def test_serve_answers_ping_and_tags_readouts_and_sentences_as_readout_tag_does(server, tiny_rows, tmp_path):
    port, uri = server["port"], server["uri"]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=10) as response:
        assert response.status == 200

    readouts, alone = two_readouts_and_lone_sentences(tiny_rows)
    # one request: two readouts (rows sharing a doc_id, in order) and sentences with no doc_id
    rows = [[r["text"], r["doc_id"]] for readout in readouts for r in readout] + [[t, None] for t in alone]
    status, answer = post(port, {"dataframe_split": {"columns": ["text", "doc_id"], "data": rows}})
    assert status == 200, answer
    served = as_tag_output(answer["predictions"], [text for text, _ in rows])

    expected = []
    for readout in readouts:
        lines = tmp_path / f"{readout[0]['doc_id']}.txt"
        lines.write_text("".join(r["text"] + "\n" for r in readout), encoding="utf-8")
        expected += cli_predictions(uri, "--file", str(lines), "--no-split")
    expected += cli_predictions(uri, *alone)
    assert served == expected

    # the `inputs` form without doc_id tags each sentence alone, and a readout's sentences then
    # score otherwise (the model reads context: doc_id matters)
    first = readouts[0]
    status, answer = post(port, {"inputs": {"text": [r["text"] for r in first]}})
    assert status == 200, answer
    texts = [r["text"] for r in first]
    assert as_tag_output(answer["predictions"], texts) == cli_predictions(uri, *texts)
    assert as_tag_output(answer["predictions"], texts) != expected[:len(first)]


@pytest.mark.parametrize("body, content_type, status, message", [
    (b'{"dataframe_split": {"columns": ["sentence"], "data": [["Trade grew."]]}}', "application/json", 400,
     "missing inputs ['text']"),
    (b'{"dataframe_split": ', "application/json", 400, "valid JSON"),
    (b"Trade grew.", "text/plain", 415, "content types"),
])
def test_serve_answers_a_bad_request_with_a_4xx_that_names_the_problem(server, body, content_type, status, message):
    got, text = request(server["port"], body, content_type)
    assert (got, message in text) == (status, True), text


def test_sigterm_stops_the_server_and_its_worker(server):
    process, port = server["process"], server["port"]
    assert processes_serving(port), "the server should be running before it is stopped"
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    assert "stopped" in process.stdout.read()
    deadline = time.monotonic() + 10
    while processes_serving(port) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert processes_serving(port) == {}


def test_serve_refuses_a_bare_tagger_folder_in_one_line(context_store, tmp_path):
    from training.references import resolve_model

    bare = shutil.copytree(resolve_model("models:/readout-tagger@champion", context_store["uri"]), tmp_path / "tagger")
    result = run_cli("serve", "--model", str(bare), "--port", str(free_port()))
    stderr = result.stderr.decode()
    assert result.returncode == 2 and stderr.startswith("error: ") and "not an MLflow model" in stderr, stderr
    assert len(stderr.strip().splitlines()) == 1


def test_serve_refuses_a_port_in_use_in_one_line(context_store):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli("serve", "--port", str(port), "--tracking-uri", context_store["uri"])
    stderr = result.stderr.decode()
    assert result.returncode == 2 and stderr.startswith(f"error: cannot listen on 127.0.0.1:{port}"), stderr
    assert len(stderr.strip().splitlines()) == 1
