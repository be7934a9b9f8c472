"""Family ``finetune``: the encoder (all-MiniLM-L6-v2) fine-tuned end to end for multi-label
classification: mean-pooled output -> linear head -> one sigmoid per label, trained with BCE.

The recipe, top to bottom: tokenise with ``datasets.map``; batch sentences of similar length, each
batch padded to its longest; AdamW with a higher learning rate for the new head than for the
pretrained encoder, linear warmup then decay; early stopping on validation macro-F1 (at threshold
0.5), keeping the best epoch's weights.

Saved as ONNX (token ids -> logits, checked against torch at export) + ``tokenizer.json`` +
``params.json``; a loaded model runs on onnxruntime and tokenizers, without torch.
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from pydantic import Field

from models.base import Params, macro_f1, mean_log_loss, sigmoid
from models.encoder import DEFAULT_ENCODER, EncoderClassifier, OnnxEncoder


class FinetuneParams(Params):
    encoder: str = DEFAULT_ENCODER  # an installed package with a model/ folder, or a local folder
    epochs: int = Field(5, ge=1)  # the most; early stopping may end sooner
    patience: int = Field(2, ge=1)  # epochs without a better validation macro-F1 before stopping
    learning_rate: float = Field(5e-5, gt=0)  # the pretrained encoder
    head_learning_rate: float = Field(1e-3, gt=0)  # the new head: at the encoder's rate it underfits
    batch_size: int = Field(32, ge=1)
    max_length: int = Field(64, ge=8, le=512)  # tokens; longer sentences are truncated
    weight_decay: float = Field(0.01, ge=0)
    warmup_ratio: float = Field(0.1, ge=0, lt=1)


class Finetune(EncoderClassifier):
    name = "finetune"
    Params = FinetuneParams
    def fit(self, texts, Y, validation=None, on_epoch=None):
        import torch
        from tqdm import tqdm
        from transformers import DataCollatorWithPadding, get_linear_schedule_with_warmup, set_seed
        from transformers.trainer_pt_utils import LengthGroupedSampler

        from models.encoder import input_names, load_torch_encoder, pooled_model

        texts, Y, p = list(texts), np.asarray(Y), self.params
        self.runtime_ = None  # refitting a loaded model drops its ONNX graph: torch predicts until saved again
        set_seed(self.seed)  # random, numpy and torch (CPU and CUDA) in one call
        torch.set_num_threads(os.cpu_count() or 1)
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")

        _, self.tokenizer_, encoder = load_torch_encoder(p.encoder)
        head = torch.nn.Linear(encoder.config.hidden_size, Y.shape[1])
        self.model_ = model = pooled_model(encoder, head).to(device)
        self.n_labels_ = Y.shape[1]
        names = input_names(encoder)

        data = self._tokenised(texts, Y)
        # Shuffled, but each batch drawn from sentences of similar length: less padding, faster epochs.
        sampler = LengthGroupedSampler(p.batch_size, lengths=[len(ids) for ids in data["input_ids"]],
                                       generator=torch.Generator().manual_seed(self.seed))
        loader = torch.utils.data.DataLoader(data, batch_size=p.batch_size, sampler=sampler,
                                             collate_fn=DataCollatorWithPadding(self.tokenizer_))
        optimizer = torch.optim.AdamW(self._parameter_groups(model))
        total_steps = len(loader) * p.epochs
        scheduler = get_linear_schedule_with_warmup(optimizer, round(p.warmup_ratio * total_steps), total_steps)
        loss_fn = torch.nn.BCEWithLogitsLoss()

        best_score, best_state, waited = -1.0, None, 0
        for epoch in range(1, p.epochs + 1):
            model.train()
            loss_sum, seen = 0.0, 0
            for batch in tqdm(loader, desc=f"epoch {epoch}/{p.epochs}", unit="batch", leave=False):
                labels = batch["labels"].to(device)
                loss = loss_fn(model(**{n: batch[n].to(device) for n in names if n in batch}), labels)
                optimizer.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                scheduler.step()
                loss_sum, seen = loss_sum + loss.item() * len(labels), seen + len(labels)

            metrics = {"train_loss": loss_sum / seen}
            if validation is not None:
                Y_val, P_val = np.asarray(validation[1]), self.predict_proba(validation[0])
                metrics |= {"val_loss": mean_log_loss(Y_val, P_val), "val_macro_f1": macro_f1(Y_val, P_val)}
            if on_epoch:
                on_epoch(epoch, metrics)
            if validation is None:
                continue
            if metrics["val_macro_f1"] > best_score:
                best_score, waited, self.best_epoch_ = metrics["val_macro_f1"], 0, epoch
                best_state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
            else:
                waited += 1
                if waited >= p.patience:
                    break
        if best_state is not None:
            model.load_state_dict(best_state)
        model.eval()
        return self

    def _tokenised(self, texts, Y):
        """A ``datasets.Dataset`` of token ids (unpadded: each batch is padded on the fly) and float labels."""
        from datasets import Dataset

        def tokenize(batch):
            return self.tokenizer_(batch["text"], truncation=True, max_length=self.params.max_length)

        with _no_datasets_progress():
            data = Dataset.from_dict({"text": texts, "labels": Y.astype(np.float32).tolist()})
            return data.map(tokenize, batched=True, remove_columns=["text"])

    def _parameter_groups(self, model):
        """AdamW groups: encoder and head at their own learning rates; no decay on biases and LayerNorms."""
        p = self.params
        groups = []
        for module, lr in ((model.encoder, p.learning_rate), (model.head, p.head_learning_rate)):
            named = [(n, w) for n, w in module.named_parameters() if w.requires_grad]
            plain = [w for n, w in named if w.ndim < 2]  # biases and LayerNorm weights
            groups += [{"params": [w for n, w in named if w.ndim >= 2], "lr": lr, "weight_decay": p.weight_decay},
                       {"params": plain, "lr": lr, "weight_decay": 0.0}]
        return [g for g in groups if g["params"]]

    def predict_proba(self, texts):
        from models.encoder import torch_outputs

        texts = list(texts)
        if not texts:
            return np.zeros((0, self.n_labels_))
        if getattr(self, "runtime_", None) is not None:  # loaded from disk: onnxruntime, no torch
            logits = self.runtime_(texts)
        else:  # just trained: the torch model
            logits = torch_outputs(self.model_, self.tokenizer_, texts, self.params.max_length, self.params.batch_size)
        return sigmoid(logits)

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "params.json").write_text(json.dumps({"seed": self.seed, **self.params.model_dump(mode="json")}))
        runtime = self._export() if getattr(self, "runtime_", None) is None else self.runtime_
        runtime.save(folder)

    def _export(self) -> OnnxEncoder:
        """The trained model as ONNX, checked against torch (tokenised by transformers) on a few sentences."""
        from models.encoder import TOKENIZER_FILE, export_onnx, locate_encoder, torch_outputs

        p = self.params

        def reference(texts):
            return torch_outputs(self.model_, self.tokenizer_, texts, p.max_length, p.batch_size)

        return export_onnx(self.model_, locate_encoder(p.encoder) / TOKENIZER_FILE, p.max_length, p.batch_size,
                           reference=reference)

    @classmethod
    def load(cls, folder: Path) -> Finetune:
        model = cls(**json.loads((folder / "params.json").read_text()))
        model.runtime_ = OnnxEncoder.load(folder, model.params.batch_size)
        model.n_labels_ = model.runtime_.output_size
        return model


@contextmanager
def _no_datasets_progress():
    # A "Map" bar for a second of tokenising would interleave with the epoch bars.
    from datasets.utils import logging

    enabled = logging.is_progress_bar_enabled()
    logging.disable_progress_bar()
    try:
        yield
    finally:
        if enabled:
            logging.enable_progress_bar()
