"""Which role arguments lie in another sentence than their trigger (``roles.cross_sentence_bias``).

NEREL's event arguments mostly share a sentence with their trigger (88 % in train), while most of the
pair head's cross-sentence arguments are wrong; the bias lets decoding demand more evidence for them.
"""

from __future__ import annotations

import bisect

import torch


def window_sentence_ids(sentences: list[tuple[int, int]], lo: int, hi: int) -> list[int]:
    """The sentence index of each document word ``lo .. hi - 1``, from the document's sentences as
    ``(first_word, end_word)`` pairs in order (:func:`~diplomat_ie.data.text.tokenize_document`)."""
    starts = [s for s, _ in sentences]
    return [max(0, bisect.bisect_right(starts, i) - 1) for i in range(lo, hi)]


def sentence_tensor(rows: list[list[int]], width: int) -> torch.Tensor:
    """Per-window sentence ids ``[B, width]`` (padding words: -1)."""
    out = torch.full((len(rows), max(width, 1)), -1, dtype=torch.long)
    for i, row in enumerate(rows):
        out[i, : len(row)] = torch.tensor(row[:width], dtype=torch.long)
    return out


def cross_sentence(trig: torch.Tensor, spans: torch.Tensor, sent: torch.Tensor) -> torch.Tensor:
    """``[B, T, C]`` True where trigger ``t`` (``trig`` ``[B, T, 2]``) and span ``c`` (``spans`` ``[B, C, 2]``,
    window word ranges) share no sentence; ``sent`` ``[B, W]`` are the windows' sentence ids."""
    last = sent.size(1) - 1

    def ends(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        first = sent.gather(1, x[..., 0].clamp(0, last).flatten(1)).view(x.shape[:-1])
        end = sent.gather(1, (x[..., 1] - 1).clamp(0, last).flatten(1)).view(x.shape[:-1])
        return first, end

    t0, t1 = ends(trig)
    c0, c1 = ends(spans)
    return (torch.maximum(t0[:, :, None], c0[:, None, :]) > torch.minimum(t1[:, :, None], c1[:, None, :]))


def word_spans(width: int, batch: int) -> torch.Tensor:
    """Each word ``i`` as the span ``(i, i + 1)``: ``[batch, width, 2]`` (the BIO role head scores words)."""
    idx = torch.arange(width)
    return torch.stack([idx, idx + 1], -1).expand(batch, -1, -1)
