"""Role-marker mode: trigger subword spans, equivalence with the shared pass, training and prediction."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import TINY_LAYERS

from diplomat_ie.cli import main
from diplomat_ie.data.roles import ROLES
from diplomat_ie.modeling.configuration import DiplomatConfig
from diplomat_ie.modeling.features import collate, subword_span
from diplomat_ie.modeling.io import build_model, load_model_dir
from diplomat_ie.modeling.predict import Predictor

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(("word_pos", "n_sub", "lo", "hi", "expected"), [
    ([1, 2, 4, 5], 7, 0, 1, (1, 2)),      # one-subword word
    ([1, 2, 4, 5], 7, 1, 2, (2, 4)),      # two subwords: up to the next word's first
    ([1, 2, 4, 5], 7, 3, 4, (5, 6)),      # last word: up to the final [SEP]
    ([1, 2, 4, 5], 7, 1, 4, (2, 6)),      # multi-word trigger
    ([1, -1, 2, 3], 5, 1, 2, (0, 0)),     # a word without subwords: nothing to mark
    ([1, -1, 2, 3], 5, 1, 3, (2, 3)),     # ... starts at the first word that has some
    ([1, 2, -1, 3], 5, 1, 2, (2, 3)),     # the next word without subwords is skipped
    ([0, 1], 2, 1, 2, (1, 2)),            # no final special token: the last subword still counts
])
def test_subword_span(word_pos, n_sub, lo, hi, expected):
    assert subword_span(word_pos, n_sub, lo, hi) == expected


def _batch(tokenizer, text: str, trig: list[list[int]]):
    ids, pos = [tokenizer.cls_token_id], []
    for word in text.split():
        pos.append(len(ids))
        ids.extend(tokenizer(word, add_special_tokens=False)["input_ids"])
    ids.append(tokenizer.sep_token_id)
    return collate([{"input_ids": ids, "word_pos": pos, "trig_spans": trig}], tokenizer.pad_token_id)


@pytest.mark.parametrize("layer", [0, 1, 2])
def test_zero_marker_reproduces_the_shared_pass(tiny_backbone, layer):
    torch.manual_seed(0)
    model, tok = build_model(DiplomatConfig(backbone_name=str(tiny_backbone), entity_types=["PERSON", "EVENT"],
                                          roles=ROLES, trigger_types=["EVENT"], window_length=64))
    model.eval()
    b = _batch(tok, "Министр прибыл в Москву на переговоры", [[1, 2], [5, 6]])
    args = (b["input_ids"], b["attention_mask"], b["word_pos"])
    plain_words, _ = model.window_states(*args)
    plain = model.role_logits(plain_words, b["trig_spans"])
    model.enable_role_marker(layer)
    words, hidden_l = model.window_states(*args)
    assert torch.allclose(words, plain_words, atol=1e-5)  # the layer-by-layer pass equals encoder()
    marked = model.role_logits(words, b["trig_spans"], hidden_l, b["attention_mask"], b["word_pos"], b["trig_sub"])
    assert torch.allclose(marked, plain, atol=1e-5)
    with torch.no_grad():
        model.role_marker.fill_(1.0)
    moved = model.role_logits(words, b["trig_spans"], hidden_l, b["attention_mask"], b["word_pos"], b["trig_sub"])
    assert (moved - plain).abs().max() > 100 * (marked - plain).abs().max() + 1e-6  # the marker reaches the head
    assert moved.shape == plain.shape


def test_marker_layer_is_checked(tiny_backbone):
    model, _ = build_model(DiplomatConfig(backbone_name=str(tiny_backbone), entity_types=["EVENT"], roles=ROLES,
                                        window_length=64))
    with pytest.raises(ValueError, match=f"marker_layer must be in 0..{TINY_LAYERS - 1}"):
        model.enable_role_marker(TINY_LAYERS)


def test_train_and_predict_in_marker_mode(tmp_path, tiny_backbone, brat_dir, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "model"
    rc = main(["train", "--config", "default", "--name", "marker",
               "--data.corpus", str(brat_dir), "--model.backbone", str(tiny_backbone), "--model.word_vectors", "null",
               "--model.max_length", "32", "--model.overlap", "8", "--training.epochs", "2",
               "--training.batch_size", "2", "--roles.marker_layer", "1", "--model.scalar_mix", "0",
               "--data.dev_split", "train",
               "--training.output_dir", str(out), "--training.threads", "1"])
    assert rc == 0
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["role_marker_layer"] == 1
    model, tok = load_model_dir(out)
    assert model.role_marker.abs().sum() > 0  # trained and saved
    text = "Президент прибыл в Москву на переговоры с министром."
    pred = Predictor(model, tok).predict([text], gold_triggers=[[(10, 16, "EVENT")]])[0]
    assert [pred.char_span(ev.trigger) for ev in pred.events] == [(10, 16)]
    for arg in pred.events[0].arguments:
        assert arg.type in ROLES


def _s(lo, hi, typ, score=0.5):
    from diplomat_ie.modeling.predictions import SpanPred

    return SpanPred(lo, hi, typ, score)


@pytest.mark.parametrize(("args", "entities", "expected"), [
    # an argument that is an entity stays
    ([_s(2, 4, "agent")], [_s(2, 4, "PERSON"), _s(0, 4, "PERSON")], [(2, 4, "agent")]),
    # fragments of one entity merge onto it; the role with the higher summed score wins
    ([_s(0, 1, "agent", 0.36), _s(1, 2, "participant", 0.43), _s(2, 4, "agent", 0.47)],
     [_s(0, 4, "PERSON")], [(0, 4, "agent")]),
    # the entity with the highest overlap wins over a longer one
    ([_s(3, 5, "time")], [_s(3, 6, "DATE"), _s(0, 6, "DATE")], [(3, 6, "time")]),
    # equal overlap: the shorter entity
    ([_s(2, 4, "place")], [_s(1, 4, "CITY"), _s(2, 5, "COUNTRY")], [(1, 4, "place")]),
    # no overlapping entity: the argument keeps its span
    ([_s(7, 8, "object")], [_s(0, 2, "PERSON")], [(7, 8, "object")]),
    # the trigger's own entity is never a target
    ([_s(5, 6, "agent")], [_s(5, 7, "EVENT")], [(5, 6, "agent")]),
    # two arguments, two entities
    ([_s(0, 1, "agent"), _s(4, 5, "place")], [_s(0, 2, "PERSON"), _s(4, 6, "CITY")],
     [(0, 2, "agent"), (4, 6, "place")]),
])
def test_snap_arguments(args, entities, expected):
    from diplomat_ie.modeling.predictions import snap_arguments

    got = snap_arguments(args, entities, trigger=_s(5, 7, "EVENT"))
    assert [(a.lo, a.hi, a.type) for a in got] == expected


def test_snapped_score_is_the_best_fragment_of_the_winning_role():
    from diplomat_ie.modeling.predictions import snap_arguments

    got = snap_arguments([_s(0, 1, "agent", 0.3), _s(1, 2, "agent", 0.6), _s(2, 3, "object", 0.8)],
                         [_s(0, 3, "PERSON")])
    assert [(a.type, a.score) for a in got] == [("agent", 0.6)]


def test_role_head_padding_triggers_change_nothing():
    from diplomat_ie.modeling.model import RoleHead

    torch.manual_seed(0)
    head = RoleHead(16, 8, 5, 64, 0.0).eval()
    words = torch.randn(2, 12, 16)
    spans = torch.tensor([[[1, 2], [4, 6], [0, 0]], [[11, 12], [0, 0], [0, 0]]])
    batched = head(words, spans)
    for b, t in [(0, 0), (0, 1), (1, 0)]:  # each trigger alone, in its own window
        alone = head(words[b : b + 1], spans[b : b + 1, t : t + 1])[0, 0]
        assert torch.allclose(batched[b, t], alone, atol=1e-6)
    assert (batched[0, 2] == 0).all() and (batched[1, 1:] == 0).all()


def test_role_o_bias_trades_precision_for_recall(tiny_backbone):
    torch.manual_seed(0)
    model, tok = build_model(DiplomatConfig(backbone_name=str(tiny_backbone), entity_types=["PERSON", "EVENT"],
                                          roles=ROLES, trigger_types=["EVENT"], window_length=64))
    with torch.no_grad():  # a role head that says O with ~0.9 everywhere
        model.role_head.out.weight.zero_()
        model.role_head.out.bias.zero_()
        model.role_head.out.bias[0] = 5.0
    text = "Президент прибыл в Москву на переговоры с министром."
    gold = [[(10, 16, "EVENT")]]

    def n_args(bias):
        pred = Predictor(model, tok, snap_arguments=False, role_o_bias=bias).predict([text], gold_triggers=gold)[0]
        return len(pred.events[0].arguments)

    assert n_args(None) == 0 and n_args(0.0) == 0 and n_args(3.0) == 0
    assert n_args(8.0) > 0  # exp(5 - 8) < the 20 other labels' share: every word gets a role
    model.config.role_none_bias = 8.0  # roles.none_bias: the model's own default ...
    assert n_args(None) > 0
    assert n_args(0.0) == 0  # ... which an explicit bias overrides


def test_entity_index_finds_exactly_the_overlapping_entities():
    import random

    from diplomat_ie.modeling.predictions import EntityIndex

    rng = random.Random(0)
    ents = [_s(lo, lo + rng.randint(1, 6), "X") for lo in (rng.randint(0, 60) for _ in range(80))]
    index = EntityIndex(ents)
    for lo in range(0, 66):
        for hi in range(lo + 1, min(lo + 8, 70)):
            want = sorted((e.lo, e.hi) for e in ents if min(hi, e.hi) > max(lo, e.lo))
            assert sorted((e.lo, e.hi) for e in index.overlapping(lo, hi)) == want
