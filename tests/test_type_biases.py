"""model.type_biases: a decoding shift of each named entity type's logits (layered: B-/I- in every layer; span: the type)."""

from __future__ import annotations

import pytest
import torch

from diplomat_ie.config import ConfigError, ModelConfig, load_config
from diplomat_ie.modeling.configuration import DiplomatConfig
from diplomat_ie.modeling.io import build_model
from diplomat_ie.modeling.predict import Predictor, _type_shift

TYPES = ["CITY", "EVENT", "PERSON"]


@pytest.mark.parametrize(("value", "expected"), [
    ("EVENT=0.5", {"EVENT": 0.5}),
    ("EVENT=0.5, CITY=-1", {"EVENT": 0.5, "CITY": -1.0}),
    ("{EVENT: 2}", {"EVENT": 2.0}),
    ("", {}),
])
def test_type_biases_from_the_command_line(value, expected):
    assert load_config("default", {"model.type_biases": value}).model.type_biases == expected


@pytest.mark.parametrize(("value", "message"), [
    ("EVENT", r"model.type_biases: expected name=value pairs"),
    ("EVENT=x", r"model.type_biases.EVENT: expected float, got 'x'"),
    ("EVENT=nan", r"model.type_biases.EVENT: expected float"),
])
def test_bad_type_biases_are_named(value, message):
    with pytest.raises(ConfigError, match=message):
        load_config("default", {"model.type_biases": value})


def test_type_biases_must_be_finite_and_entity_types():
    with pytest.raises(ConfigError, match=r"model.type_biases: must be finite numbers"):
        ModelConfig(type_biases={"EVENT": float("inf")})


def test_a_new_models_biases_of_types_it_lacks_are_dropped_with_a_warning(caplog):
    """The packaged default biases EVENT; a corpus without EVENT (roles off) still trains, and says so."""
    cfg = load_config("default", {"model.type_biases": "VISIT=1, CITY=-1", "roles.enabled": "false"})
    with caplog.at_level("WARNING", logger="diplomat_ie.modeling.configuration"):
        made = DiplomatConfig.from_run_config(cfg, entity_types=TYPES, encoder={"model_type": "bert"})
    assert made.type_biases == {"CITY": -1.0}
    assert "model.type_biases: ['VISIT'] are not entity types of the model" in caplog.text
    plain = DiplomatConfig.from_run_config(load_config("default", {"roles.enabled": "false"}), entity_types=["PERSON"],
                                           encoder={"model_type": "bert"})
    assert plain.type_biases == {}  # the default's EVENT bias, on a model without EVENT


@pytest.mark.parametrize(("biases", "labels", "expected"), [
    ({"EVENT": 1.0}, ["O", "B-CITY", "I-CITY", "B-EVENT", "I-EVENT"], [0.0, 0.0, 0.0, 1.0, 1.0]),
    ({"EVENT": 1.0, "CITY": -2.0}, ["none", "CITY", "EVENT"], [0.0, -2.0, 1.0]),  # span head classes
    ({}, ["O", "B-CITY", "I-CITY"], None),
    ({"CITY": 0.0}, ["O", "B-CITY", "I-CITY"], None),  # all zero: nothing to add
])
def test_type_shift(biases, labels, expected):
    shift = _type_shift(biases, labels)
    assert (shift is None and expected is None) or shift.tolist() == expected


TEXT = "Президент прибыл в Москву на переговоры."


@pytest.mark.parametrize("decoding", ["argmax", "viterbi"])
def test_predictor_applies_the_type_biases(tiny_backbone, decoding):
    torch.manual_seed(0)
    model, tok = build_model(DiplomatConfig(backbone_name=str(tiny_backbone), entity_types=TYPES, roles=[],
                                            window_length=64, ner_decoding=decoding))
    model.eval()
    labels = model.config.ner_labels
    with torch.no_grad():  # every word: O 5 logits above every tag, in every layer
        head = model.heads.ner_head
        head.weight.zero_()
        head.bias.zero_()
        head.bias.view(model.config.num_layers, len(labels))[:, labels.index("O")] = 5.0

    def types(biases: dict) -> set[str]:
        model.config.type_biases = biases
        return {e.type for e in Predictor(model, tok).predict([TEXT])[0].entities}

    assert types({}) == set()
    assert types({"CITY": 6.0}) == {"CITY"}  # B-/I-CITY 6 beat O's 5
    assert types({"CITY": 6.0, "PERSON": 7.0}) == {"PERSON"}
    assert types({"CITY": 4.0}) == set()  # not enough


def test_the_model_card_lists_the_type_biases():
    from diplomat_ie.training.card import model_card

    cfg = DiplomatConfig(backbone_name="tiny", entity_types=TYPES, roles=[], type_biases={"EVENT": -0.5, "CITY": 1.0})
    card = model_card(cfg, {})
    assert "`model.type_biases` | EVENT -0.5, CITY 1 |" in card
    assert "`model.type_biases` | none |" in model_card(DiplomatConfig(backbone_name="tiny", entity_types=TYPES,
                                                                         roles=[]), {})
