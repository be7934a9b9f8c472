"""Family ``embedding_linear``: frozen sentence embeddings (all-MiniLM-L6-v2, mean-pooled and
normalised) + one-vs-rest logistic regression per label.

The encoder is exported to ONNX at the start of ``fit`` and every embedding, in training and in
serving, comes from that one graph, so the head is trained on exactly the features it will see.
Saved as ``encoder.onnx`` + ``tokenizer.json`` + the head; serving imports onnxruntime and
tokenizers, not torch.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from models.encoder import DEFAULT_ENCODER, TOKENIZER_FILE, EncoderClassifier, normalise
from models.linear_head import LinearHeadParams


class EmbeddingLinearParams(LinearHeadParams):
    family: Literal["embedding_linear"] = "embedding_linear"
    encoder: str = DEFAULT_ENCODER  # an installed package with a model/ folder, or a local folder
    # Normalised embeddings have small dot products, so the head needs a weaker penalty than TF-IDF's.
    C: float = Field(8.0, gt=0)
    max_length: int = Field(128, ge=8, le=512)  # tokens; all-MiniLM-L6-v2 was trained on 128
    batch_size: int = Field(64, ge=1)


class EmbeddingLinear(EncoderClassifier):
    name = "embedding_linear"
    Params = EmbeddingLinearParams

    def _fit(self, texts, Y, doc_ids, validation, on_epoch):
        from models.encoder import export_onnx, load_torch_encoder, pooled_model

        p = self.params
        folder, _, model = load_torch_encoder(p.encoder)
        self.encoder_ = export_onnx(pooled_model(model), folder / TOKENIZER_FILE, p.max_length, p.batch_size)
        del model  # only the ONNX graph is used from here on
        self._fit_head(self._features(texts), Y, doc_ids, validation, on_epoch)

    def _features(self, texts):
        return normalise(super()._features(texts))
