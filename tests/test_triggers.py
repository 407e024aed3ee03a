"""Trigger lexicon: matching, loading errors, and lexicon triggers in the Extractor's output."""

from __future__ import annotations

import pytest

from diplomat_ie.data.document import CorpusError
from diplomat_ie.data.triggers import TriggerLexicon
from diplomat_ie.resources import resource_path

LEXICON = resource_path("trigger_lexicon")  # the packaged "default" lexicon, as a path


@pytest.mark.parametrize(("word", "hit"), [
    ("посетить", True), ("Посетил", True), ("посетившие", True), ("посещение", True),
    ("визит", True), ("визитом", True), ("встреча", True), ("встречи", True), ("встретился", True),
    ("переговоры", True), ("саммите", True), ("прибыл", True), ("прилетел", True),
    ("посетители", False), ("визитка", False), ("встречный", False), ("прибыль", False),
    ("Казахстан", False), ("", False),
])
def test_default_lexicon(word, hit):
    assert TriggerLexicon.load(LEXICON).matches(word) is hit


def test_yo_is_read_as_e():
    assert TriggerLexicon(("вперед",)).matches("Вперёд") is True


@pytest.mark.parametrize(("content", "message"), [
    ("[1, 2]", "expected a mapping"),
    ("patterns: []", "non-empty 'patterns'"),
    ("patterns: ['визит(']", r"pattern 1 'визит\(' is not a regular expression"),
    ("patterns: [визит, 3]", "pattern 2 must be a non-empty string"),
    ("type: ''\npatterns: [визит]", "'type' must be"),
    ("patterns: [визит", "cannot read"),
])
def test_bad_lexicon_files_name_the_file_and_entry(tmp_path, content, message):
    path = tmp_path / "lex.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(CorpusError, match=message) as err:
        TriggerLexicon.load(path)
    assert str(path) in str(err.value)


def test_lexicon_triggers_in_extractor_output(tiny_backbone):
    import torch

    from diplomat_ie import Extractor
    from diplomat_ie.data.roles import ROLES
    from diplomat_ie.modeling.configuration import DiplomatConfig
    from diplomat_ie.modeling.io import build_model

    model, tok = build_model(DiplomatConfig(backbone_name=str(tiny_backbone), entity_types=["PERSON", "EVENT"],
                                          roles=ROLES, trigger_types=["EVENT"], window_length=32))
    text = "Министр заявил о намерении посетить Казахстан. Визит   пройдет весной."
    with torch.no_grad():  # the model tags everything O except where told below
        model.ner_head.weight.zero_()
        model.ner_head.bias.zero_()
        model.ner_head.bias.view(model.config.num_layers, -1)[:, 0] = 5.0
    assert Extractor(model, tok)(text).events == []
    lex = Extractor(model, tok, trigger_lexicon=str(LEXICON))(text).to_dict()
    triggers = [ev["trigger"] for ev in lex["events"]]
    assert [(t["text"], text[t["start"]:t["end"]], t["type"], t["origin"]) for t in triggers] == [
        ("посетить", "посетить", "EVENT", "lexicon"), ("Визит", "Визит", "EVENT", "lexicon")]
    with torch.no_grad():  # now the model itself tags «Визит» as an EVENT: no second, lexicon trigger
        labels = model.config.ner_labels
        model.ner_head.bias.view(model.config.num_layers, -1)[0, labels.index("B-EVENT")] = 6.0
        model.ner_head.weight.view(model.config.num_layers, -1, model.ner_head.in_features)[
            0, labels.index("B-EVENT")] = 0.0
    both = Extractor(model, tok, trigger_lexicon=str(LEXICON))(text).to_dict()
    assert all(ev["trigger"]["origin"] == "model" for ev in both["events"])  # every word is now B-EVENT
