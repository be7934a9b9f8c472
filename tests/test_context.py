"""Context: a model reads each sentence beside its neighbours in the readout, and every consumer
(the library, the CLI, the MLflow pyfunc) passes the same neighbours."""

from __future__ import annotations

import json

import mlflow
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from models.context import Context, neighbour_blocks
from models.tagger import Tagger
from models.tfidf_linear import TfidfLinear
from training.config import load_config
from training.references import load_tagger
from training.train import train

from helpers import run_cli, write_config, write_jsonl

# Readouts written for this test: an area is named, then a sentence refers back to it with no
# area word of its own; by the codebook's context rule it takes the area it refers to.
NAMED = {
    "energy": ["The leaders opened a new gas pipeline between the two countries.",
               "Both sides signed a deal on a solar power plant and grid links.",
               "An oil refinery and an LNG terminal were inaugurated."],
    "defence": ["The two armies agreed to hold joint military exercises.",
                "A pact on naval patrols and arms deliveries was signed.",
                "Defence chiefs agreed to share intelligence on militant groups."],
    "trade": ["The ministers agreed to cut tariffs on grain and steel exports.",
              "A free trade agreement and an investment treaty were signed.",
              "Exporters will gain access to the dairy market."],
}
BACK = ["Both sides hailed it as a milestone.", "Work on it will begin next year.",
        "The agreement enters into force in March.", "Officials called the step historic.",
        "Talks on the details resume next month."]
PROTOCOL = ["The president thanked his host for the warm welcome.", "The two leaders met in the capital."]


def readouts() -> list[dict]:
    """45 readouts of three sentences (protocol, an area named, a back-reference); fixed split."""
    rows = []
    combos = [(area, named, back) for area in NAMED for named in NAMED[area] for back in BACK]
    for d, (area, named, back) in enumerate(combos):
        split = {0: "validation", 1: "test"}.get(d % 9, "train")
        for i, (text, labels) in enumerate([(PROTOCOL[d % 2], []), (named, [area]), (back, [area])]):
            rows.append({"text": f"{text} ({d}.{i})", "labels": labels, "doc_id": f"r{d:02d}", "split": split})
    return rows


def test_neighbours_are_the_sentences_around_each_one_in_its_readout():
    X = np.arange(6, dtype=np.float64)[:, None]
    # Readout a is rows 0, 2, 3 (in that order); b is rows 1 and 4; row 5 stands alone.
    docs = ["a", "b", "a", "a", "b", None]
    for features in (X, sp.csr_matrix(X)):  # dense (NumPy) and sparse (SciPy) give the same means
        before, after = (np.asarray(sp.csr_matrix(b).todense()) for b in
                         neighbour_blocks(features, docs, Context(before=2, after=1)))
        assert before.ravel().tolist() == [0, 1, 0, 1, 1, 5]  # mean of up to 2 before; itself when none
        assert after.ravel().tolist() == [2, 4, 3, 3, 4, 5]


def test_the_readout_block_is_the_mean_of_the_readouts_other_sentences():
    X = np.arange(6, dtype=np.float64)[:, None]
    (whole,) = neighbour_blocks(X, ["a", "b", "a", "a", "b", None], Context(readout=True, weight=0.5))
    # a: rows 0, 2, 3; b: rows 1, 4; row 5 alone stands in for its own readout. Scaled by weight.
    assert whole.ravel().tolist() == [1.25, 2.0, 0.75, 0.5, 0.5, 2.5]
    assert Context(readout=True).blocks == 2 and Context(before=1, after=1, readout=True).blocks == 4


