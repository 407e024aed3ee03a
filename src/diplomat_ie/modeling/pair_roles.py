"""The pair role head (``roles.head: pair``): one classification per (trigger, candidate entity) pair.

Span vector of a word span: ``[mean; first; last]`` of its words' first-subword states, projected to
``role_hidden_size`` (one projection for triggers, one for candidates). Pair vector:
``[t; e; t * e; D[dist(e, t)]; T[type(e)]]`` -> linear -> GELU -> linear over ``none`` + the roles,
where ``dist`` is the bucketed signed word gap between the spans (:func:`~.distance.distance_buckets`,
0 when they overlap) and ``type`` the candidate's entity type (one extra row for types the model does
not tag). With ``context`` (``roles.pair_context``) the pair vector also holds ``C``: the mean of the
projected words strictly between the two spans (SpERT's context; zero when they touch or overlap), from
prefix sums, so it costs no ``[pairs, words]`` tensor. With ``sentence`` (``roles.pair_sentence``) a learned
vector ``S[cross]`` is added to ``D[dist]``, ``cross`` being 1 where the candidate shares no sentence with the
trigger (:func:`~.sentences.cross_sentence`). All pairs of a batch are computed at once; the
candidates' vectors once per window.
Inputs, labels and decoding: :mod:`.pair_features`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .distance import distance_buckets


def span_vectors(words: torch.Tensor, spans: torch.Tensor) -> torch.Tensor:
    """``[mean; first; last]`` word vectors ``[M, S, 3H]`` of spans ``[M, S, 2]`` in ``words`` ``[M, W, H]``.

    Empty (padding) spans give the first word's vector and a zero mean; their pairs are never used.
    """
    idx = torch.arange(words.size(1), device=words.device)
    lo, hi = spans[..., :1], spans[..., 1:]
    inside = ((idx >= lo) & (idx < hi)).to(words.dtype)  # [M, S, W]
    mean = (inside @ words) / inside.sum(-1, keepdim=True).clamp(min=1)
    last = words.size(1) - 1
    h = words.size(-1)
    first = words.gather(1, lo.clamp(0, last).expand(-1, -1, h))
    end = words.gather(1, (hi - 1).clamp(0, last).expand(-1, -1, h))
    return torch.cat([mean, first, end], -1)


def between(trig: torch.Tensor, cands: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The words strictly between each trigger ``[N, 2]`` and its candidates ``[N, C, 2]``: ``(lo, hi)``
    ``[N, C]`` each, ``[lo, hi)``; ``lo == hi`` where the spans touch or overlap."""
    t_lo, t_hi = trig[:, :1], trig[:, 1:]
    c_lo, c_hi = cands[..., 0], cands[..., 1]
    after, before = c_lo >= t_hi, c_hi <= t_lo
    zero = torch.zeros_like(c_lo)
    lo = torch.where(after, t_hi.expand_as(c_lo), torch.where(before, c_hi, zero))
    hi = torch.where(after, c_lo, torch.where(before, t_lo.expand_as(c_lo), zero))
    return lo, hi


def context_means(prefix: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor) -> torch.Tensor:
    """Mean word vector over ``[lo, hi)`` ``[N, C]`` from per-row prefix sums ``[N, W + 1, d]``
    (``prefix[:, i]`` = sum of words ``< i``); zero for an empty range."""
    d = prefix.size(-1)
    top = prefix.gather(1, hi[..., None].expand(-1, -1, d))
    bottom = prefix.gather(1, lo[..., None].expand(-1, -1, d))
    return (top - bottom) / (hi - lo).clamp(min=1)[..., None].to(prefix.dtype)


def prefix_sums(words: torch.Tensor) -> torch.Tensor:
    """``[M, W, d]`` -> ``[M, W + 1, d]`` float32 prefix sums (bf16 sums drift over a window)."""
    w = words.float()
    return torch.cat([w.new_zeros((w.size(0), 1, w.size(2))), w.cumsum(1)], 1)


def span_gap_anchor(trig: torch.Tensor, cands: torch.Tensor) -> torch.Tensor:
    """The candidate word whose distance to the trigger is the spans' gap: ``[N, C]`` for trigger
    spans ``[N, 2]`` and candidate spans ``[N, C, 2]`` (an overlapping candidate: a word inside the trigger)."""
    t_lo, t_hi = trig[:, :1], trig[:, 1:]
    c_lo, c_hi = cands[..., 0], cands[..., 1]
    overlap = torch.maximum(c_lo, t_lo)
    return torch.where(c_lo >= t_hi, c_lo, torch.where(c_hi <= t_lo, c_hi - 1, overlap))


