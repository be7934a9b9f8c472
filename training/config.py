"""The training config: a YAML file validated strictly before any work starts.

One schema (pydantic) is the single source of truth. Unknown keys are rejected with the closest
valid key suggested; the ``model`` section is the union of the families' own parameter schemas
(``ModelParams``, chosen by ``model.family``), so adding a family never touches this module
and the family receives its typed ``Params``. The defaults are those of ``configs/default.yaml``.
``--set key=value`` overrides one dotted key.
"""

from __future__ import annotations

import dataclasses
import difflib
import itertools
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from models import DEFAULT_FAMILY, FAMILIES, Params
from models.checked import field_types
from training.errors import ReadoutError

# The config's `model` section: one family's Params, chosen by its `family` key.
ModelParams = Annotated[Union[tuple(family.Params for family in FAMILIES.values())], Field(discriminator="family")]

DEFAULT_LABELS = ["trade", "energy", "defence", "culture"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


class SplitConfig(_Strict):
    """Fractions for a random split by document, used only when the data has no split field."""

    validation: float = Field(0.15, gt=0, lt=1)
    test: float = Field(0.15, gt=0, lt=1)

    @model_validator(mode="after")
    def _leaves_training_data(self) -> SplitConfig:
        if self.validation + self.test >= 0.9:
            raise ValueError("validation + test must leave at least 10% for training")
        return self


def describe_paths(paths) -> str:
    """Data files as one line, comma-separated (messages, run tags, titles)."""
    return ", ".join(str(path) for path in paths)


class DataConfig(_Strict):
    # One file, or a list of files read as one data set (e.g. the corpus and your own labels).
    path: Path | list[Path] = Path("data/readouts.jsonl")
    text_field: str = "text"
    labels_field: str = "labels"
    # Rows sharing a group (a readout) always land in the same split, so phrasing never leaks.
    group_field: str | None = "doc_id"
    # A fixed split column (train/validation/test) keeps every run comparable; without it the
    # split is drawn by document from `split` fractions and the seed.
    split_field: str | None = "split"
    labels: list[str] = Field(default_factory=lambda: list(DEFAULT_LABELS), min_length=1)
    split: SplitConfig = Field(default_factory=SplitConfig)

    @field_validator("path")
    @classmethod
    def _some_files(cls, path: Path | list[Path]) -> Path | list[Path]:
        if isinstance(path, list):
            if not path:
                raise ValueError("give at least one data file")
            if len(set(path)) != len(path):
                raise ValueError("a data file is listed twice")
        return path

    @property
    def paths(self) -> list[Path]:
        """The data files, in the order given."""
        return list(self.path) if isinstance(self.path, list) else [self.path]

    def describe(self) -> str:
        return describe_paths(self.paths)

    @field_validator("labels")
    @classmethod
    def _unique_labels(cls, labels: list[str]) -> list[str]:
        if len(set(labels)) != len(labels):
            raise ValueError("labels must be unique")
        return labels


class ThresholdConfig(_Strict):
    # tuned: per label, the threshold that maximises F1 on the validation split.
    strategy: Literal["tuned", "fixed"] = "tuned"
    # fixed: the threshold of every label; tuned: the preferred threshold among near-best ones.
    value: float = Field(0.5, gt=0, lt=1)
    # tuned: thresholds whose validation F1 is within this of the best count as equally good.
    tolerance: float = Field(0.01, ge=0, lt=1)


class TrackingConfig(_Strict):
    uri: str | None = None
    registered_model: str = "readout-tagger"
    alias: str = "champion"
    # if_none: give the alias to this version only when no version holds it yet.
    # if_better: when this run's validation macro-F1 beats the current holder's.
    promote: Literal["if_none", "if_better", "always", "never"] = "if_none"


class Config(_Strict):
    experiment: str = "readout-tagger"
    seed: int = 13
    data: DataConfig = Field(default_factory=DataConfig)
    model: ModelParams = Field(default_factory=FAMILIES[DEFAULT_FAMILY].Params)
    thresholds: ThresholdConfig = Field(default_factory=ThresholdConfig)
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)
    # Dotted key -> list of values; `readout train` runs one child run per combination.
    sweep: dict[str, list[Any]] = Field(default_factory=dict)

    @field_validator("model", mode="before")
    @classmethod
    def _known_family(cls, model: Any) -> Any:
        if isinstance(model, dict):
            model = {"family": DEFAULT_FAMILY, **model}
            if model["family"] not in FAMILIES:
                raise ValueError(f"model.family must be one of {sorted(FAMILIES)}, got {model['family']!r}")
        return model

    @field_validator("sweep")
    @classmethod
    def _sweep_model_and_thresholds_only(cls, sweep: dict[str, list[Any]]) -> dict[str, list[Any]]:
        # Every child of a sweep trains on the same loaded data and split, so only keys that do
        # not change the data may vary.
        for key, values in sweep.items():
            if not key.startswith(("model.", "thresholds.")):
                raise ValueError(f"sweep key {key!r}: only model.* and thresholds.* keys can be swept")
            if not values:
                raise ValueError(f"sweep key {key!r}: give at least one value")
        return sweep

    @property
    def family(self) -> str:
        return self.model.family

    def flat(self) -> dict[str, Any]:
        """Dotted keys (``model.C``, ``data.seed``) for MLflow params; the sweep itself is left out."""
        dumped = self.model_dump(mode="json", exclude={"sweep"})
        return dict(_flatten(dumped))

    def combinations(self) -> list[Config]:
        """One config per sweep combination (just ``[self]`` when there is no sweep)."""
        if not self.sweep:
            return [self]
        keys = list(self.sweep)
        configs = []
        for values in itertools.product(*(self.sweep[k] for k in keys)):
            raw = self.model_dump(mode="json", exclude={"sweep"})
            for key, value in zip(keys, values):
                _set_dotted(raw, key, value)
            configs.append(_validate(raw, source="sweep " + ", ".join(f"{k}={v}" for k, v in zip(keys, values))))
        return configs


