"""Model families behind one interface (see ``models.base``), looked up by name from a config.

Adding a family: write ``models/<family>.py`` with a ``Classifier`` subclass and its ``Params``
(whose ``family`` field is ``Literal["<family>"]``), then add it to ``FAMILIES`` below. Nothing in
``training/`` changes: the config's ``model`` section is the union of every family's ``Params``
(``training.config``).

``FAMILIES`` imports a family's module when it is first looked up, so loading a saved model
imports only its own family (a cold ``readout tag`` does not build every family's schema).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from importlib import import_module

from models.base import Classifier, Params


class _Families(Mapping):
    """family name -> its ``Classifier`` subclass, imported on first lookup."""

    def __init__(self, where: dict[str, str]):
        self._where = where  # name -> "module:Class"

    def __getitem__(self, name: str) -> type[Classifier]:
        module, _, cls = self._where[name].partition(":")
        return getattr(import_module(module), cls)

    def __iter__(self) -> Iterator[str]:
        return iter(self._where)

    def __len__(self) -> int:
        return len(self._where)


FAMILIES: Mapping[str, type[Classifier]] = _Families({
    "finetune": "models.finetune:Finetune",
    "tfidf_linear": "models.tfidf_linear:TfidfLinear",
    "fast_linear": "models.fast_linear:FastLinear",
    "embedding_linear": "models.embedding_linear:EmbeddingLinear",
    "static_linear": "models.static_linear:StaticLinear",
})
DEFAULT_FAMILY = "finetune"  # configs/default.yaml's


def classifier_for(params: Params, seed: int) -> Classifier:
    return FAMILIES[params.family](params, seed=seed)


__all__ = ["DEFAULT_FAMILY", "FAMILIES", "Classifier", "Params", "classifier_for"]
