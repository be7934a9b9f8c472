"""Family ``finetune``: the encoder (all-MiniLM-L6-v2) fine-tuned end to end for multi-label
classification: mean-pooled output (beside its neighbours' when ``context`` is on) -> linear head
-> one sigmoid per label, trained with BCE.

The recipe, top to bottom: tokenise with ``datasets.map``; batch sentences of similar length (or,
with context, whole readouts, so each sentence's neighbours are in its batch and share the
gradient), each batch padded to its longest; AdamW with a higher learning rate for the new head
than for the pretrained encoder, linear warmup then decay; early stopping on validation macro-F1
(at threshold 0.5), keeping the best epoch's weights. The encoder is then exported to ONNX
(checked against torch) and the head kept as arrays, so the model that is evaluated, logged and
served is the same one, on onnxruntime and tokenizers without torch.
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Annotated, Literal

import numpy as np
from annotated_types import Ge, Gt, Le, Lt

from models.base import Params
from models.context import Context, dense_windows
from models.encoder import DEFAULT_ENCODER, EncoderClassifier, encoder_folder


@dataclass
class FinetuneParams(Params):
    family: Literal["finetune"] = "finetune"
    # The default config's: each sentence read beside the one before and the one after it.
    context: Context = field(default_factory=lambda: Context(before=1, after=1))
    encoder: str = DEFAULT_ENCODER  # an installed package with a model/ folder, or a local folder
    # The most; early stopping may end sooner. Two passes over corpus v2 take about 20 minutes on
    # a 2-core CPU (a third pass was within seed noise on the dev readouts: 0.881 against 0.878).
    epochs: Annotated[int, Ge(1)] = 2
    patience: Annotated[int, Ge(1)] = 2  # epochs without a better validation macro-F1 before stopping
    learning_rate: Annotated[float, Gt(0)] = 5e-5  # the pretrained encoder
    head_learning_rate: Annotated[float, Gt(0)] = 1e-3  # the new head: at the encoder's rate it underfits
    batch_size: Annotated[int, Ge(1)] = 32
    max_length: Annotated[int, Ge(8), Le(512)] = 64  # tokens; longer sentences are truncated
    weight_decay: Annotated[float, Ge(0)] = 0.01
    warmup_ratio: Annotated[float, Ge(0), Lt(1)] = 0.1
    # The word embeddings (half the encoder's weights) keep their pretrained values: their dense
    # gradient and optimizer step were a quarter of each training step on a CPU.
    freeze_word_embeddings: bool = False
    # The embeddings and this many of the encoder's lowest layers keep their pretrained weights:
    # no backward pass through them (2 of 6: 29 % less fit time on a CPU, 1.7 dev points lower).
    frozen_layers: Annotated[int, Ge(0)] = 0


class Finetune(EncoderClassifier):
    name = "finetune"
    Params = FinetuneParams
    run_name_keys = {"learning_rate": "lr", "epochs": "ep"}

    @classmethod
    def missing_resources(cls, params):
        problem = super().missing_resources(params)
        if problem or params.frozen_layers == 0:
            return problem
        config = json.loads((encoder_folder(params.encoder) / "config.json").read_text())
        layers = config.get("num_hidden_layers", 0)
        if params.frozen_layers > layers:
            return f"frozen_layers: {params.frozen_layers}, but encoder {params.encoder!r} has only {layers} layers to freeze"
        return None

    def _fit(self, texts, Y, doc_ids, validation, on_epoch):
        import torch
        from tqdm import tqdm
        from transformers import DataCollatorWithPadding, get_linear_schedule_with_warmup, set_seed

        from models.encoder import TOKENIZER_FILE, export_onnx, input_names, load_torch_encoder, pooled_model

        p, context = self.params, self.params.context
        set_seed(self.seed)  # random, numpy and torch (CPU and CUDA) in one call
        torch.set_num_threads(os.cpu_count() or 1)
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")

        folder, tokenizer, encoder = load_torch_encoder(p.encoder)
        head = torch.nn.Linear(encoder.config.hidden_size * context.blocks, Y.shape[1]).to(device)
        _freeze(encoder, p)
        model = pooled_model(encoder).to(device)
        names = input_names(encoder)
        doc_ids = doc_ids if doc_ids is not None else [None] * len(texts)

        data = _tokenised(tokenizer, texts, Y, p.max_length)
        # Every epoch's batches drawn up front: the schedule needs their exact number, which
        # varies from epoch to epoch when whole readouts are packed.
        sampler = self._batches(data, doc_ids)
        plans = [list(sampler) for _ in range(p.epochs)]
        collate = DataCollatorWithPadding(tokenizer)
        optimizer = torch.optim.AdamW(_parameter_groups(model.encoder, head, p))
        total_steps = sum(map(len, plans))
        scheduler = get_linear_schedule_with_warmup(optimizer, round(p.warmup_ratio * total_steps), total_steps)
        loss_fn = torch.nn.BCEWithLogitsLoss()

        def keep_head() -> None:  # the head's current weights as the arrays that serve
            self.coef_ = head.weight.detach().cpu().double().numpy()
            self.intercept_ = head.bias.detach().cpu().double().numpy()

        def head_proba(sentences: list[str], ids) -> np.ndarray:  # the model mid-training, scored by torch
            from models.encoder import torch_outputs

            keep_head()
            return self._head(torch_outputs(model, tokenizer, sentences, p.max_length, p.batch_size).astype(np.float64),
                              ids)

        best_score, best_state, waited = -1.0, None, 0
        for epoch, plan in enumerate(plans, start=1):
            model.train()
            loss_sum, seen = 0.0, 0
            loader = torch.utils.data.DataLoader(data, batch_sampler=plan, collate_fn=collate)
            for batch in tqdm(loader, desc=f"epoch {epoch}/{p.epochs}", unit="batch", leave=False):
                labels = batch["labels"].to(device)
                pooled = _pooled_by_length(model, {n: batch[n].to(device) for n in names if n in batch},
                                           left=tokenizer.padding_side == "left")
                if context.enabled:  # neighbours of the same readout are in the batch (_batches)
                    batch_docs = [doc_ids[i] for i in batch["row"].tolist()]
                    pooled = torch.cat([pooled] + [torch.from_numpy(M).to(pooled) @ pooled
                                                   for M in dense_windows(batch_docs, len(labels), context)], 1)
                loss = loss_fn(head(pooled), labels)
                optimizer.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_([*model.parameters(), *head.parameters()], 1.0)
                optimizer.step()
                scheduler.step()
                loss_sum, seen = loss_sum + loss.item() * len(labels), seen + len(labels)

            metrics = self.epoch_metrics(loss_sum / seen, validation, proba=head_proba)
            if on_epoch:
                on_epoch(epoch, metrics)
            if validation is None:
                continue
            if metrics["val_macro_f1"] > best_score:
                best_score, waited, self.best_epoch_ = metrics["val_macro_f1"], 0, epoch
                best_state = [{k: v.detach().to("cpu", copy=True) for k, v in m.state_dict().items()}
                              for m in (model, head)]
            else:
                waited += 1
                if waited >= p.patience:
                    break
        if best_state is not None:
            model.load_state_dict(best_state[0])
            head.load_state_dict(best_state[1])
        model.eval()

        def reference(sentences):  # torch's pooled vectors, tokenised by transformers, for the export check
            from models.encoder import torch_outputs

            return torch_outputs(model, tokenizer, sentences, p.max_length, p.batch_size)

        self.encoder_ = export_onnx(model, folder / TOKENIZER_FILE, p.max_length, p.batch_size, reference=reference)
        keep_head()

    def _batches(self, data, doc_ids):
        """Batches of row indices: similar lengths (less padding) or, with context, whole readouts."""
        import torch
        from transformers.trainer_pt_utils import LengthGroupedSampler

        generator = torch.Generator().manual_seed(self.seed)
        size = self.params.batch_size
        if self.params.context.enabled:
            return ReadoutBatches(doc_ids, size, generator)
        sampler = LengthGroupedSampler(size, lengths=[len(ids) for ids in data["input_ids"]], generator=generator)
        return torch.utils.data.BatchSampler(sampler, size, drop_last=False)


class ReadoutBatches:
    """Batch sampler: readouts in a fresh random order each epoch, packed whole into batches of
    about ``batch_size`` sentences (a longer readout is a batch of its own)."""

    def __init__(self, doc_ids, batch_size: int, generator):
        self.generator, self.batch_size = generator, batch_size
        members: dict = {}
        for i, doc in enumerate(doc_ids):
            members.setdefault(doc if doc is not None else ("row", i), []).append(i)
        self.readouts = list(members.values())  # row indices of each readout, in reading order

    def __iter__(self):
        import torch

        batch: list[int] = []
        for k in torch.randperm(len(self.readouts), generator=self.generator).tolist():
            members = self.readouts[k]
            if batch and len(batch) + len(members) > self.batch_size:
                yield batch
                batch = []
            batch = batch + members
        if batch:
            yield batch


def _pooled_by_length(model, inputs, chunk: int = 8, left: bool = False):
    """``model(**inputs)`` for a padded batch, run as chunks of ``chunk`` rows of similar length,
    each cut to its own longest row: the same vectors (padding is masked), but a batch packed
    from whole readouts is padded to its longest sentence, 1.7x the real tokens on the corpus
    (1.2x in chunks of 8), which made training about a fifth slower."""
    import torch

    lengths = inputs["attention_mask"].sum(1)
    order = torch.argsort(lengths)
    pieces = []
    for rows in order.split(chunk):
        width = int(lengths[rows].max())
        pieces.append(model(**{n: t[rows, -width:] if left else t[rows, :width] for n, t in inputs.items()}))
    return torch.cat(pieces)[torch.argsort(order)]


def _freeze(encoder, p: FinetuneParams) -> None:
    """Stop training the parts of the encoder that ``p`` keeps as pretrained (BERT-style encoders)."""
    if p.freeze_word_embeddings:
        encoder.get_input_embeddings().requires_grad_(False)
    if p.frozen_layers:
        for module in (encoder.embeddings, *encoder.encoder.layer[:p.frozen_layers]):
            module.requires_grad_(False)


def _tokenised(tokenizer, texts, Y, max_length: int):
    """A ``datasets.Dataset`` of token ids (unpadded: each batch is padded on the fly), float labels
    and each row's index (to find its readout)."""
    from datasets import Dataset

    def tokenize(batch):
        return tokenizer(batch["text"], truncation=True, max_length=max_length)

    with _no_datasets_progress():
        data = Dataset.from_dict({"text": texts, "labels": Y.astype(np.float32).tolist(), "row": list(range(len(texts)))})
        return data.map(tokenize, batched=True, remove_columns=["text"])


def _parameter_groups(encoder, head, p: FinetuneParams):
    """AdamW groups: encoder and head at their own learning rates; no decay on biases and LayerNorms."""
    groups = []
    for module, lr in ((encoder, p.learning_rate), (head, p.head_learning_rate)):
        named = [(n, w) for n, w in module.named_parameters() if w.requires_grad]
        plain = [w for n, w in named if w.ndim < 2]  # biases and LayerNorm weights
        groups += [{"params": [w for n, w in named if w.ndim >= 2], "lr": lr, "weight_decay": p.weight_decay},
                   {"params": plain, "lr": lr, "weight_decay": 0.0}]
    return [g for g in groups if g["params"]]


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
