"""The span NER head (``model.ner_head: span``): classify every word span, then decode nested entities.

SpERT / GLiNER style: the span of words ``[i, i + k)`` (``k`` = 1..``max_span_width``) is represented by
its start word's vector, its end word's vector, the mean of its words' vectors and a width embedding,
and a small MLP gives logits over ``none`` + the entity types. The first MLP layer over the concatenation
``[start; end; mean; width]`` is computed as the sum of one projection per part (the same function as a
linear layer over the concatenation): the start/end projections are computed once per word and the mean
as a difference of prefix sums of the projected words, so a window of W words costs ``W x max_width``
additions, with no loop over spans. Logits are laid out ``[B, W, max_width, C]``: start word ``i``,
width ``k + 1``; spans that run past the window's words are computed but never used (labels ``-100``,
ignored in decoding).

Decoding (:func:`decode_spans`): a span is an entity when its best type beats ``none``; nested and
disjoint entities are kept, and of two crossing spans (overlapping, neither inside the other) the
higher-scoring one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

IGNORE = -100


class SpanHead(nn.Module):
    """``[B, W, H]`` word vectors -> ``[B, W, max_width, n_classes]`` span logits (class 0: none).

    Args:
        hidden: word vector size; inner: the MLP's hidden width; n_classes: none + entity types;
        max_width: longest span in words; dropout: before the output layer.
    """

    def __init__(self, hidden: int, inner: int, n_classes: int, max_width: int, dropout: float):
        super().__init__()
        self.max_width = max_width
        self.start = nn.Linear(hidden, inner)
        self.end = nn.Linear(hidden, inner, bias=False)
        self.pool = nn.Linear(hidden, inner, bias=False)  # no bias: mean(pool(x)) == pool(mean(x))
        self.width = nn.Embedding(max_width, inner)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(inner, n_classes)

    def forward(self, words: torch.Tensor) -> torch.Tensor:
        n_words, mw = words.size(1), self.max_width
        dev = words.device
        starts = torch.arange(n_words, device=dev).unsqueeze(1)  # [W, 1]
        widths = torch.arange(1, mw + 1, device=dev).unsqueeze(0)  # [1, mw]
        ends = starts + widths  # exclusive end word of each span, [W, mw]; at most W - 1 + mw
        end_vec = F.pad(self.end(words), (0, 0, 0, mw))[:, ends - 1]  # [B, W, mw, I]
        # prefix sums in fp32: a difference of bf16 running sums would lose the short spans
        pooled = F.pad(self.pool(words).float(), (0, 0, 0, mw))
        prefix = F.pad(pooled.cumsum(1), (0, 0, 1, 0))  # prefix[j] = sum of words [0, j)
        mean = (prefix[:, ends] - prefix[:, starts]) / widths.unsqueeze(-1).to(prefix.dtype)
        z = self.start(words).unsqueeze(2) + end_vec + mean + self.width.weight
        return self.out(self.drop(F.gelu(z)))


def split_span_logits(ner_logits: torch.Tensor, max_width: int) -> torch.Tensor:
    """``[B, W, max_width * C]`` (what the heads and the window runners give) -> ``[B, W, max_width, C]``."""
    b, w, _ = ner_logits.shape
    return ner_logits.view(b, w, max_width, -1)


def span_loss(logits: torch.Tensor, labels: torch.Tensor, none_weight: float, scale: str = "cells") -> torch.Tensor:
    """Cross-entropy over the candidate spans (labels ``-100``: no candidate), ``none`` weighted.

    ``scale="cells"``: the weighted mean over the candidates (with ``none_weight`` below 1 the mean is over
    the summed weights, so entity spans count more). ``"words"``: the weighted sum divided by the number of
    start words with a candidate, so one word's ``max_width`` spans weigh like one token of a BIO layer
    (the cell mean is ~``max_width`` times smaller, and drowns under the role loss).
    """
    valid = labels != IGNORE
    if not valid.any():
        return logits.float().sum() * 0.0  # keeps the graph (DDP) without a NaN
    weight = torch.ones(logits.size(-1), device=logits.device)
    weight[0] = none_weight
    flat, target = logits.reshape(-1, logits.size(-1)).float(), labels.reshape(-1)
    if scale == "cells":
        return F.cross_entropy(flat, target, weight=weight, ignore_index=IGNORE)
    words = valid.any(-1).sum()
    return F.cross_entropy(flat, target, weight=weight, ignore_index=IGNORE, reduction="sum") / words


class SpanLabelStats(NamedTuple):
    """What :func:`span_label_grid` could not label."""

    beyond_width: int  # entities longer than max_width words
    same_span: int  # entities on a span already labelled with another type


def span_label_grid(n_words: int, max_width: int, entities: Iterable[tuple[int, int, int]],
                    has_subwords: Sequence[bool]) -> tuple[list[list[int]], SpanLabelStats]:
    """Gold span classes ``[n_words][max_width]`` of one window.

    Args:
        n_words: words in the window; max_width: the head's longest span.
        entities: ``(lo, hi, class id)`` window-relative word spans (class ids from 1); spans cut by the
            window edge come clipped, with class :data:`IGNORE`.
        has_subwords: per word, whether it has a first subword (spans starting or ending on a word
            without one are no candidates).

    Returns:
        The grid (0: none, ``-100``: no candidate or unknown) and the counts of what was left out.
    """
    grid = [[0 if i + k < n_words and has_subwords[i] and has_subwords[i + k] else IGNORE
             for k in range(max_width)] for i in range(n_words)]
    beyond = same = 0
    for lo, hi, cls in sorted(set(entities)):
        width = hi - lo
        if width > max_width:
            beyond += cls != IGNORE
            continue
        cell = grid[lo][width - 1]
        if cell > 0 and cls != cell:
            same += 1
        elif cell == 0 or cls == IGNORE:
            grid[lo][width - 1] = cls
    return grid, SpanLabelStats(beyond, same)


class Candidate(NamedTuple):
    """A span the head scored as an entity (window-relative words ``[lo, hi)``)."""

    lo: int
    hi: int
    cls: int  # class id (1..: entity types)
    score: float


def span_candidates(probs: torch.Tensor, n_words: int, has_subwords: Sequence[bool]) -> list[Candidate]:
    """Spans of one window whose best entity type beats ``none``.

    Args:
        probs: ``[W, max_width, C]`` softmax of the window's span logits (W may include padding).
        n_words: the window's real words; has_subwords: per word, whether it has a first subword.

    Returns:
        The candidates (score: the winning type's probability).
    """
    best_p, best = probs[..., 1:].max(-1)
    keep = best_p > probs[..., 0]
    idx = keep.nonzero().tolist()
    scores, classes = best_p[keep].tolist(), (best[keep] + 1).tolist()
    out = []
    for (i, k), score, cls in zip(idx, scores, classes, strict=True):
        if i + k < n_words and has_subwords[i] and has_subwords[i + k]:
            out.append(Candidate(i, i + k + 1, cls, score))
    return out


def _crosses(a: Candidate, b: Candidate) -> bool:
    """Overlapping without one inside the other."""
    return a.lo < b.hi and b.lo < a.hi and not (a.lo <= b.lo and b.hi <= a.hi) and not (
        b.lo <= a.lo and a.hi <= b.hi)


def decode_spans(cands: Iterable[Candidate]) -> list[Candidate]:
    """Greedy by score: keep a span unless it crosses (or repeats) a kept, higher-scoring one.

    Nested and disjoint spans are all kept. Ties: the earlier, then the longer span first. A span is
    only compared with kept spans starting less than the longest candidate's width before it.

    Returns:
        The kept spans sorted by ``(lo, -hi)``.
    """
    ordered = sorted(cands, key=lambda c: (-c.score, c.lo, -(c.hi - c.lo), c.cls))
    longest = max((c.hi - c.lo for c in ordered), default=0)
    by_start: dict[int, list[Candidate]] = {}
    kept: list[Candidate] = []
    for c in ordered:
        near = (k for s in range(c.lo - longest + 1, c.hi) for k in by_start.get(s, ()))
        if all((k.lo, k.hi) != (c.lo, c.hi) and not _crosses(k, c) for k in near):
            kept.append(c)
            by_start.setdefault(c.lo, []).append(c)
    return sorted(kept, key=lambda c: (c.lo, -c.hi, c.cls))
