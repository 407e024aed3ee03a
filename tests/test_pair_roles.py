"""The pair role head (``roles.head: pair``): pair building, the head, save/load, training through the CLI,
prediction, and the gold-entity role setting (both heads)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from diplomat_ie.cli import main
from diplomat_ie.data.document import Document, Entity, Relation, Span
from diplomat_ie.data.roles import ROLES, document_events
from diplomat_ie.evaluation.evaluate import Predictions, headline, predict_gold_docs, score_predictions
from diplomat_ie.modeling.configuration import DiplomatConfig
from diplomat_ie.modeling.features import FeatureStats, collate
from diplomat_ie.modeling.heads import distance_buckets
from diplomat_ie.modeling.io import build_model, load_heads, load_model_dir, save_model_dir
from diplomat_ie.modeling.pair_features import (
    IGNORE,
    add_predicted_negatives,
    collate_pairs,
    decode_pairs,
    predicted_candidates,
    random_negatives,
    type_id,
    window_pair_features,
    window_predictions,
)
from diplomat_ie.modeling.pair_roles import PairRoleHead, between, context_means, prefix_sums, span_gap_anchor
from diplomat_ie.modeling.predict import Predictor
from diplomat_ie.modeling.predictions import EventPred, SpanPred

ROOT = Path(__file__).resolve().parents[1]
AGENT, PLACE = 1 + ROLES.index("agent"), 1 + ROLES.index("place")  # pair label ids (0: none)
TYPES = ["CITY", "EVENT", "PERSON"]


# ---------------------------------------------------------------- pair building (table-driven)

@pytest.mark.parametrize(("cand", "bucket"), [
    ((8, 10), 3),        # after the trigger (5, 6): its first word is 3 words on
    ((6, 7), 1),         # right after
    ((1, 3), 3 + 16),    # before: the gap from its last word, negative buckets start at 16
    ((4, 5), 1 + 16),    # right before
    ((4, 7), 0),         # overlapping
    ((5, 6), 0),         # the trigger's own span
    ((40, 41), 8 + 4),   # 35 words on: log-spaced beyond 8 words (max_distance 64)
])
def test_candidate_distance_buckets(cand, bucket):
    trig = torch.tensor([[5, 6]])
    anchor = span_gap_anchor(trig, torch.tensor([[cand]]))
    assert distance_buckets(anchor, trig[:, :1], trig[:, 1:], 64).item() == bucket


@pytest.mark.parametrize(("typ", "expected"), [("CITY", 0), ("PERSON", 2), ("PROFESSION", 3), ("", 3)])
def test_type_id(typ, expected):
    assert type_id(TYPES, typ) == expected


def test_random_negatives_are_reproducible_and_never_gold():
    taken = {(0, 2), (3, 4), (6, 7)}
    word_pos = [1, 2, -1, 4, 5, 6, 7, 8, 9, 10]
    got = random_negatives(taken, word_pos, 3, "doc:0")
    assert got == random_negatives(taken, word_pos, 3, "doc:0") and len(got) == 4
    assert got != random_negatives(taken, word_pos, 3, "doc:10")
    for lo, hi, t in got:
        assert (lo, hi) not in taken and 1 <= hi - lo <= 3 and hi <= len(word_pos)
        assert word_pos[lo] >= 0 and 0 <= t < 3
    assert random_negatives(taken, [-1, -1], 3, "x") == []  # no word with subwords: nothing to draw


def _ent(i, typ, lo, hi):
    return Entity(id=i, type=typ, spans=[Span(lo, hi)], text="x" * (hi - lo))


def _doc():
    """Words are 10 chars apart: entity char spans = 10 x word spans (see ``_spans``)."""
    ents = [_ent("T1", "EVENT", 30, 40), _ent("T2", "PERSON", 0, 20), _ent("T3", "CITY", 60, 70),
            _ent("T4", "PERSON", 120, 130), _ent("T5", "PROFESSION", 60, 70)]
    rels = [Relation("R1", "AGENT", "T2", "T1"), Relation("R2", "TAKES_PLACE_IN", "T1", "T3"),
            Relation("R3", "PARTICIPANT_IN", "T4", "T1"),  # outside the window: cannot be a candidate
            Relation("R4", "AGENT", "T5", "T1")]
    return Document(id="d", text="x" * 200, entities=ents, relations=rels)


def _spans(doc):
    return {e.id: (e.start // 10, e.end // 10) for e in doc.entities}


def _pairs(lo=0, hi=10):
    doc = _doc()
    cfg = DiplomatConfig(entity_types=TYPES, roles=ROLES)
    win = SimpleNamespace(lo=lo, hi=hi, word_pos=list(range(1, hi - lo + 1)))
    stats = FeatureStats()
    out = window_pair_features(doc, _spans(doc), document_events(doc), win, cfg, stats)
    return out, stats


def test_window_pairs_label_gold_candidates_and_ignore_the_trigger():
    out, stats = _pairs()
    gold = 4  # T1, T2, T3 and T5 lie in words [0, 10); T4 (word 12) does not
    assert out["cand_spans"][:gold] == [[3, 4], [0, 2], [6, 7], [6, 7]]
    assert out["cand_types"][:gold] == [1, 2, 0, 3]  # PROFESSION is no model type: the extra row
    assert len(out["cand_spans"]) == gold + 4  # the random negatives
    assert all(tuple(s) not in {(3, 4), (0, 2), (6, 7)} for s in out["cand_spans"][gold:])
    assert out["pair_labels"] == [[IGNORE, AGENT, PLACE, AGENT, 0, 0, 0, 0]]
    assert stats.counts["pair_argument_not_candidate"] == 1 and stats.counts["pair_candidates"] == gold + 4


def test_window_without_the_trigger_has_candidates_but_no_pair_rows():
    out, _ = _pairs(lo=5, hi=10)
    assert out["cand_spans"][:2] == [[1, 2], [1, 2]] and out["pair_labels"] == []


def test_collate_pairs_pads_with_ignored_labels():
    feats = [{"cand_spans": [[0, 1], [2, 4]], "cand_types": [1, 2], "pair_labels": [[0, 3]]},
             {"cand_spans": [[1, 2]], "cand_types": [0], "pair_labels": [[IGNORE], [5]]}]
    out = collate_pairs(feats, 2)
    assert out["cand_spans"].tolist() == [[[0, 1], [2, 4]], [[1, 2], [0, 0]]]
    assert out["cand_types"].tolist() == [[1, 2], [0, 0]]
    assert out["pair_labels"].tolist() == [[[0, 3], [IGNORE, IGNORE]], [[IGNORE, IGNORE], [5, IGNORE]]]


@pytest.mark.parametrize(("layers", "expected"), [
    ([["O", "O"]], []),
    ([["B-PERSON", "I-PERSON", "O", "B-CITY"]], [(0, 2, 2), (3, 4, 0)]),
    # nested layers, one span twice (deduplicated), a type the model does not know
    ([["B-EVENT", "I-EVENT", "O"], ["B-PERSON", "O", "B-X"], ["B-EVENT", "I-EVENT", "O"]],
     [(0, 1, 2), (0, 2, 1), (2, 3, 3)]),
])
def test_predicted_candidates(layers, expected):
    assert predicted_candidates(layers, TYPES) == expected


def _columns():
    """Two windows: window 0 has candidates (0, 1) and (2, 4) and triggers (2, 4) and a padding trigger;
    window 1 one candidate (1, 2) and one trigger (0, 1)."""
    spans = torch.tensor([[[0, 1], [2, 4]], [[1, 2], [0, 0]]])
    types = torch.tensor([[1, 2], [0, 0]])
    labels = torch.tensor([[[AGENT, IGNORE], [IGNORE, IGNORE]], [[0, IGNORE], [IGNORE, IGNORE]]])
    trigs = torch.tensor([[[2, 4], [0, 0]], [[0, 1], [0, 0]]])
    return spans, types, labels, trigs


@pytest.mark.parametrize(("pred", "limit", "new_spans", "new_labels"), [
    # nothing predicted, or only what is a candidate already (any type): the columns come back unchanged
    ([[], []], 4, None, None),
    ([[(0, 1, 0), (2, 4, 2)], [(1, 2, 1)]], 4, None, None),
    # a new span is none for every real trigger; the trigger's own span is ignored; padding rows stay ignored
    ([[(5, 6, 0)], [(0, 1, 2), (3, 5, 1)]], 4, [[[5, 6], [0, 0]], [[0, 1], [3, 5]]],
     [[[0, IGNORE], [IGNORE, IGNORE]], [[IGNORE, 0], [IGNORE, IGNORE]]]),
    # the limit keeps the first ones
    ([[(5, 6, 0), (6, 7, 1), (8, 9, 1)], []], 2, [[[5, 6], [6, 7]], [[0, 0], [0, 0]]],
     [[[0, 0], [IGNORE, IGNORE]], [[IGNORE, IGNORE], [IGNORE, IGNORE]]]),
])
def test_add_predicted_negatives(pred, limit, new_spans, new_labels):
    spans, types, labels, trigs = _columns()
    s2, t2, l2 = add_predicted_negatives(pred, spans, types, labels, trigs, limit)
    assert torch.equal(s2[:, :2], spans) and torch.equal(t2[:, :2], types) and torch.equal(l2[:, :, :2], labels)
    if new_spans is None:
        assert s2.shape == spans.shape and l2.shape == labels.shape
        return
    assert s2[:, 2:].tolist() == new_spans and l2[:, :, 2:].tolist() == new_labels
    for i, cands in enumerate(pred):
        added = [c for c in cands if [c[0], c[1]] in new_spans[i]]
        assert t2[i, 2 : 2 + len(added)].tolist() == [c[2] for c in added]


def test_window_predictions_layered_and_span():
    cfg = DiplomatConfig(entity_types=TYPES, roles=ROLES, num_layers=2)
    labels = cfg.ner_labels
    tags = [[["B-PERSON", "I-PERSON", "O", "B-CITY"], ["O", "B-EVENT", "O", "O"]]]
    logits = torch.zeros(1, 2, 4, len(labels))
    for k, layer in enumerate(tags[0]):
        for w, tag in enumerate(layer):
            logits[0, k, w, labels.index(tag)] = 5.0
    word_pos = torch.tensor([[1, 2, 3, -1]])  # the last word is padding: its B-CITY does not count
    assert window_predictions({"ner_logits": logits}, word_pos, cfg) == [[(0, 2, 2), (1, 2, 1)]]
    span = torch.zeros(1, 4, 2, 1 + len(TYPES))
    span[..., 0] = 1.0
    span[0, 0, 1, 3] = span[0, 1, 0, 1] = span[0, 2, 1, 2] = 5.0  # PERSON [0, 2), CITY [1, 2), EVENT [2, 4)
    assert window_predictions({"span_logits": span}, word_pos, cfg) == [[(0, 2, 2), (1, 2, 0)]]


def test_decode_pairs_skips_the_trigger_and_merges_same_span_candidates():
    cands = [[(0, 2, 2), (3, 4, 1), (6, 7, 0), (6, 7, 3), (8, 9, 0)]]
    logits = torch.zeros(1, 1, 5, 1 + len(ROLES))
    logits[0, 0, :, 0] = 4.0  # none everywhere ...
    logits[0, 0, 0, AGENT] = 9.0  # ... but an agent
    logits[0, 0, 1, AGENT] = 9.0  # the trigger itself: never an argument
    logits[0, 0, 2, PLACE] = 9.0  # one span, two candidates: the more probable one
    logits[0, 0, 3, AGENT] = 6.0
    logits[0, 0, 4, PLACE] = 3.5  # below none, unless none is lowered
    got = decode_pairs(logits, [[(3, 4)]], cands)
    assert [(lo, hi, k) for lo, hi, k, _ in got[0][0]] == [(0, 2, AGENT), (6, 7, PLACE)]
    biased = decode_pairs(logits, [[(3, 4)]], cands, none_bias=1.0)
    assert [(lo, hi, k) for lo, hi, k, _ in biased[0][0]] == [(0, 2, AGENT), (6, 7, PLACE), (8, 9, PLACE)]
    assert all(0 < p <= 1 for *_, p in got[0][0])


# ---------------------------------------------------------------- the head

@pytest.mark.parametrize(("trig", "cand", "expected"), [
    ((3, 5), (7, 9), (5, 7)),  # candidate after: the words between the spans
    ((3, 5), (0, 2), (2, 3)),  # candidate before
    ((3, 5), (5, 6), (5, 5)),  # touching: empty
    ((3, 5), (1, 3), (3, 3)),
    ((3, 5), (4, 8), (0, 0)),  # overlapping: empty
    ((3, 5), (3, 5), (0, 0)),
    ((3, 5), (0, 9), (0, 0)),  # the candidate holds the trigger
])
def test_between(trig, cand, expected):
    lo, hi = between(torch.tensor([trig]), torch.tensor([[cand]]))
    assert (lo.item(), hi.item()) == expected


def test_context_means_match_a_loop():
    torch.manual_seed(0)
    words = torch.randn(2, 9, 4)
    lo = torch.tensor([[0, 2, 5, 4], [1, 8, 0, 3]])
    hi = torch.tensor([[3, 2, 9, 5], [8, 9, 0, 7]])
    got = context_means(prefix_sums(words), lo, hi)
    for n in range(2):
        for c in range(4):
            a, b = lo[n, c].item(), hi[n, c].item()
            want = words[n, a:b].mean(0) if b > a else torch.zeros(4)
            assert torch.allclose(got[n, c], want, atol=1e-5)


@pytest.mark.parametrize("context", [False, True])
def test_pair_head_is_vectorised_per_trigger_and_pads_with_zeros(context):
    torch.manual_seed(0)
    head = PairRoleHead(16, 8, len(TYPES), 1 + len(ROLES), 64, 0.0, context=context).eval()
    assert (head.ctx is not None) == context
    words = torch.randn(2, 12, 16)
    trig = torch.tensor([[[1, 2], [4, 6]], [[11, 12], [0, 0]]])
    cands = torch.tensor([[[0, 1], [7, 9], [4, 6]], [[2, 5], [0, 0], [0, 0]]])
    types = torch.tensor([[2, 0, 1], [3, 0, 0]])
    out = head(words, trig, cands, types)
    assert out.shape == (2, 2, 3, 1 + len(ROLES)) and (out[1, 1] == 0).all()
    for b, t in [(0, 0), (0, 1), (1, 0)]:  # each trigger alone, one candidate at a time
        for c in range(3 if b == 0 else 1):
            alone = head.rows(words[b : b + 1], trig[b, t : t + 1], cands[b : b + 1, c : c + 1], types[b : b + 1, c : c + 1])
            assert torch.allclose(out[b, t, c], alone[0, 0], atol=1e-5)


def _pair_model(backbone, **kw):
    torch.manual_seed(0)
    cfg = DiplomatConfig(backbone_name=str(backbone), entity_types=["CITY", "EVENT", "PERSON"], roles=ROLES,
                         trigger_types=["EVENT"], window_length=64, role_head="pair", **kw)
    model, tok = build_model(cfg)
    return model.eval(), tok


def _batch(tok, model):
    text = "Министр прибыл в Москву на переговоры"
    ids, pos = [tok.cls_token_id], []
    for word in text.split():
        pos.append(len(ids))
        ids.extend(tok(word, add_special_tokens=False)["input_ids"])
    ids.append(tok.sep_token_id)
    feat = {"input_ids": ids, "word_pos": pos, "trig_spans": [[1, 2], [5, 6]],
            "cand_spans": [[0, 1], [3, 4], [5, 6]], "cand_types": [2, 0, 1]}
    return collate([feat], tok.pad_token_id)


def test_the_context_changes_the_pair_scores_and_needs_its_prefix():
    torch.manual_seed(0)
    head = PairRoleHead(16, 8, len(TYPES), 1 + len(ROLES), 64, 0.0, context=True).eval()
    words = torch.randn(1, 12, 16)
    trig, cands, types = torch.tensor([[[1, 2]]]), torch.tensor([[[8, 9]]]), torch.tensor([[2]])
    before = head(words, trig, cands, types)
    words[0, 5] += 3.0  # a word between the spans: only the context sees it
    assert not torch.allclose(head(words, trig, cands, types), before)
    vec = torch.zeros(1, 1, 8)
    with pytest.raises(ValueError, match="pass prefix"):
        head.scores(vec[:, 0], vec, trig[0], cands[0], types[0])


@pytest.mark.parametrize("context", [False, True])
def test_zero_marker_pair_head_reproduces_the_shared_pass(tiny_backbone, context):
    model, tok = _pair_model(tiny_backbone, pair_context=context)
    b = _batch(tok, model)
    args = (b["input_ids"], b["attention_mask"], b["word_pos"])
    words, _ = model.window_states(*args)
    plain = model.pair_role_logits(words, b["trig_spans"], b["cand_spans"], b["cand_types"])
    model.enable_role_marker(1)
    words, hidden_l = model.window_states(*args)
    marked = model.pair_role_logits(words, b["trig_spans"], b["cand_spans"], b["cand_types"], hidden_l,
                                    b["attention_mask"], b["word_pos"], b["trig_sub"])
    assert plain.shape == (1, 2, 3, 1 + len(ROLES)) and torch.allclose(marked, plain, atol=1e-5)
    with pytest.raises(ValueError, match="no BIO role head"):
        model.role_logits(words, b["trig_spans"])


@pytest.mark.parametrize("context", [False, True])
def test_pair_model_save_load_round_trip_and_heads_only(tiny_backbone, tmp_path, context):
    model, tok = _pair_model(tiny_backbone, pair_context=context)
    b = _batch(tok, model)
    words, _ = model.window_states(b["input_ids"], b["attention_mask"], b["word_pos"])
    ref = model.pair_role_logits(words, b["trig_spans"], b["cand_spans"], b["cand_types"])
    save_model_dir(model, tok, tmp_path / "m")
    saved = json.loads((tmp_path / "m/config.json").read_text())
    assert saved["role_head"] == "pair" and saved["pair_context"] is context
    loaded, _ = load_model_dir(tmp_path / "m")
    assert isinstance(loaded.role_head, PairRoleHead) and (loaded.role_head.ctx is not None) == context
    w2, _ = loaded.window_states(b["input_ids"], b["attention_mask"], b["word_pos"])
    assert torch.allclose(loaded.pair_role_logits(w2, b["trig_spans"], b["cand_spans"], b["cand_types"]), ref,
                          atol=1e-6)
    heads = load_heads(tmp_path / "m")  # what the ONNX backend runs behind its encoder
    assert torch.allclose(heads.pair_role_logits(words, b["trig_spans"], b["cand_spans"], b["cand_types"]), ref,
                          atol=1e-6)
    b["pair_labels"] = torch.tensor([[[AGENT, 0, IGNORE], [0, PLACE, IGNORE]]])
    out = model(**b)
    assert out["loss"].requires_grad and out["role_logits"].shape == ref.shape


def test_training_forward_adds_the_predicted_negatives(tiny_backbone):
    model, tok = _pair_model(tiny_backbone, pair_negatives=8)
    b = _batch(tok, model)
    b["pair_labels"] = torch.tensor([[[AGENT, 0, IGNORE], [0, PLACE, IGNORE]]])
    with torch.no_grad():  # the NER head predicts a PERSON on every word: 6 one-word spans, 3 of them new
        model.ner_head.weight.zero_()
        model.ner_head.bias.zero_()
        model.ner_head.bias[model.config.ner_labels.index("B-PERSON")] = 8.0
    assert model(**b)["role_logits"].shape[2] == 3  # eval: the candidates as given
    model.train()
    out = model(**b)
    assert out["role_logits"].shape[2] == 6 and out["loss"].requires_grad


# (roles.pair_negatives_from, the trainer's progress, candidates the training forward classifies)
WARM_UP = [(0.0, 0.0, 6), (0.5, 0.0, 3), (0.5, 0.49, 3), (0.5, 0.5, 6), (0.5, 0.9, 6)]


@pytest.mark.parametrize("start, progress, n", WARM_UP, ids=[f"from{w[0]}-at{w[1]}" for w in WARM_UP])
def test_predicted_negatives_join_after_the_warm_up(tiny_backbone, start, progress, n):
    model, tok = _pair_model(tiny_backbone, pair_negatives=8, pair_negatives_from=start)
    b = _batch(tok, model)
    b["pair_labels"] = torch.tensor([[[AGENT, 0, IGNORE], [0, PLACE, IGNORE]]])
    with torch.no_grad():  # as above: 6 one-word PERSON predictions, 3 of them no candidate yet
        model.ner_head.weight.zero_()
        model.ner_head.bias.zero_()
        model.ner_head.bias[model.config.ner_labels.index("B-PERSON")] = 8.0
    model.train()
    model.train_progress = progress
    assert model(**b)["role_logits"].shape[2] == n


def test_the_trainer_tells_the_model_its_progress():
    from transformers import TrainerControl, TrainerState

    from diplomat_ie.training.trainer import TrainProgressCallback
    model, state = SimpleNamespace(train_progress=0.0), TrainerState(global_step=30, max_steps=120)
    TrainProgressCallback().on_step_begin(None, state, TrainerControl(), model=model)
    assert model.train_progress == 0.25
    TrainProgressCallback().on_step_begin(None, TrainerState(global_step=3, max_steps=0), TrainerControl(),
                                          model=model)
    assert model.train_progress == 0.25  # no step count known: left alone


# ---------------------------------------------------------------- gold-entity setting

TEXT = "Президент прибыл в Москву на переговоры с министром."


def _gold_doc():
    ents = [_ent("T1", "EVENT", 10, 16), _ent("T2", "PERSON", 0, 9), _ent("T3", "CITY", 19, 25),
            _ent("T4", "EVENT", 29, 39), _ent("T5", "PROFESSION", 42, 51)]
    rels = [Relation("R1", "AGENT", "T2", "T1"), Relation("R2", "TAKES_PLACE_IN", "T1", "T3")]
    return Document(id="g", text=TEXT, entities=ents, relations=rels)


def _always(model, label: int) -> None:
    """The role head says ``label`` everywhere (zero weights, one large bias)."""
    with torch.no_grad():
        model.role_head.out.weight.zero_()
        model.role_head.out.bias.zero_()
        model.role_head.out.bias[label] = 8.0


def test_gold_entity_scorer_on_a_hand_made_example():
    doc = _gold_doc()
    events = [EventPred(SpanPred(10, 16, "EVENT", 1.0), [SpanPred(0, 9, "agent", 0.9), SpanPred(19, 25, "agent", 0.8)]),
              EventPred(SpanPred(29, 39, "EVENT", 1.0), [])]
    pred = SimpleNamespace(entities=[], events=events, char_span=lambda s: (s.lo, s.hi))
    empty = SimpleNamespace(entities=[], events=[], char_span=lambda s: (s.lo, s.hi))
    config = SimpleNamespace(trigger_types=["EVENT"])
    out = score_predictions(Predictions(docs=[doc], e2e=[empty], gold_trig=[empty], gold_ent=[pred]), config,
                            with_layers=False)
    m = out["roles_gold_entities"]["micro"]
    assert (m["tp"], m["fp"], m["fn"], m["f1"]) == (1, 1, 1, 50.0)
    assert headline(out)["roles_gold_ent_f1"] == 50.0 and headline(out)["roles_gold_f1"] == 0.0
    without = score_predictions(Predictions(docs=[doc], e2e=[empty], gold_trig=[empty]), config, with_layers=False)
    assert "roles_gold_entities" not in without and "roles_gold_ent_f1" not in headline(without)


def test_pair_head_gold_entity_pass_classifies_exactly_the_gold_entities(tiny_backbone):
    model, tok = _pair_model(tiny_backbone)
    _always(model, AGENT)
    p = predict_gold_docs(Predictor(model, tok), [_gold_doc()])
    ev = {p.gold_ent[0].char_span(e.trigger): {(*p.gold_ent[0].char_span(a), a.type) for a in e.arguments}
          for e in p.gold_ent[0].events}
    # every gold entity but the trigger itself, as agent (PROFESSION is no model type: still a candidate)
    assert ev == {(10, 16): {(0, 9, "agent"), (19, 25, "agent"), (29, 39, "agent"), (42, 51, "agent")},
                  (29, 39): {(0, 9, "agent"), (10, 16, "agent"), (19, 25, "agent"), (42, 51, "agent")}}
    m = score_predictions(p, model.config, with_layers=False)["roles_gold_entities"]["micro"]
    assert (m["tp"], m["fp"], m["fn"]) == (1, 7, 1) and m["f1"] == pytest.approx(20.0)


def test_bio_head_gold_entity_pass_snaps_onto_gold_entities(tiny_backbone):
    torch.manual_seed(0)
    model, tok = build_model(DiplomatConfig(backbone_name=str(tiny_backbone), entity_types=["CITY", "EVENT", "PERSON"],
                                          roles=ROLES, trigger_types=["EVENT"], window_length=64))
    model.eval()
    _always(model, model.config.role_labels.index("B-agent"))  # every word a one-word agent
    doc = _gold_doc()
    p = predict_gold_docs(Predictor(model, tok, snap_arguments=False), [doc])
    gold_spans = {(e.start, e.end) for e in doc.entities}
    args = [p.gold_ent[0].char_span(a) for ev in p.gold_ent[0].events for a in ev.arguments]
    assert args and all(a in gold_spans or not any(s < a[1] and a[0] < e for s, e in gold_spans) for a in args)
    raw = [p.gold_trig[0].char_span(a) for ev in p.gold_trig[0].events for a in ev.arguments]
    assert len(raw) >= len(args)  # unsnapped (snap_arguments=False) in the gold-trigger pass
    m = score_predictions(p, model.config, with_layers=False)["roles_gold_entities"]["micro"]
    assert (m["tp"], m["fn"]) == (1, 1)  # Президент as agent; Москву is a place, predicted as agent


# ---------------------------------------------------------------- training through the CLI

@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_backbone, brat_dir):
    tmp = tmp_path_factory.mktemp("pair")
    mp = pytest.MonkeyPatch()
    mp.chdir(tmp)
    rc = main(["train", "--config", "default", "--name", "pair", "--data.corpus", str(brat_dir),
               "--model.backbone", str(tiny_backbone), "--model.word_vectors", "null", "--model.max_length", "32", "--model.overlap", "8",
               "--roles.head", "pair", "--training.max_steps", "3", "--training.eval_every", "3",
               "--training.batch_size", "2", "--data.dev_split", "train", "--data.max_eval_docs", "1",
               "--training.threads", "1", "--training.output_dir", str(tmp / "model"),
               "--model.type_biases", ""])  # the default's EVENT bias would suppress a 3-step model's triggers
    mp.undo()
    assert rc == 0
    return tmp


def test_cli_trains_saves_and_loads_a_pair_model(trained):
    cfg = json.loads((trained / "model/config.json").read_text())
    assert cfg["role_head"] == "pair" and cfg["roles"] == ROLES
    summary = json.loads((trained / "runs/pair/train_summary.json").read_text())
    assert summary["feature_stats"]["pair_candidates"] > 0 and "eval_roles_gold_f1" in summary["best_dev"]
    card = (trained / "model/README.md").read_text()
    assert "| role head (bio tagger or entity-pair classifier) | `roles.head` | pair |" in card
    model, _ = load_model_dir(trained / "model")
    assert isinstance(model.role_head, PairRoleHead)


def test_trained_pair_model_predicts_roles_with_the_same_json(trained, brat_dir):
    from diplomat_ie import Extractor
    from diplomat_ie.data import read_brat_dir

    ex = Extractor.from_pretrained(trained / "model")
    _always(ex.model, AGENT)
    texts = [d.text for d in read_brat_dir(brat_dir / "train")]
    results = [r.to_dict() for r in ex(texts)]
    n_args = 0
    for text, r in zip(texts, results, strict=True):
        entities = {(e["start"], e["end"]) for e in r["entities"]}
        for ev in r["events"]:
            assert set(ev) >= {"trigger", "arguments"}
            for a in ev["arguments"]:
                assert set(a) >= {"role", "start", "end", "text", "score"} and a["role"] == "agent"
                assert text[a["start"] : a["end"]] == a["text"] and (a["start"], a["end"]) in entities
                assert (a["start"], a["end"]) != (ev["trigger"]["start"], ev["trigger"]["end"])
                n_args += 1
    assert n_args > 0