class PairRoleHead(nn.Module):
    """Scores ``none`` + each role for every (trigger, candidate) pair (see the module docstring).

    Args:
        hidden: the encoder's hidden size; inner: ``role_hidden_size``.
        n_types: the model's entity types (one more embedding row for any other type).
        n_labels: ``none`` + the roles; max_distance: distances are bucketed up to this; dropout: before
            the output layer; context: add the mean of the words between the spans to each pair;
            sentence: add a same-sentence / other-sentence vector to each pair.
    """

    def __init__(self, hidden: int, inner: int, n_types: int, n_labels: int, max_distance: int, dropout: float,
                 context: bool = False, sentence: bool = False):
        super().__init__()
        self.max_distance = max_distance
        self.trig = nn.Linear(3 * hidden, inner)
        self.cand = nn.Linear(3 * hidden, inner)
        self.dist = nn.Embedding(32, inner)
        self.etype = nn.Embedding(n_types + 1, inner)
        # a context-free head registers no ctx weights, so models saved before load unchanged
        self.ctx = nn.Linear(hidden, inner) if context else None
        # added to the distance vector: no wider pair layer; a head without it registers no weights
        self.sent = nn.Embedding(2, inner) if sentence else None
        self.pair = nn.Linear((6 if context else 5) * inner, inner)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(inner, n_labels)

    def forward(self, words: torch.Tensor, trig_spans: torch.Tensor, cand_spans: torch.Tensor,
                cand_types: torch.Tensor, cross: torch.Tensor | None = None) -> torch.Tensor:
        """words ``[B, W, H]``, trig_spans ``[B, T, 2]``, cand_spans ``[B, C, 2]``, cand_types ``[B, C]``
        (and, with ``sentence``, ``cross`` ``[B, T, C]``) -> logits ``[B, T, C, L]``. Padding triggers
        (``hi <= lo``) get zero logits."""
        b, t = trig_spans.shape[:2]
        bi, ti = (trig_spans[..., 1] > trig_spans[..., 0]).nonzero(as_tuple=True)
        if not len(bi) or cand_spans.size(1) == 0:
            return words.new_zeros((b, t, cand_spans.size(1), self.out.out_features))
        trig_vec = self.trig(span_vectors(words, trig_spans))[bi, ti]  # [N, d]
        cand_vec = self.cand(span_vectors(words, cand_spans))[bi]  # [N, C, d]: once per window, then gathered
        prefix = None if self.ctx is None else prefix_sums(self.ctx(words))[bi]
        logits = self.scores(trig_vec, cand_vec, trig_spans[bi, ti], cand_spans[bi], cand_types[bi], prefix,
                             None if cross is None else cross[bi, ti])
        out = logits.new_zeros((b, t, cand_spans.size(1), logits.size(-1)))
        out[bi, ti] = logits
        return out

    def rows(self, words: torch.Tensor, trig: torch.Tensor, cands: torch.Tensor, types: torch.Tensor,
             cross: torch.Tensor | None = None) -> torch.Tensor:
        """Logits ``[N, C, L]`` for N triggers, each with its own word vectors ``words`` ``[N, W, H]``
        (marker mode), trigger spans ``[N, 2]``, candidates ``[N, C, 2]``, their types ``[N, C]`` (and,
        with ``sentence``, ``cross`` ``[N, C]``)."""
        trig_vec = self.trig(span_vectors(words, trig[:, None]))[:, 0]
        prefix = None if self.ctx is None else prefix_sums(self.ctx(words))
        return self.scores(trig_vec, self.cand(span_vectors(words, cands)), trig, cands, types, prefix, cross)

    def scores(self, trig_vec: torch.Tensor, cand_vec: torch.Tensor, trig: torch.Tensor, cands: torch.Tensor,
               types: torch.Tensor, prefix: torch.Tensor | None = None,
               cross: torch.Tensor | None = None) -> torch.Tensor:
        """The pair MLP: trigger vectors ``[N, d]``, candidate vectors ``[N, C, d]`` (and, with context,
        the trigger rows' context prefix sums ``[N, W + 1, d]``; with ``sentence``, ``cross`` ``[N, C]``)
        -> ``[N, C, L]``."""
        dist = distance_buckets(span_gap_anchor(trig, cands), trig[:, :1], trig[:, 1:], self.max_distance)
        t = trig_vec[:, None].expand_as(cand_vec)
        d = self.dist(dist)
        if self.sent is not None:
            if cross is None:
                raise ValueError("this pair head reads whether each candidate shares the trigger's sentence: "
                                 "pass cross")
            d = d + self.sent(cross.long())
        parts = [t, cand_vec, t * cand_vec, d.to(cand_vec.dtype), self.etype(types).to(cand_vec.dtype)]
        if self.ctx is not None:
            if prefix is None:
                raise ValueError("this pair head reads the context between the spans: pass prefix")
            parts.append(context_means(prefix, *between(trig, cands)).to(cand_vec.dtype))
        z = torch.cat(parts, -1)
        return self.out(self.drop(F.gelu(self.pair(z))))
