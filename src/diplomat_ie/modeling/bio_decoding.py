"""Decoding of the layered BIO heads: per-word argmax, or the best BIO-consistent path (Viterbi).

With argmax a layer can read ``B-PERSON I-ORGANIZATION``, which :func:`~diplomat_ie.data.labels.bio_to_spans`
turns into two entities. ``viterbi`` keeps the most probable sequence in which every ``I-T`` continues a
``B-T`` / ``I-T``: the model's own probabilities, no learned transitions.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

_NEG = -1.0e4  # a forbidden transition (finite: -inf - -inf would give nan on all-forbidden rows)


def bio_transitions(labels: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """Additive masks of a BIO label list: ``trans[prev, cur]`` and ``start[cur]`` (0 allowed, very negative not).

    Args:
        labels: ``O`` / ``B-T`` / ``I-T`` labels (:func:`~diplomat_ie.data.labels.bio_labels`).

    Returns:
        ``trans`` ``[L, L]`` and ``start`` ``[L]``: ``I-T`` may only follow ``B-T`` or ``I-T``, and not start.
    """
    n = len(labels)
    trans = torch.zeros(n, n)
    start = torch.zeros(n)
    for cur, lab in enumerate(labels):
        prefix, _, typ = lab.partition("-")
        if prefix != "I":
            continue
        start[cur] = _NEG
        for prev, p in enumerate(labels):
            if p not in (f"B-{typ}", f"I-{typ}"):
                trans[prev, cur] = _NEG
    return trans, start


def viterbi_bio(log_probs: torch.Tensor, lengths: Sequence[int], trans: torch.Tensor,
                start: torch.Tensor) -> torch.Tensor:
    """The best allowed label path of each sequence.

    Args:
        log_probs: ``[N, W, L]`` log-probabilities per word.
        lengths: the real words of each sequence (the rest is padding and is not decoded).
        trans, start: :func:`bio_transitions`.

    Returns:
        ``[N, W]`` label ids; those past a sequence's length are meaningless.
    """
    n, w, _ = log_probs.shape
    lp = log_probs.float()
    ends = torch.tensor(list(lengths), dtype=torch.long) - 1
    delta = lp[:, 0] + start
    final = delta.argmax(-1)  # each sequence's best label at its last word (one-word sequences: here)
    back = []
    for t in range(1, w):
        best, arg = (delta[:, :, None] + trans[None]).max(1)  # over the previous label
        delta = best + lp[:, t]
        back.append(arg)  # back[t - 1][i, cur]: the best label of word t - 1 before label cur at word t
        final = torch.where(ends == t, delta.argmax(-1), final)
    cur = torch.zeros(n, dtype=torch.long)
    out = torch.zeros(n, w, dtype=torch.long)
    for t in range(w - 1, -1, -1):  # all sequences at once; each joins at its own last word
        cur = torch.where(ends == t, final, cur)
        out[:, t] = cur
        if t > 0:
            cur = torch.where(t <= ends, back[t - 1].gather(1, cur[:, None]).squeeze(1), cur)
    return out
