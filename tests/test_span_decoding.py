"""The span NER head's pure parts: gold span grids, candidate spans, decoding, the vectorised head."""

from __future__ import annotations

import pytest
import torch

from diplomat_ie.modeling.spans import (
    IGNORE,
    Candidate,
    SpanHead,
    decode_spans,
    span_candidates,
    span_label_grid,
    span_loss,
    split_span_logits,
)

C = Candidate

# (case, candidates, kept)
DECODE = [
    ("empty", [], []),
    ("nested kept", [C(0, 4, 1, 0.6), C(1, 2, 2, 0.9), C(0, 1, 3, 0.7)],
     [C(0, 4, 1, 0.6), C(0, 1, 3, 0.7), C(1, 2, 2, 0.9)]),
    ("disjoint kept", [C(0, 2, 1, 0.5), C(2, 3, 1, 0.5)], [C(0, 2, 1, 0.5), C(2, 3, 1, 0.5)]),
    ("crossing: higher score wins", [C(0, 3, 1, 0.6), C(2, 5, 2, 0.8)], [C(2, 5, 2, 0.8)]),
    ("crossing: the other way", [C(0, 3, 1, 0.9), C(2, 5, 2, 0.8)], [C(0, 3, 1, 0.9)]),
    ("crossing dropped, its nested span kept", [C(0, 3, 1, 0.9), C(2, 5, 2, 0.8), C(3, 4, 1, 0.7)],
     [C(0, 3, 1, 0.9), C(3, 4, 1, 0.7)]),
    ("a chain: the middle loses, both ends stay", [C(0, 2, 1, 0.9), C(1, 3, 1, 0.8), C(2, 4, 1, 0.7)],
     [C(0, 2, 1, 0.9), C(2, 4, 1, 0.7)]),
    ("same span twice: the better type", [C(1, 3, 1, 0.4), C(1, 3, 2, 0.6)], [C(1, 3, 2, 0.6)]),
    ("tie: the earlier span", [C(2, 4, 1, 0.5), C(1, 3, 1, 0.5)], [C(1, 3, 1, 0.5)]),
    ("far apart spans are never compared", [C(0, 6, 1, 0.9), C(10, 12, 2, 0.1), C(5, 11, 1, 0.2)],
     [C(0, 6, 1, 0.9), C(10, 12, 2, 0.1)]),
]


@pytest.mark.parametrize("cands, kept", [c[1:] for c in DECODE], ids=[c[0] for c in DECODE])
def test_decode_spans(cands, kept):
    assert decode_spans(cands) == kept
    assert decode_spans(list(reversed(cands))) == kept  # order of the input does not matter


def _probs(n_words: int, width: int, n_classes: int, winners: dict[tuple[int, int], tuple[int, float]]):
    """Probabilities where ``none`` wins everywhere; at ``(start, width - 1)``: ``class`` p, ``none`` 1 - p."""
    probs = torch.zeros(n_words, width, n_classes)
    probs[..., 0] = 0.9
    probs[..., 1:] = 0.1 / (n_classes - 1)
    for (i, k), (cls, p) in winners.items():
        probs[i, k] = 0.0
        probs[i, k, 0], probs[i, k, cls] = 1 - p, p
    return probs


# (case, n real words, has_subwords, winners, expected candidates)
CANDIDATES = [
    ("none everywhere", 4, [True] * 4, {}, []),
    ("one span", 4, [True] * 4, {(1, 1): (2, 0.7)}, [(1, 3, 2, 0.7)]),
    ("type only as likely as none: not kept", 4, [True] * 4, {(0, 0): (1, 0.5)}, []),
    ("best type below none: not kept", 4, [True] * 4, {(0, 0): (1, 0.45)}, []),
    ("past the window's words (padding)", 3, [True] * 4, {(2, 1): (1, 0.8), (3, 0): (1, 0.8)}, []),
    ("start or end word without subwords", 4, [True, False, True, True],
     {(1, 0): (1, 0.8), (0, 1): (1, 0.8), (2, 1): (3, 0.6)}, [(2, 4, 3, 0.6)]),
]


@pytest.mark.parametrize("n, has_sub, winners, expected", [c[1:] for c in CANDIDATES], ids=[c[0] for c in CANDIDATES])
def test_span_candidates(n, has_sub, winners, expected):
    got = span_candidates(_probs(4, 3, 4, winners), n, has_sub)
    assert [(c.lo, c.hi, c.cls, round(c.score, 4)) for c in got] == expected


