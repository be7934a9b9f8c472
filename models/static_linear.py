"""Family ``static_linear``: the fast family. Static word-piece vectors distilled from the
pretrained encoder, beside word TF-IDF n-grams, + one-vs-rest logistic regression.

Distillation (the model2vec recipe, done here because model2vec's distiller pins
transformers < 5.4): every token of the encoder's vocabulary is run through the encoder alone
(``[CLS] token [SEP]``, mean-pooled), and the vectors are reduced by PCA to ``dims``. A sentence
is the weighted mean of its tokens' vectors, each token weighted by SIF, ``a / (a + p(token))``
with ``p`` counted on the training sentences, so frequent words count for little. The static
vectors carry the encoder's sense of paraphrase ("the two navies will sail together") at the cost
of a table lookup; TF-IDF keeps exact wording. Serving needs tokenizers and NumPy/SciPy only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from annotated_types import Ge, Gt, Le

from models.encoder import DEFAULT_ENCODER, TOKENIZER_FILE, missing_encoder, normalise
from models.linear_head import LinearHeadClassifier, LinearHeadParams
from models.tfidf_linear import Featurizer

SIF_A = 1e-3


@dataclass
class StaticLinearParams(LinearHeadParams):
    family: Literal["static_linear"] = "static_linear"
    encoder: str = DEFAULT_ENCODER  # distilled once per training, offline
    dims: Annotated[int, Ge(8), Le(1024)] = 256  # PCA dimensions of the static vectors
    word_ngrams: tuple[int, int] | None = (1, 2)  # TF-IDF beside the static vectors (None: static only)
    static_weight: Annotated[float, Gt(0)] = 1.0  # scale of the static block against TF-IDF's unit rows


class StaticLinear(LinearHeadClassifier):
    name = "static_linear"
    Params = StaticLinearParams
    requirements = ("tokenizers",)
    run_name_keys = {"C": "C", "dims": "dims"}

    @classmethod
    def missing_resources(cls, params):
        return missing_encoder(params.encoder)

    def _fit(self, texts, Y, doc_ids, validation, on_epoch):
        import scipy.sparse as sp
        from sklearn.feature_extraction.text import TfidfVectorizer
        from tokenizers import Tokenizer

        from models.encoder import locate_encoder

        p = self.params
        self.tokenizer_ = Tokenizer.from_file(str(locate_encoder(p.encoder) / TOKENIZER_FILE))
        self.tokenizer_.no_padding()
        self.tokenizer_.no_truncation()
        vectors = distil(p.encoder, self.tokenizer_, p.dims, self.seed)
        counts = np.bincount(np.concatenate([e.ids for e in self.tokenizer_.encode_batch(texts)]),
                             minlength=len(vectors)).astype(np.float64)
        self.table_ = (vectors * (SIF_A / (SIF_A + counts / max(counts.sum(), 1)))[:, None]).astype(np.float32)
        self.featurizer_ = None
        blocks = [sp.csr_matrix(self._static(texts))]
        if p.word_ngrams:
            vectorizer = TfidfVectorizer(ngram_range=p.word_ngrams, sublinear_tf=True, strip_accents="unicode",
                                         dtype=np.float32)
            blocks.append(vectorizer.fit_transform(texts))
            self.featurizer_ = Featurizer.from_sklearn(vectorizer)
        self._fit_head(sp.hstack(blocks, format="csr"), Y, doc_ids, validation, on_epoch)

    def _static(self, texts) -> np.ndarray:
        """Normalised SIF-weighted means of the tokens' static vectors (special tokens left out)."""
        encodings = self.tokenizer_.encode_batch(list(texts), add_special_tokens=False)
        lengths = np.fromiter((len(e.ids) for e in encodings), dtype=np.int64, count=len(encodings))
        ids = np.fromiter((i for e in encodings for i in e.ids), dtype=np.int64, count=int(lengths.sum()))
        sums = np.zeros((len(encodings), self.table_.shape[1]), dtype=np.float32)
        rows = np.repeat(np.arange(len(encodings)), lengths)
        np.add.at(sums, rows, self.table_[ids])
        return normalise(sums) * self.params.static_weight

    def _features(self, texts):
        import scipy.sparse as sp

        static = sp.csr_matrix(self._static(texts))
        return static if self.featurizer_ is None else sp.hstack([static, self.featurizer_.transform(texts)],
                                                                 format="csr")

    def _save(self, folder: Path) -> None:
        np.save(folder / "static.npy", self.table_)
        self.tokenizer_.save(str(folder / TOKENIZER_FILE))
        if self.featurizer_ is not None:
            (folder / "vocabulary.json").write_text(json.dumps(self.featurizer_.settings(), ensure_ascii=False))
            np.save(folder / "idf.npy", self.featurizer_.idf)
        self._save_head(folder)

    def _load(self, folder: Path) -> None:
        from tokenizers import Tokenizer

        self.table_ = np.load(folder / "static.npy", allow_pickle=False)
        self.tokenizer_ = Tokenizer.from_file(str(folder / TOKENIZER_FILE))
        self.featurizer_ = None
        if (folder / "vocabulary.json").is_file():
            settings = json.loads((folder / "vocabulary.json").read_text())
            self.featurizer_ = Featurizer(idf=np.load(folder / "idf.npy", allow_pickle=False), **settings)
        self._load_head(folder)


def distil(encoder: str, tokenizer, dims: int, seed: int, batch_size: int = 1024) -> np.ndarray:
    """One vector per vocabulary id: the encoder's mean-pooled output for that token alone,
    centred and reduced to ``dims`` by PCA. About a minute for a 30k vocabulary on 2 CPU cores."""
    import torch

    from models.encoder import load_torch_encoder, pooled_model

    _, _, model = load_torch_encoder(encoder)
    pooled = pooled_model(model).eval()
    cls, sep = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    size = tokenizer.get_vocab_size()
    out = np.empty((size, model.config.hidden_size), dtype=np.float32)
    with torch.inference_mode():
        for start in range(0, size, batch_size):
            ids = torch.arange(start, min(start + batch_size, size))
            batch = torch.stack([torch.full_like(ids, cls), ids, torch.full_like(ids, sep)], dim=1)
            out[start:start + len(ids)] = pooled(input_ids=batch, attention_mask=torch.ones_like(batch)).numpy()
    from sklearn.decomposition import PCA

    return PCA(n_components=min(dims, out.shape[1]), random_state=seed).fit_transform(out).astype(np.float32)
