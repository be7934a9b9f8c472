"""Family ``embedding_linear``: frozen sentence embeddings (all-MiniLM-L6-v2, mean-pooled and
normalised) + one-vs-rest logistic regression per label.

The encoder is exported to ONNX at the start of ``fit`` and every embedding, in training and in
serving, comes from that one graph, so the head is trained on exactly the features it will see.
Saved as ``encoder.onnx`` + ``tokenizer.json`` + the head in ``head.npz`` (read with
``allow_pickle=False``) + ``params.json``; serving imports onnxruntime and tokenizers, not torch.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field

from models.base import Params, sigmoid
from models.encoder import DEFAULT_ENCODER, TOKENIZER_FILE, EncoderClassifier, OnnxEncoder, normalise
from models.linear_head import fit_linear_head, report_single_epoch


class EmbeddingLinearParams(Params):
    encoder: str = DEFAULT_ENCODER  # an installed package with a model/ folder, or a local folder
    # Normalised embeddings have small dot products, so the head needs a weaker penalty than TF-IDF's.
    C: float = Field(8.0, gt=0)
    class_weight: Literal["balanced"] | None = "balanced"
    max_length: int = Field(128, ge=8, le=512)  # tokens; all-MiniLM-L6-v2 was trained on 128
    batch_size: int = Field(64, ge=1)


class EmbeddingLinear(EncoderClassifier):
    name = "embedding_linear"
    Params = EmbeddingLinearParams
    def fit(self, texts, Y, validation=None, on_epoch=None):
        from models.encoder import export_onnx, load_torch_encoder, pooled_model

        texts, Y = list(texts), np.asarray(Y)
        p = self.params
        folder, _, model = load_torch_encoder(p.encoder)
        self.encoder_ = export_onnx(pooled_model(model), folder / TOKENIZER_FILE, p.max_length, p.batch_size)
        del model  # only the ONNX graph is used from here on
        self.coef_, self.intercept_ = fit_linear_head(self._embed(texts), Y, p.C, p.class_weight, self.seed)
        report_single_epoch(self.predict_proba, texts, Y, validation, on_epoch)
        return self

    def _embed(self, texts) -> np.ndarray:
        return normalise(self.encoder_(list(texts)).astype(np.float64))

    def predict_proba(self, texts):
        texts = list(texts)
        if not texts:
            return np.zeros((0, len(self.intercept_)))
        return sigmoid(self._embed(texts) @ self.coef_.T + self.intercept_)

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "params.json").write_text(json.dumps({"seed": self.seed, **self.params.model_dump(mode="json")}))
        self.encoder_.save(folder)
        np.savez(folder / "head.npz", coef=self.coef_, intercept=self.intercept_)

    @classmethod
    def load(cls, folder: Path) -> EmbeddingLinear:
        model = cls(**json.loads((folder / "params.json").read_text()))
        model.encoder_ = OnnxEncoder.load(folder, model.params.batch_size)
        with np.load(folder / "head.npz", allow_pickle=False) as arrays:
            model.coef_, model.intercept_ = arrays["coef"], arrays["intercept"]
        return model
