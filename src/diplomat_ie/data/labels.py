"""Layered BIO encoding of nested spans, and the decoding back to spans.

Nested entities are split into layers: layer 0 holds the outermost (longest) mentions, each
further layer the mentions nested in the previous ones. Each layer is one BIO sequence.
"""

from __future__ import annotations

from collections.abc import Sequence

OUTSIDE = "O"

WordSpan = tuple[int, int, str]  # (first word, end word exclusive, type)


def bio_labels(types: Sequence[str]) -> list[str]:
    """The BIO label list for ``types``: ``O`` first, then ``B-T``, ``I-T`` per type."""
    labels = [OUTSIDE]
    for t in types:
        labels += [f"B-{t}", f"I-{t}"]
    return labels


def assign_layers(spans: Sequence[WordSpan], max_layers: int | None = None) -> list[list[WordSpan]]:
    """Split spans into non-overlapping layers, longest first (outermost mentions in layer 0).

    Args:
        spans: word-level spans; exact duplicates (same start, end, type) are kept once.
        max_layers: drop spans that would need a deeper layer (``None`` = unlimited).

    Returns:
        One list of spans per layer, each sorted by start.
    """
    layers: list[list[WordSpan]] = []
    for span in sorted(set(spans), key=lambda s: (-(s[1] - s[0]), s[0], s[2])):
        for layer in layers:
            if all(span[1] <= o[0] or o[1] <= span[0] for o in layer):
                layer.append(span)
                break
        else:
            if max_layers is None or len(layers) < max_layers:
                layers.append([span])
    return [sorted(layer) for layer in layers]


def spans_to_bio(spans: Sequence[WordSpan], length: int) -> list[str]:
    """Encode non-overlapping spans as a BIO sequence of ``length`` tags."""
    tags = [OUTSIDE] * length
    for start, end, typ in spans:
        if not 0 <= start < end <= length:
            raise ValueError(f"span ({start}, {end}) outside sequence of length {length}")
        if any(t != OUTSIDE for t in tags[start:end]):
            raise ValueError(f"span ({start}, {end}, {typ}) overlaps another span in the same layer")
        tags[start] = f"B-{typ}"
        for i in range(start + 1, end):
            tags[i] = f"I-{typ}"
    return tags


def bio_to_spans(tags: Sequence[str]) -> list[WordSpan]:
    """Decode a BIO sequence; an ``I-T`` that does not continue a ``T`` span starts a new one."""
    spans: list[WordSpan] = []
    start, typ = None, None
    for i, tag in enumerate(tags):
        if tag == OUTSIDE:  # most tags: no string splitting
            if start is not None:
                spans.append((start, i, typ))
                start = None
            continue
        prefix, _, t = tag.partition("-")
        if start is not None and not (prefix == "I" and t == typ):
            spans.append((start, i, typ))
            start = None
        if prefix == "B" or (prefix == "I" and start is None):
            start, typ = i, t
    if start is not None:
        spans.append((start, len(tags), typ))
    return spans


def char_to_word_span(start: int, end: int, word_starts: Sequence[int],
                      word_ends: Sequence[int]) -> tuple[int, int] | None:
    """Map a character span to the words it covers (snapping inward-overlapping words); None if none."""
    import bisect

    first = bisect.bisect_right(word_ends, start)
    last = bisect.bisect_left(word_starts, end)
    if first >= last:
        return None
    return first, last
