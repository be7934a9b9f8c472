"""Hyper-parameters as plain dataclasses that check themselves, so a saved model loads without pydantic.

A family's ``Params`` is a dataclass whose bounds are ``Annotated`` ``annotated_types``
constraints (``min_df: Annotated[int, Ge(1)] = 1``). ``training.config`` validates a config's
``model`` section against these classes with pydantic (types, unknown keys, the same bounds);
built in code or read back from a saved model, a ``Checked`` checks the bounds itself and turns
JSON's lists and dicts back into its tuples and nested dataclasses. Loading a model then costs
no pydantic import (about 0.15 s of a cold ``readout tag``).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Annotated, Any

from annotated_types import Ge, Gt, Le, Lt

_BOUNDS = {Ge: ("ge", "greater than or equal to", lambda v, b: v >= b),
           Gt: ("gt", "greater than", lambda v, b: v > b),
           Le: ("le", "less than or equal to", lambda v, b: v <= b),
           Lt: ("lt", "less than", lambda v, b: v < b)}


class Checked:
    """Base of the parameter dataclasses: bounds checked on construction, ``to_dict`` for JSON."""

    __pydantic_config__ = {"extra": "forbid", "validate_default": True}  # read by pydantic (training.config)

    def __post_init__(self) -> None:
        for name, hint in field_types(type(self)).items():
            value = _coerce(getattr(self, name), hint)
            object.__setattr__(self, name, value)
            for bound in _constraints(hint):
                key, words, holds = _BOUNDS[type(bound)]
                if value is not None and not holds(value, getattr(bound, key)):
                    raise ValueError(f"{name}: Input should be {words} {getattr(bound, key)} (got {value!r})")

    def to_dict(self) -> dict[str, Any]:
        """The values as JSON takes them (tuples become lists when dumped)."""
        return dataclasses.asdict(self)


_HINTS: dict[type, dict[str, Any]] = {}


def field_types(cls: type) -> dict[str, Any]:
    """Each field's evaluated annotation, ``Annotated`` kept (once per class)."""
    if cls not in _HINTS:
        every = typing.get_type_hints(cls, include_extras=True)
        _HINTS[cls] = {f.name: every[f.name] for f in dataclasses.fields(cls)}
    return _HINTS[cls]


def _constraints(hint) -> list:
    found = []
    for part in _alternatives(hint):
        if typing.get_origin(part) is Annotated:
            found += [m for m in part.__metadata__ if type(m) in _BOUNDS]
    return found


def _alternatives(hint) -> tuple:
    """``X | None`` -> (X, None); anything else -> (hint,)."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return typing.get_args(hint)
    return (hint,)


def _coerce(value, hint):
    """A JSON value back to the field's type: a dict to its dataclass, a list to a tuple."""
    for part in _alternatives(hint):
        base = typing.get_args(part)[0] if typing.get_origin(part) is Annotated else part
        if isinstance(value, dict) and isinstance(base, type) and issubclass(base, Checked):
            return base(**value)
        if isinstance(value, list) and typing.get_origin(base) is tuple:
            return tuple(value)
    return value
