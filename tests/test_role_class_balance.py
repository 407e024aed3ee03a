"""``roles.class_balance``: class weights of the role loss, counted on the training documents."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from diplomat_ie.data import read_brat_dir
from diplomat_ie.data.document import Document, Entity, Relation, Span
from diplomat_ie.data.roles import MAX_CLASS_WEIGHT, role_class_weights
from diplomat_ie.modeling.configuration import DiplomatConfig
from diplomat_ie.modeling.model import role_loss_class_weights

ROOT = Path(__file__).resolve().parents[1]


def _doc(roles: list[str]) -> Document:
    """One EVENT with one argument per relation type in ``roles`` (NEREL relation names)."""
    text = "встреча " + " ".join(f"w{i}" for i in range(len(roles)))
    ents = [Entity("T0", "EVENT", [Span(0, 7)], "встреча")]
    rels = []
    pos = 8
    for i, rel in enumerate(roles):
        word = f"w{i}"
        ents.append(Entity(f"T{i + 1}", "PERSON", [Span(pos, pos + len(word))], word))
        # AGENT / PARTICIPANT_IN point argument -> EVENT; TAKES_PLACE_IN / POINT_IN_TIME the other way
        rels.append(Relation(f"R{i}", rel, f"T{i + 1}", "T0") if rel in ("AGENT", "PARTICIPANT_IN")
                    else Relation(f"R{i}", rel, "T0", f"T{i + 1}"))
        pos += len(word) + 1
    return Document("d", text, ents, rels)


ROLES = ["agent", "place", "time", "cause"]
# (name, relations of the documents, power, expected weights)
CASES = [
    ("power 0: all ones", [["AGENT", "AGENT", "TAKES_PLACE_IN"]], 0.0,
     {"agent": 1.0, "place": 1.0, "time": 1.0, "cause": 1.0}),
    # counts agent 4, place 1 -> mean 2.5; unseen roles get the cap
    ("inverse square root", [["AGENT", "AGENT"], ["AGENT", "AGENT", "TAKES_PLACE_IN"]], 0.5,
     {"agent": (2.5 / 4) ** 0.5, "place": 2.5 ** 0.5, "time": MAX_CLASS_WEIGHT, "cause": MAX_CLASS_WEIGHT}),
    ("power 1, capped", [["AGENT"] * 30 + ["POINT_IN_TIME"]], 1.0,
     {"agent": 15.5 / 30, "place": MAX_CLASS_WEIGHT, "time": MAX_CLASS_WEIGHT, "cause": MAX_CLASS_WEIGHT}),
    ("no arguments at all: ones", [[]], 0.5, {"agent": 1.0, "place": 1.0, "time": 1.0, "cause": 1.0}),
]


@pytest.mark.parametrize("docs, power, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_role_class_weights(docs, power, expected):
    got = role_class_weights([_doc(r) for r in docs], ROLES, ("EVENT",), power)
    assert got == pytest.approx(expected)


def test_loss_weights_follow_each_head_s_labels():
    cfg = DiplomatConfig(entity_types=["EVENT", "PERSON"], roles=["agent", "place"],
                         role_class_weights={"agent": 0.5, "place": 2.0})
    assert role_loss_class_weights(cfg, pair=True).tolist() == [1.0, 0.5, 2.0]  # none, agent, place
    assert role_loss_class_weights(cfg, pair=False).tolist() == [1.0, 0.5, 0.5, 2.0, 2.0]  # O, B/I-agent, B/I-place
    assert role_loss_class_weights(DiplomatConfig(roles=["agent"]), pair=True) is None


def test_training_saves_the_weights_of_its_documents(tmp_path, tiny_backbone):
    from test_batch_predict import train_tiny_model

    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        model = train_tiny_model(tmp_path, tiny_backbone, **{"roles.class_balance": "0.5", "training.epochs": "1"})
    finally:
        os.chdir(cwd)
    cfg = json.loads((model / "config.json").read_text(encoding="utf-8"))
    docs = read_brat_dir(ROOT / "tests/fixtures/brat/train")
    expected = role_class_weights(docs, cfg["roles"], tuple(cfg["trigger_types"]), 0.5)
    assert cfg["role_class_balance"] == 0.5 and cfg["role_class_weights"] == pytest.approx(expected)
    assert len(set(expected.values())) > 1  # the fixtures' roles are not all equally frequent
    got = role_loss_class_weights(DiplomatConfig(**cfg), pair=cfg["role_head"] == "pair")
    assert got is not None and got[0] == 1.0 and torch.allclose(got[1:], torch.tensor(
        [expected[r] for r in cfg["roles"]] if cfg["role_head"] == "pair"
        else [expected[r] for r in cfg["roles"] for _ in "BI"]))
