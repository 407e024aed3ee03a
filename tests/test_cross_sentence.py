"""roles.cross_sentence_bias: arguments in another sentence than their trigger need more evidence."""

from __future__ import annotations

import pytest
import torch
from conftest import TWO_SENTENCES, two_sentence_doc

from diplomat_ie.config import ConfigError, RolesConfig
from diplomat_ie.data.roles import ROLES
from diplomat_ie.evaluation.evaluate import predict_gold_docs
from diplomat_ie.modeling.configuration import DiplomatConfig
from diplomat_ie.modeling.io import build_model
from diplomat_ie.modeling.pair_features import decode_pairs
from diplomat_ie.modeling.predict import Predictor
from diplomat_ie.modeling.sentences import cross_sentence, sentence_tensor, window_sentence_ids, word_spans

AGENT = 1 + ROLES.index("agent")


@pytest.mark.parametrize(("sentences", "lo", "hi", "expected"), [
    ([(0, 3), (3, 5)], 0, 5, [0, 0, 0, 1, 1]),
    ([(0, 3), (3, 5)], 2, 4, [0, 1]),  # a window starting inside a document
    ([(0, 2), (2, 3), (3, 6)], 3, 6, [2, 2, 2]),
    ([(0, 4)], 0, 4, [0, 0, 0, 0]),
    ([], 0, 2, [0, 0]),  # no sentences (empty text): one
])
def test_window_sentence_ids(sentences, lo, hi, expected):
    assert window_sentence_ids(sentences, lo, hi) == expected


@pytest.mark.parametrize(("trig", "span", "expected"), [
    ((1, 2), (0, 1), False),  # same sentence
    ((1, 2), (3, 4), True),  # the next sentence
    ((1, 2), (2, 4), False),  # a span across the boundary shares the trigger's sentence
    ((3, 4), (6, 7), True),
    ((2, 4), (5, 6), False),  # a trigger across the boundary shares the second sentence
    ((1, 2), (7, 8), True),
])
def test_cross_sentence(trig, span, expected):
    sent = sentence_tensor([[0, 0, 0, 1, 1, 1, 2, 2]], 8)
    out = cross_sentence(torch.tensor([[trig]]), torch.tensor([[span]]), sent)
    assert out.shape == (1, 1, 1) and bool(out[0, 0, 0]) is expected


def test_word_spans_and_padding():
    assert word_spans(3, 2).tolist() == [[[0, 1], [1, 2], [2, 3]]] * 2
    assert sentence_tensor([[0, 1], [0]], 3).tolist() == [[0, 1, -1], [0, -1, -1]]


def test_decode_pairs_none_shift():
    logits = torch.zeros(1, 1, 2, 1 + len(ROLES))
    logits[0, 0, :, AGENT] = 3.0  # both candidates: agent 3 against none 0
    cands = [[(0, 1, 0), (5, 6, 0)]]
    shift = torch.tensor([[[0.0, 5.0]]])  # the second one lies in another sentence
    assert [a[:3] for a in decode_pairs(logits, [[(2, 3)]], cands)[0][0]] == [(0, 1, AGENT), (5, 6, AGENT)]
    assert [a[:3] for a in decode_pairs(logits, [[(2, 3)]], cands, none_shift=shift)[0][0]] == [(0, 1, AGENT)]
    assert [a[:3] for a in decode_pairs(logits, [[(2, 3)]], cands, none_bias=2.5, none_shift=shift)[0][0]] == \
        [(0, 1, AGENT), (5, 6, AGENT)]  # none lowered by 2.5, raised by 5: 2.5 < 3


@pytest.mark.parametrize("bias", [-1.0, float("inf"), float("nan")])
def test_cross_sentence_bias_is_checked(bias):
    assert RolesConfig(cross_sentence_bias=2.0).cross_sentence_bias == 2.0
    with pytest.raises(ConfigError, match=r"roles.cross_sentence_bias: must be a finite number >= 0"):
        RolesConfig(cross_sentence_bias=bias)


TEXT = TWO_SENTENCES
_doc = two_sentence_doc


@pytest.mark.parametrize("head", ["pair", "bio"])
def test_predictor_keeps_arguments_in_the_triggers_sentence(tiny_backbone, head):
    torch.manual_seed(0)
    model, tok = build_model(DiplomatConfig(backbone_name=str(tiny_backbone), entity_types=["CITY", "EVENT", "PERSON"],
                                            roles=ROLES, trigger_types=["EVENT"], window_length=64, role_head=head))
    model.eval()
    label = AGENT if head == "pair" else model.config.role_labels.index("B-agent")
    with torch.no_grad():  # the role head says agent everywhere, 8 logits above none / O
        model.role_head.out.weight.zero_()
        model.role_head.out.bias.zero_()
        model.role_head.out.bias[label] = 8.0

    def argument_sides(bias: float) -> dict[int, set[bool]]:
        """For each trigger start: whether its arguments lie in the second sentence (True) or the first."""
        model.config.role_cross_sentence_bias = bias
        pred = predict_gold_docs(Predictor(model, tok), [_doc()]).gold_ent[0]
        return {pred.char_span(ev.trigger)[0]: {pred.char_span(a)[0] > 26 for a in ev.arguments} for ev in pred.events}

    assert argument_sides(0.0) == {10: {False, True}, 30: {False, True}}  # every entity is an agent
    assert argument_sides(4.0) == {10: {False, True}, 30: {False, True}}  # 8 - 4 still beats none
    assert argument_sides(20.0) == {10: {False}, 30: {True}}  # each trigger keeps its own sentence