# (case, n_words, width, entities (lo, hi, class), grid cells expected {(i, k): label}, beyond, same)
GRIDS = [
    ("one entity", 3, 2, [(0, 2, 1)], {(0, 1): 1, (2, 1): IGNORE}, 0, 0),
    ("too wide: ignored and counted", 4, 2, [(0, 3, 1), (1, 2, 2)], {(0, 1): 0, (1, 0): 2}, 1, 0),
    ("same span, two types: the first kept, counted", 3, 2, [(1, 2, 2), (1, 2, 1)], {(1, 0): 1}, 0, 1),
    ("cut by the window: unknown", 3, 3, [(1, 3, IGNORE)], {(1, 1): IGNORE, (0, 0): 0}, 0, 0),
    ("duplicate entity counted once", 3, 2, [(0, 1, 1), (0, 1, 1)], {(0, 0): 1}, 0, 0),
]


@pytest.mark.parametrize("n, width, ents, cells, beyond, same", [g[1:] for g in GRIDS], ids=[g[0] for g in GRIDS])
def test_span_label_grid(n, width, ents, cells, beyond, same):
    grid, stats = span_label_grid(n, width, ents, [True] * n)
    assert len(grid) == n and all(len(row) == width for row in grid)
    for (i, k), label in cells.items():
        assert grid[i][k] == label
    assert all(grid[i][k] == IGNORE for i in range(n) for k in range(width) if i + k >= n)  # past the end
    assert (stats.beyond_width, stats.same_span) == (beyond, same)


def test_span_label_grid_word_without_subwords():
    grid, _ = span_label_grid(3, 3, [(0, 2, 1)], [True, False, True])
    assert grid[0][1] == IGNORE and grid[1][0] == IGNORE  # a span ending / starting on it is no candidate
    assert grid[0][2] == 0 and grid[0][0] == 0


def test_span_head_equals_an_mlp_over_concatenated_span_vectors():
    """The vectorised head is the SpERT-style MLP over [start; end; mean; width] of every span."""
    torch.manual_seed(0)
    head = SpanHead(hidden=6, inner=5, n_classes=4, max_width=3, dropout=0.0).eval()
    words = torch.randn(2, 5, 6)
    logits = head(words)
    assert logits.shape == (2, 5, 3, 4)
    w1 = torch.cat([head.start.weight, head.end.weight, head.pool.weight, torch.eye(5)], dim=1)  # [I, 3H + I]
    for b in range(2):
        for i in range(5):
            for k in range(3):
                if i + k >= 5:
                    continue
                span = words[b, i : i + k + 1]
                x = torch.cat([span[0], span[-1], span.mean(0), head.width.weight[k]])
                expected = head.out(torch.nn.functional.gelu(w1 @ x + head.start.bias))
                assert torch.allclose(logits[b, i, k], expected, atol=1e-5)


def test_span_logits_layout_and_loss():
    logits = torch.randn(2, 4, 3 * 5)
    spans = split_span_logits(logits, 3)
    assert spans.shape == (2, 4, 3, 5) and torch.equal(spans[1, 2, 1], logits[1, 2, 5:10])
    labels = torch.full((2, 4, 3), IGNORE)
    assert span_loss(spans, labels, 1.0).item() == 0.0  # nothing to learn: zero, not NaN
    labels[0, 0, 0], labels[0, 1, 0] = 2, 0
    plain = torch.nn.functional.cross_entropy(spans[0, :2, 0], torch.tensor([2, 0]))
    assert torch.allclose(span_loss(spans, labels, 1.0), plain)
    weighted = span_loss(spans, labels, 0.25)
    nll = -spans[0, :2, 0].log_softmax(-1)[[0, 1], [2, 0]]
    assert torch.allclose(weighted, (nll[0] + 0.25 * nll[1]) / 1.25)


def test_span_loss_words_scale_sums_over_each_start_words_spans():
    spans = torch.randn(1, 3, 2, 4)
    labels = torch.tensor([[[1, 0], [0, IGNORE], [IGNORE, IGNORE]]])  # 3 candidates on 2 start words
    nll = -spans.log_softmax(-1)
    cells = [nll[0, 0, 0, 1], nll[0, 0, 1, 0], nll[0, 1, 0, 0]]
    assert torch.allclose(span_loss(spans, labels, 1.0, "words"), sum(cells) / 2)
    assert torch.allclose(span_loss(spans, labels, 0.5, "words"), (cells[0] + 0.5 * (cells[1] + cells[2])) / 2)
    assert torch.allclose(span_loss(spans, labels, 1.0, "cells"), sum(cells) / 3)
    assert span_loss(spans, torch.full_like(labels, IGNORE), 1.0, "words").item() == 0.0
