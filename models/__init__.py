"""Model families behind one interface (see ``models.base``), looked up by name from a config.

Adding a family: write ``models/<family>.py`` with a ``Classifier`` subclass and its ``Params``
(whose ``family`` field is ``Literal["<family>"]``), then add it to ``FAMILIES`` below. Nothing in
``training/`` changes: the config's ``model`` section is the union of every family's ``Params``.
"""

from __future__ import annotations

from typing import Annotated, Union

from pydantic import Field

from models.base import Classifier, Params
from models.embedding_linear import EmbeddingLinear
from models.fast_linear import FastLinear
from models.finetune import Finetune
from models.static_linear import StaticLinear
from models.tfidf_linear import TfidfLinear

FAMILIES: dict[str, type[Classifier]] = {family.name: family for family in
                                         (Finetune, TfidfLinear, FastLinear, EmbeddingLinear, StaticLinear)}
DEFAULT_FAMILY = Finetune.name  # configs/default.yaml's

# The config's `model` section: one family's Params, chosen by its `family` key.
ModelParams = Annotated[Union[tuple(family.Params for family in FAMILIES.values())], Field(discriminator="family")]


def classifier_for(params: Params, seed: int) -> Classifier:
    return FAMILIES[params.family](params, seed=seed)


__all__ = ["DEFAULT_FAMILY", "FAMILIES", "Classifier", "ModelParams", "Params", "classifier_for"]
