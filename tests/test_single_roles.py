"""roles.single_roles: at most one argument per trigger for the listed roles (pair and BIO heads)."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from test_pair_roles import _always, _gold_doc

from diplomat_ie.config import ConfigError, RolesConfig
from diplomat_ie.data.roles import ROLES
from diplomat_ie.evaluation.evaluate import predict_gold_docs
from diplomat_ie.modeling.configuration import DiplomatConfig
from diplomat_ie.modeling.io import build_model
from diplomat_ie.modeling.pair_features import _decode_pairs_single, decode_pairs
from diplomat_ie.modeling.predict import Predictor
from diplomat_ie.modeling.predictions import SpanPred, keep_single_roles

AGENT, PLACE, TIME = (1 + ROLES.index(r) for r in ("agent", "place", "time"))  # pair label ids (0: none)
L = 1 + len(ROLES)


def _logits(rows: list[dict[int, float]], none: float = 4.0) -> torch.Tensor:
    """One window, one trigger: candidate c's logits are ``none`` for class 0, rows[c] for the others, else 0."""
    x = torch.zeros(1, 1, len(rows), L)
    x[..., 0] = none
    for c, row in enumerate(rows):
        for k, v in row.items():
            x[0, 0, c, k] = v
    return x


def _roles(out) -> list[tuple[int, int, int]]:
    return [(lo, hi, k) for lo, hi, k, _ in out[0][0]]


CANDS = [(0, 2, 0), (3, 4, 1), (5, 6, 2), (7, 8, 2)]
TRIGGER = [[(3, 4)]]


@pytest.mark.parametrize(("rows", "single", "expected"), [
    # two agents: without single roles both stay
    ([{AGENT: 9.0}, {}, {AGENT: 7.0}, {}], (), [(0, 2, AGENT), (5, 6, AGENT)]),
    # agent single: the less probable one takes its next role that beats none (place) ...
    ([{AGENT: 9.0}, {}, {AGENT: 7.0, PLACE: 6.0}, {}], {AGENT}, [(0, 2, AGENT), (5, 6, PLACE)]),
    # ... or is no argument when none comes next
    ([{AGENT: 9.0}, {}, {AGENT: 7.0, PLACE: 3.0}, {}], {AGENT}, [(0, 2, AGENT)]),
    # a free role is not limited: two places stay while agent is single
    ([{PLACE: 9.0}, {}, {PLACE: 7.0}, {AGENT: 8.0}], {AGENT}, [(0, 2, PLACE), (5, 6, PLACE), (7, 8, AGENT)]),
    # the most probable pair wins the single role, whatever the candidate order
    ([{TIME: 6.0}, {}, {TIME: 9.0}, {TIME: 8.0, AGENT: 5.0}], {TIME, AGENT}, [(5, 6, TIME), (7, 8, AGENT)]),
    # the trigger's own span never takes a role, nor uses one up
    ([{}, {AGENT: 12.0}, {AGENT: 7.0}, {}], {AGENT}, [(5, 6, AGENT)]),
])
def test_single_roles_decoding(rows, single, expected):
    assert _roles(decode_pairs(_logits(rows), TRIGGER, [CANDS], single=single)) == expected


def test_single_roles_with_none_bias_and_shared_spans():
    # two candidates of one span (two types): one argument, the most probable pair
    cands = [(0, 2, 0), (0, 2, 2), (5, 6, 2)]
    rows = [{AGENT: 6.0}, {PLACE: 8.0}, {PLACE: 7.0, AGENT: 3.5}]
    assert _roles(decode_pairs(_logits(rows), TRIGGER, [cands], single={PLACE})) == [(0, 2, PLACE)]
    # none lowered by 1: the second candidate's agent (3.5) now beats none (3.0)
    assert _roles(decode_pairs(_logits(rows), TRIGGER, [cands], none_bias=1.0, single={PLACE})) == \
        [(0, 2, PLACE), (5, 6, AGENT)]


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 6), st.integers(0, 2**31 - 1), st.floats(0.0, 3.0))
def test_greedy_decoding_without_single_roles_is_the_argmax(n_cands, seed, bias):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(2, 2, n_cands, L, generator=g) * 3
    cands = [[(i, i + 1 + i % 2, i % 3) for i in range(n_cands)] for _ in range(2)]
    cands[1][0] = (1, 2, 0)  # window 2: a span that is also a trigger
    trigs = [[(0, 1), (2, 3)], [(1, 2), (4, 5)]]
    fast = decode_pairs(logits, trigs, cands, none_bias=bias)
    shifted = logits.clone()
    shifted[..., 0] -= bias
    greedy = _decode_pairs_single(shifted.softmax(-1), trigs, cands, frozenset())
    assert [[[(lo, hi, k) for lo, hi, k, _ in r] for r in w] for w in greedy] == \
        [[[(lo, hi, k) for lo, hi, k, _ in r] for r in w] for w in fast]
    single = decode_pairs(logits, trigs, cands, none_bias=bias, single={AGENT, TIME})
    for window in single:
        for args in window:
            for k in (AGENT, TIME):
                assert sum(a[2] == k for a in args) <= 1
            assert len({(lo, hi) for lo, hi, _, _ in args}) == len(args)


@pytest.mark.parametrize(("args", "single", "expected"), [
    ([("agent", 0.9), ("agent", 0.5), ("place", 0.7), ("place", 0.6)], {"agent"},
     [("agent", 0.9), ("place", 0.7), ("place", 0.6)]),
    ([("time", 0.4), ("time", 0.8)], {"time", "agent"}, [("time", 0.8)]),
    ([("time", 0.5), ("time", 0.5)], {"time"}, [("time", 0.5)]),  # a tie: the first
    ([("time", 0.5)], set(), [("time", 0.5)]),
])
def test_keep_single_roles(args, single, expected):
    spans = [SpanPred(i, i + 1, role, score) for i, (role, score) in enumerate(args)]
    kept = keep_single_roles(spans, frozenset(single))
    assert [(a.type, a.score) for a in kept] == expected
    assert [a.lo for a in kept] == sorted(a.lo for a in kept)  # the arguments keep their order


def test_single_roles_are_listed_once():
    # names that are not roles fail where the model config is built (tests/test_config_mapping.py BAD)
    assert RolesConfig(single_roles=["time", "place"]).single_roles == ["time", "place"]
    with pytest.raises(ConfigError, match=r"roles.single_roles: lists a role twice"):
        RolesConfig(single_roles=["time", "place", "time"])


@pytest.mark.parametrize("head", ["pair", "bio"])
def test_predictor_gives_each_single_role_once_per_trigger(tiny_backbone, head):
    torch.manual_seed(0)
    model, tok = build_model(DiplomatConfig(backbone_name=str(tiny_backbone), entity_types=["CITY", "EVENT", "PERSON"],
                                            roles=ROLES, trigger_types=["EVENT"], window_length=64, role_head=head))
    model.eval()
    _always(model, AGENT if head == "pair" else model.config.role_labels.index("B-agent"))

    def agents(single: list[str]) -> list[int]:
        model.config.role_single_roles = single
        p = predict_gold_docs(Predictor(model, tok), [_gold_doc()]).gold_ent[0]
        return [sum(a.type == "agent" for a in ev.arguments) for ev in p.events]

    assert all(n > 1 for n in agents([]))  # every candidate is an agent ...
    assert agents(["agent"]) == [1, 1]  # ... one per trigger with agent single
    assert all(n > 1 for n in agents(["place"]))
