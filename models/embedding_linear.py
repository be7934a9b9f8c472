"""Family ``embedding_linear``: frozen sentence embeddings (all-MiniLM-L6-v2, mean-pooled and
normalised) + one-vs-rest logistic regression per label.

The encoder is exported to ONNX at the start of ``fit`` and every embedding, in training and in
serving, comes from that one graph, so the head is trained on exactly the features it will see.
Saved as ``encoder.onnx`` + ``tokenizer.json`` + the head; serving imports onnxruntime and
tokenizers, not torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from annotated_types import Ge, Gt, Le

from models.encoder import DEFAULT_ENCODER, TOKENIZER_FILE, EncoderClassifier, normalise
from models.linear_head import LinearHeadParams


@dataclass
class EmbeddingLinearParams(LinearHeadParams):
    family: Literal["embedding_linear"] = "embedding_linear"
    encoder: str = DEFAULT_ENCODER  # an installed package with a model/ folder, or a local folder
    # Normalised embeddings have small dot products, so the head needs a weaker penalty than TF-IDF's.
    C: Annotated[float, Gt(0)] = 8.0
    max_length: Annotated[int, Ge(8), Le(512)] = 128  # tokens; all-MiniLM-L6-v2 was trained on 128
    batch_size: Annotated[int, Ge(1)] = 64


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
