"""The config is validated strictly, with one clear line per problem, before any work starts."""

import pytest

from training.config import load_config
from training.errors import ReadoutError

from helpers import ROOT, write_config


def test_shipped_tfidf_config_is_valid():
    config = load_config(ROOT / "configs" / "tfidf.yaml")
    assert config.family == "tfidf_linear"
    assert config.data.labels == ["trade", "energy", "defence", "culture"]
    # Defaults are filled in, so the resolved config that gets logged is complete.
    assert config.model.max_iter == 2000
    assert config.flat()["model.C"] == 4.0
    assert config.flat()["data.split.validation"] == 0.15


@pytest.mark.parametrize("name", sorted(path.name for path in (ROOT / "configs").glob("*.yaml")))
def test_every_shipped_config_is_valid_and_its_data_passes_the_training_checks(name, monkeypatch):
    from training.data import read_rows

    config = load_config(ROOT / "configs" / name)
    assert all((ROOT / path).is_file() for path in config.data.paths)
    # The checks `readout train` applies across all of a config's files (a sentence in both the
    # corpus and the transfer set is a duplicate), so a shipped config never fails on its own data.
    monkeypatch.chdir(ROOT)
    assert read_rows(config.data)


def test_the_transfer_set_only_adds_to_the_train_split():
    import json

    rows = [json.loads(line) for line in (ROOT / "data" / "transfer.jsonl").read_text(encoding="utf-8").splitlines()]
    assert rows and {row["split"] for row in rows} == {"train"}  # test_data: a fixed split column is used as given


def _error(path, overrides=()):
    with pytest.raises(ReadoutError) as caught:
        load_config(path, overrides)
    message = str(caught.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("section, key, suggestion", [
    ({"experiment_name": "x"}, "experiment_name", "experiment"),
    ({"data": {"pathh": "x"}}, "data.pathh", "data.path"),
    ({"model": {"family": "tfidf_linear", "Cc": 2}}, "model.Cc", "model.C"),
    ({"tracking": {"registered_modle": "x"}}, "tracking.registered_modle", "tracking.registered_model"),
])
def test_unknown_key_is_named_with_the_closest_valid_key(tmp_path, tiny_data, section, key, suggestion):
    config = write_config(tmp_path / "c.yaml", tiny_data, **section)
    message = _error(config)
    assert f"unknown key '{key}'" in message
    assert f"did you mean '{suggestion}'" in message


def test_wrong_type_names_the_key_and_the_value(tmp_path, tiny_data):
    config = write_config(tmp_path / "c.yaml", tiny_data, model={"family": "tfidf_linear", "C": "lots"})
    message = _error(config)
    assert "model.C" in message and "'lots'" in message


def test_out_of_range_value_is_rejected(tmp_path, tiny_data):
    config = write_config(tmp_path / "c.yaml", tiny_data, thresholds={"strategy": "fixed", "value": 1.5})
    assert "thresholds.value" in _error(config)


def test_unknown_family_lists_the_known_ones(tmp_path, tiny_data):
    config = write_config(tmp_path / "c.yaml", tiny_data, model={"family": "gpt"})
    message = _error(config)
    assert "model.family" in message and "tfidf_linear" in message


def test_missing_config_file(tmp_path):
    assert "config file not found" in _error(tmp_path / "nope.yaml")


def test_yaml_syntax_error_gives_the_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("seed: 1\ndata:\n  path: [unclosed\nmodel: {}\n")
    message = _error(path)
    assert "YAML syntax error" in message and "line 4" in message


def test_missing_data_file_is_found_before_training(tmp_path):
    config = write_config(tmp_path / "c.yaml", tmp_path / "missing.jsonl")
    assert "data.path: file not found" in _error(config)


def test_dotted_override_changes_one_value(tiny_config):
    config = load_config(tiny_config, ["model.C=0.5", "seed=7"])
    assert config.model.C == 0.5 and config.seed == 7


def test_bad_override_value_is_validated_like_the_file(tiny_config):
    assert "model.C" in _error(tiny_config, ["model.C=abc"])
    assert "unknown key 'model.CC'" in _error(tiny_config, ["model.CC=1"])


def test_sweep_expands_to_one_valid_config_per_combination(tmp_path, tiny_data):
    config = load_config(write_config(tmp_path / "c.yaml", tiny_data,
                                      sweep={"model.C": [1, 2], "model.class_weight": [None, "balanced"]}))
    combos = config.combinations()
    assert len(combos) == 4
    assert {(c.model.C, c.model.class_weight) for c in combos} == {(1, None), (1, "balanced"),
                                                                         (2, None), (2, "balanced")}


def test_sweep_value_of_the_wrong_type_is_rejected(tmp_path, tiny_data):
    config = write_config(tmp_path / "c.yaml", tiny_data, sweep={"model.C": [1, "many"]})
    assert "model.C" in _error(config)


@pytest.mark.parametrize("key", ["data.path", "seed"])
def test_sweep_over_data_or_seed_is_rejected(tmp_path, tiny_data, key):
    # Children share one loaded split, so a sweep may only vary the model and thresholds.
    config = write_config(tmp_path / "c.yaml", tiny_data, sweep={key: [1, 2]})
    assert "only model.* and thresholds.* keys can be swept" in _error(config)


@pytest.mark.parametrize("text", ["", "# only a comment\n", "{}\n"])
def test_empty_config_is_an_error_not_a_training_with_every_default(tmp_path, text):
    path = tmp_path / "empty.yaml"
    path.write_text(text)
    assert "the config is empty" in _error(path)


def test_schema_defaults_are_the_shipped_default_config():
    from training.config import Config

    shipped = load_config(ROOT / "configs" / "default.yaml")
    assert Config().model == shipped.model and Config().model.family == "finetune"


def test_model_section_is_the_typed_params_of_its_family(tmp_path, tiny_data):
    from models.finetune import FinetuneParams

    path = tmp_path / "c.yaml"
    path.write_text(f"data: {{path: {tiny_data}, split_field: null}}\nmodel: {{family: finetune, epochs: 2}}\n")
    config = load_config(path)
    assert isinstance(config.model, FinetuneParams) and config.model.epochs == 2
    # A key of another family is unknown for this one, with the family named.
    path.write_text(f"data: {{path: {tiny_data}, split_field: null}}\nmodel: {{family: finetune, C: 2}}\n")
    assert "unknown key 'model.C' for family 'finetune'" in _error(path)


def test_context_keys_are_checked_like_any_other(tmp_path, tiny_data):
    config = write_config(tmp_path / "c.yaml", tiny_data, model={"context": {"befor": 1}})
    assert "unknown key 'model.context.befor'" in _error(config) and "model.context.before" in _error(config)
    config = write_config(tmp_path / "d.yaml", tiny_data, model={"context": {"before": -1}})
    assert "model.context.before" in _error(config)