def test_a_context_model_labels_a_back_reference_by_what_it_refers_to():
    rows = readouts()
    texts, labels, docs = [r["text"] for r in rows], [r["labels"] for r in rows], [r["doc_id"] for r in rows]
    Y = np.array([[area in row for area in NAMED] for row in labels], dtype=int)
    params = TfidfLinear.Params(context=Context(before=1, after=1), C=10.0)
    tagger = Tagger(TfidfLinear(params).fit(texts, Y, docs), list(NAMED), [0.5] * 3)

    back = "Leaders hailed it as a milestone."
    for area, named in [("energy", "A new gas interconnector was opened."),
                        ("defence", "The navies agreed on joint patrols.")]:
        read = tagger.predict([named, back], doc_ids=["new", "new"])
        assert read[1].labels == [area], (area, read[1])
    # Alone, the same sentence names no area.
    assert tagger.predict([back])[0].labels == []


@pytest.fixture(scope="module")
def context_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("context")
    data = write_jsonl(folder / "readouts.jsonl", readouts())
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    config = write_config(folder / "config.yaml", data, uri, data={"labels": list(NAMED), "split_field": "split"},
                          model={"context": {"before": 1, "after": 1}, "C": 10.0})
    result = train(load_config(config))
    readout = folder / "readout.txt"
    readout.write_text("The two leaders met in Geneva. The leaders opened a new gas pipeline between\n"
                       "the two countries. Leaders hailed it as a milestone.\n")
    return {"folder": folder, "uri": uri, "result": result, "readout": readout}


def test_pyfunc_with_doc_id_gives_the_labels_of_readout_tag_file(context_model):
    out = run_cli("tag", "--file", str(context_model["readout"]), "--format", "jsonl",
                  "--tracking-uri", context_model["uri"], cwd=context_model["folder"])
    assert out.returncode == 0, out.stderr.decode()
    cli = [json.loads(line) for line in out.stdout.decode().splitlines()]
    assert "energy" in cli[2]["labels"]  # the back-reference, read in its readout

    mlflow.set_tracking_uri(context_model["uri"])
    pyfunc = mlflow.pyfunc.load_model("models:/readout-tagger@champion")
    texts = [row["sentence"] for row in cli]
    served = pyfunc.predict(pd.DataFrame({"text": texts, "doc_id": ["r"] * len(texts)}))
    assert served["labels"].tolist() == [";".join(row["labels"]) for row in cli]
    assert served[list(NAMED)].to_dict("records") == [row["scores"] for row in cli]

    # Without doc_id every row is tagged alone, as `readout tag SENTENCE...` does.
    alone = pyfunc.predict(pd.DataFrame({"text": texts}))
    args = run_cli("tag", *texts, "--format", "jsonl", "--tracking-uri", context_model["uri"],
                   cwd=context_model["folder"])
    assert alone["labels"].tolist() == [";".join(json.loads(l)["labels"]) for l in args.stdout.decode().splitlines()]
    assert alone["labels"][2] == ""
    assert [i.name for i in pyfunc.metadata.get_input_schema().inputs] == ["text", "doc_id"]
    assert not pyfunc.metadata.get_input_schema().inputs[1].required


def test_a_sentence_given_alone_is_a_readout_of_one_sentence(context_model, tmp_path):
    sentence = "Leaders hailed it as a milestone."
    (tmp_path / "one.txt").write_text(sentence + "\n")
    common = ("--format", "jsonl", "--tracking-uri", context_model["uri"])
    as_file = run_cli("tag", "--file", str(tmp_path / "one.txt"), *common, cwd=context_model["folder"])
    as_arg = run_cli("tag", sentence, *common, cwd=context_model["folder"])
    assert as_file.returncode == as_arg.returncode == 0
    from_file = json.loads(as_file.stdout)
    assert (from_file.pop("doc_id"), from_file.pop("sentence_index")) == ("one", 0)  # a readout's row says where
    assert from_file == json.loads(as_arg.stdout)


def test_context_is_logged_with_the_run_and_kept_in_the_model(context_model):
    client = mlflow.MlflowClient(context_model["uri"])
    params = client.get_run(context_model["result"].best.run_id).data.params
    assert (params["model.context.before"], params["model.context.after"]) == ("1", "1")
    assert "ctx=1+1" in context_model["result"].best.run_name
    tagger = load_tagger("models:/readout-tagger@champion", context_model["uri"])
    assert tagger.context == Context(before=1, after=1)