def _flatten(tree: dict[str, Any], prefix: str = ""):
    for key, value in tree.items():
        if isinstance(value, dict):
            yield from _flatten(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def _set_dotted(tree: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    for part in parents:
        node = tree.get(part)
        if not isinstance(node, dict):
            node = tree[part] = {}
        tree = node
    tree[leaf] = value


def _known_keys(schema: type, raw: dict[str, Any]) -> dict[str, Any]:
    """Valid keys at this level of the schema (a pydantic model or a family's parameter dataclass),
    mapped to the sub-schema (or None for a leaf). The ``model`` section's schema is the chosen
    family's ``Params``."""
    if dataclasses.is_dataclass(schema):
        fields = field_types(schema)
    else:
        fields = {name: field.annotation for name, field in schema.model_fields.items()}
    keys: dict[str, Any] = {}
    for name, sub in fields.items():
        if name == "model" and schema is Config:
            family = raw["model"].get("family", DEFAULT_FAMILY) if isinstance(raw.get("model"), dict) else None
            sub = FAMILIES[family].Params if family in FAMILIES else None
        schema_like = isinstance(sub, type) and (issubclass(sub, BaseModel) or dataclasses.is_dataclass(sub))
        keys[name] = sub if schema_like else None
    return keys


def _unknown_key_error(raw: Any, schema: type, prefix: str = "") -> str | None:
    """The first unknown key in ``raw`` as a message with a suggestion, or None."""
    if not isinstance(raw, dict):
        return None
    known = _known_keys(schema, raw)
    where = f" for family {raw.get('family', DEFAULT_FAMILY)!r}" if issubclass(schema, Params) else ""
    for key, value in raw.items():
        if key not in known:
            return _suggest(prefix + str(key), str(key), known, prefix, where)
        if known[key] is not None:
            nested = _unknown_key_error(value, known[key], f"{prefix}{key}.")
            if nested:
                return nested
    return None


def _suggest(full: str, key: str, choices, prefix: str, where: str = "") -> str:
    close = difflib.get_close_matches(key, list(choices), n=1, cutoff=0.5)
    hint = f" (did you mean '{prefix}{close[0]}'?)" if close else f" (valid keys: {', '.join(sorted(choices))})"
    return f"unknown key '{full}'{where}{hint}"


def _validate(raw: dict[str, Any], source: str) -> Config:
    problem = _unknown_key_error(raw, Config)
    if problem:
        raise ReadoutError(f"{source}: {problem}")
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        error = exc.errors()[0]
        parts = list(error["loc"])
        if parts[:1] == ["model"] and len(parts) > 1 and parts[1] in FAMILIES:  # the union's tag
            del parts[1]
        message = error["msg"].removeprefix("Value error, ")
        field, named, rest = message.partition(": ")
        if error["type"] == "value_error" and named and field.isidentifier():  # a Params check names its field
            parts, message = [*parts, field], rest
        loc = ".".join(str(p) for p in parts)
        got = f" (got {error['input']!r})" if "input" in error and not isinstance(error["input"], dict) else ""
        raise ReadoutError(f"{source}: {loc + ': ' if loc else ''}{message}{got}") from None


def parse_override(text: str) -> tuple[str, Any]:
    """``model.C=2`` -> ("model.C", 2); the value is read as YAML, so ``[1, 2]`` and ``null`` work."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ReadoutError(f"--set expects KEY=VALUE, got {text!r}")
    try:
        return key.strip(), yaml.safe_load(value)
    except yaml.YAMLError:
        raise ReadoutError(f"--set {key}: value {value!r} is not valid YAML") from None


def load_config(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Read, override and validate a config file; every problem is one ``ReadoutError`` line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ReadoutError(f"config file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ReadoutError(f"cannot read config file {path}: {exc}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ReadoutError(f"{path}: YAML syntax error{where}: {problem}") from None
    if not raw:  # an empty file would silently train every default
        raise ReadoutError(f"{path}: the config is empty; start from configs/default.yaml")
    if not isinstance(raw, dict):
        raise ReadoutError(f"{path}: a config must be a YAML mapping of keys to values")
    for override in overrides:
        key, value = parse_override(override)
        _set_dotted(raw, key, value)
    config = _validate(raw, source=str(path))
    for combination in config.combinations():
        _check_paths(combination, path)
    return config


def _check_paths(config: Config, source: Path) -> None:
    for data_path in config.data.paths:
        if not data_path.is_file():
            raise ReadoutError(f"{source}: data.path: file not found: {data_path}")
    missing = FAMILIES[config.family].missing_resources(config.model)
    if missing:
        raise ReadoutError(f"{source}: model: {missing}")
