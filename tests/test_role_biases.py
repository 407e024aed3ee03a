"""roles.role_biases: a decoding shift of each named role's logit (pair head: the role; bio head: B-/I-)."""

from __future__ import annotations

import pytest
import torch

from diplomat_ie.config import ConfigError, RolesConfig, load_config
from diplomat_ie.data.document import Document, Entity, Relation, Span
from diplomat_ie.data.roles import ROLES
from diplomat_ie.evaluation.evaluate import predict_gold_docs
from diplomat_ie.modeling.configuration import DiplomatConfig
from diplomat_ie.modeling.io import build_model
from diplomat_ie.modeling.predict import Predictor, _role_shift

AGENT = 1 + ROLES.index("agent")


@pytest.mark.parametrize(("value", "expected"), [
    ("agent=0.5", {"agent": 0.5}),
    ("agent=0.5, place=-1", {"agent": 0.5, "place": -1.0}),
    ("{agent: 2, object: 1.5}", {"agent": 2.0, "object": 1.5}),
    ("", {}),
])
def test_role_biases_from_the_command_line(value, expected):
    assert load_config("default", {"roles.role_biases": value}).roles.role_biases == expected


@pytest.mark.parametrize(("value", "message"), [
    ("agent", r"roles.role_biases: expected name=value pairs"),
    ("agent=x", r"roles.role_biases.agent: expected float, got 'x'"),
    ("[agent]", r"roles.role_biases: expected name=value pairs"),
    ("agent=inf", r"roles.role_biases.agent: expected float"),
])
def test_bad_role_biases_are_named(value, message):
    with pytest.raises(ConfigError, match=message):
        load_config("default", {"roles.role_biases": value})


def test_role_biases_from_a_yaml_file(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("roles:\n  role_biases: {agent: 1, place: -0.5}\n", encoding="utf-8")
    assert load_config(path).roles.role_biases == {"agent": 1.0, "place": -0.5}
    path.write_text("roles:\n  role_biases: [agent]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"roles.role_biases: expected a mapping"):
        load_config(path)


def test_role_biases_must_be_finite_and_roles():
    with pytest.raises(ConfigError, match=r"roles.role_biases: must be finite numbers"):
        RolesConfig(role_biases={"agent": float("nan")})
    cfg = load_config("default", {"roles.role_biases": "visitor=1"})
    with pytest.raises(ConfigError, match=r"roles.role_biases: \['visitor'\] are not roles"):
        DiplomatConfig.from_run_config(cfg, entity_types=["EVENT", "PERSON"], encoder={"model_type": "bert"})


@pytest.mark.parametrize(("biases", "labels", "pair", "expected"), [
    ({"agent": 1.0}, ["none", "agent", "place"], True, [0.0, 1.0, 0.0]),
    ({"agent": 1.0, "place": -2.0}, ["O", "B-agent", "I-agent", "B-place", "I-place"], False,
     [0.0, 1.0, 1.0, -2.0, -2.0]),
    ({}, ["none", "agent"], True, None),
    ({"agent": 0.0}, ["none", "agent"], True, None),  # all zero: nothing to add
])
def test_role_shift(biases, labels, pair, expected):
    shift = _role_shift(biases, labels, pair)
    assert (shift is None and expected is None) or shift.tolist() == expected


TEXT = "Президент прибыл в Москву на переговоры."


def _doc() -> Document:
    def ent(i, typ, lo, hi):
        return Entity(i, typ, [Span(lo, hi)], TEXT[lo:hi])

    ents = [ent("T1", "PERSON", 0, 9), ent("T2", "EVENT", 10, 16), ent("T3", "CITY", 19, 25),
            ent("T4", "EVENT", 29, 38)]
    return Document(id="x", text=TEXT, entities=ents, relations=[Relation("R1", "AGENT", "T1", "T2")])


@pytest.mark.parametrize("head", ["pair", "bio"])
def test_predictor_applies_the_role_biases(tiny_backbone, head):
    torch.manual_seed(0)
    model, tok = build_model(DiplomatConfig(backbone_name=str(tiny_backbone), entity_types=["CITY", "EVENT", "PERSON"],
                                            roles=ROLES, trigger_types=["EVENT"], window_length=64, role_head=head))
    model.eval()
    agent = AGENT if head == "pair" else model.config.role_labels.index("B-agent")
    place = 1 + ROLES.index("place") if head == "pair" else model.config.role_labels.index("B-place")
    with torch.no_grad():  # agent everywhere, 8 logits above none / O; place 7
        model.role_head.out.weight.zero_()
        model.role_head.out.bias.zero_()
        model.role_head.out.bias[agent] = 8.0
        model.role_head.out.bias[place] = 7.0

    def roles(biases: dict) -> set[str]:
        model.config.role_biases = biases
        return {a.type for ev in predict_gold_docs(Predictor(model, tok), [_doc()]).gold_ent[0].events
                for a in ev.arguments}

    assert roles({}) == {"agent"}
    assert roles({"place": 2.0}) == {"place"}  # 9 beats agent's 8
    assert roles({"agent": -20.0, "place": -20.0}) == set()  # none wins
