"""``model.ner_decoding: viterbi``: the best BIO-consistent path of each layered-head layer."""

from __future__ import annotations

import itertools

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from diplomat_ie.data.labels import bio_labels
from diplomat_ie.modeling.bio_decoding import bio_transitions, viterbi_bio

LABELS = bio_labels(["PER", "ORG"])  # O B-PER I-PER B-ORG I-ORG


def _valid(tags: list[str]) -> bool:
    prev = "O"
    for t in tags:
        if t.startswith("I-") and prev[2:] != t[2:]:
            return False
        prev = t
    return True


def _log_probs(rows: list[dict[str, float]]) -> torch.Tensor:
    """One word per dict: the given labels' logits, 0 for the rest."""
    x = torch.zeros(1, len(rows), len(LABELS))
    for i, row in enumerate(rows):
        for lab, v in row.items():
            x[0, i, LABELS.index(lab)] = v
    return x.log_softmax(-1)


# (name, logits per word, expected tags)
CASES = [
    ("consistent argmax is kept", [{"B-PER": 3}, {"I-PER": 3}, {"O": 3}], ["B-PER", "I-PER", "O"]),
    ("type switch inside a span: the stronger type wins the whole span",
     [{"B-PER": 2}, {"I-ORG": 3, "I-PER": 2.5}], ["B-PER", "I-PER"]),
    ("type switch, the other way", [{"B-PER": 2, "B-ORG": 1.9}, {"I-ORG": 5}], ["B-ORG", "I-ORG"]),
    ("no I- at the start", [{"I-PER": 3, "B-PER": 2}, {"I-PER": 3}], ["B-PER", "I-PER"]),
    ("no I- after O", [{"O": 5}, {"I-ORG": 2}], ["O", "O"]),
    ("two adjacent entities stay two", [{"B-PER": 3}, {"B-PER": 3}], ["B-PER", "B-PER"]),
]


@pytest.mark.parametrize("rows, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_viterbi_paths(rows, expected):
    trans, start = bio_transitions(LABELS)
    out = viterbi_bio(_log_probs(rows), [len(rows)], trans, start)
    assert [LABELS[i] for i in out[0, : len(rows)].tolist()] == expected


def test_padding_words_do_not_change_the_path():
    rows = [{"B-PER": 2}, {"I-ORG": 3, "I-PER": 2.5}]
    padded = rows + [{"I-ORG": 50}] * 3  # a strong I-ORG past the end would pull the path to ORG
    trans, start = bio_transitions(LABELS)
    out = viterbi_bio(_log_probs(padded), [2], trans, start)
    assert [LABELS[i] for i in out[0, :2].tolist()] == ["B-PER", "I-PER"]


def test_transitions_of_a_label_list():
    trans, start = bio_transitions(LABELS)
    ok = {(p, c) for p in LABELS for c in LABELS if trans[LABELS.index(p), LABELS.index(c)] == 0}
    assert ("B-PER", "I-PER") in ok and ("I-PER", "I-PER") in ok and ("O", "B-ORG") in ok
    assert ("B-ORG", "I-PER") not in ok and ("O", "I-PER") not in ok and ("I-ORG", "I-PER") not in ok
    assert [LABELS[i] for i in range(len(LABELS)) if start[i] < 0] == ["I-PER", "I-ORG"]


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 4), st.integers(0, 2**31 - 1))
def test_viterbi_is_the_best_valid_path(n_words, seed):
    """Against brute force over every label sequence: valid, and no valid path scores higher."""
    g = torch.Generator().manual_seed(seed)
    lp = (torch.randn(2, n_words + 1, len(LABELS), generator=g) * 3).log_softmax(-1)
    trans, start = bio_transitions(LABELS)
    out = viterbi_bio(lp, [n_words, n_words + 1], trans, start)
    for i, m in enumerate([n_words, n_words + 1]):
        path = out[i, :m].tolist()
        assert _valid([LABELS[j] for j in path])
        seqs = torch.tensor([s for s in itertools.product(range(len(LABELS)), repeat=m)
                             if _valid([LABELS[j] for j in s])])
        best = lp[i, torch.arange(m), seqs].sum(-1).max().item()
        assert lp[i, torch.arange(m), torch.tensor(path)].sum().item() == pytest.approx(best, abs=1e-4)


def test_predictor_decodes_by_the_config(tiny_backbone):
    """A layered head that says I-PERSON everywhere: argmax keeps the tags, viterbi starts with B-PERSON."""
    from diplomat_ie.modeling.configuration import DiplomatConfig
    from diplomat_ie.modeling.io import build_model, load_tokenizer
    from diplomat_ie.modeling.predict import Predictor

    tok = load_tokenizer(tiny_backbone)
    cfg = DiplomatConfig(entity_types=["ORGANIZATION", "PERSON"], num_layers=2, window_length=64, roles=[],
                         backbone_name=str(tiny_backbone))
    model, _ = build_model(cfg)
    model.eval()
    head = model.heads.ner_head
    with torch.no_grad():
        head.weight.zero_()
        bias = torch.zeros(cfg.num_layers, len(cfg.ner_labels))
        bias[:, cfg.ner_labels.index("I-PERSON")] = 5.0
        bias[:, cfg.ner_labels.index("B-ORGANIZATION")] = 4.0
        head.bias.copy_(bias.flatten())
    text = "Сергей Лавров посетил Париж и провёл там переговоры с коллегами"
    tags = {}
    for decoding in ("argmax", "viterbi"):
        model.config.ner_decoding = decoding
        (pred,) = Predictor(model, tok).predict([text])
        tags[decoding] = pred.layer_tags
    n = len(tags["argmax"][0])
    assert n >= 6  # long enough that the I-PERSON path beats B-ORGANIZATION everywhere
    assert tags["argmax"] == [["I-PERSON"] * n] * 2
    assert tags["viterbi"] == [["B-PERSON"] + ["I-PERSON"] * (n - 1)] * 2
