"""Model families behind one interface (see ``models.base``), looked up by name from a config.

Adding a family: write ``models/<family>.py`` with a ``Classifier`` subclass and its ``Params``,
then add it to ``FAMILIES`` below. Nothing in ``training/`` changes.
"""

from __future__ import annotations

from models.base import Classifier, Params
from models.embedding_linear import EmbeddingLinear
from models.finetune import Finetune
from models.tfidf_linear import TfidfLinear

FAMILIES: dict[str, type[Classifier]] = {family.name: family for family in (TfidfLinear, EmbeddingLinear, Finetune)}


def family_params(name: str) -> type[Params]:
    return FAMILIES[name].Params


__all__ = ["FAMILIES", "Classifier", "Params", "family_params"]
