"""What a prediction returns (entities and events over document words) and the pure post-processing of role
arguments: snapping onto predicted entities and one argument per single role."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from ..data.labels import bio_to_spans
from .encoding import EncodedDoc


@dataclass
class SpanPred:
    lo: int  # document word indices [lo, hi)
    hi: int
    type: str
    score: float
    origin: str = "model"  # triggers: "model" or "lexicon" (a trigger-lexicon word the model did not tag)


@dataclass
class EventPred:
    trigger: SpanPred
    arguments: list[SpanPred] = field(default_factory=list)  # type = role


@dataclass
class DocPred:
    enc: EncodedDoc
    entities: list[SpanPred] = field(default_factory=list)
    events: list[EventPred] = field(default_factory=list)
    layer_tags: list[list[str]] = field(default_factory=list)  # stitched BIO per nesting layer (span head:
    # its entities split into nesting layers)

    def char_span(self, s: SpanPred) -> tuple[int, int]:
        return self.enc.words[s.lo].start, self.enc.words[s.hi - 1].end


def decode_tags(tags_row: list[str], probs_row: list[float], offset: int) -> list[SpanPred]:
    out = []
    for lo, hi, typ in bio_to_spans(tags_row):
        score = sum(probs_row[lo:hi]) / (hi - lo)
        out.append(SpanPred(lo + offset, hi + offset, typ, score))
    return out


class EntityIndex:
    """Predicted entities sorted by start, for overlap look-ups in O(log n + hits) per argument."""

    def __init__(self, entities: list[SpanPred]):
        self.items = sorted(entities, key=lambda s: (s.lo, -s.hi, s.type))
        self.los = [e.lo for e in self.items]
        self.max_len = max((e.hi - e.lo for e in self.items), default=0)
        self.spans = {(e.lo, e.hi) for e in self.items}

    def overlapping(self, lo: int, hi: int) -> list[SpanPred]:
        start = bisect.bisect_left(self.los, lo - self.max_len + 1)
        end = bisect.bisect_left(self.los, hi)
        return [e for e in self.items[start:end] if e.hi > lo]


def snap_arguments(args: list[SpanPred], entities: list[SpanPred] | EntityIndex, trigger: SpanPred | None = None,
                   min_overlap: float = 0.0) -> list[SpanPred]:
    """Move role arguments onto the predicted entities they overlap most.

    The role head tags words, so an argument can come out as fragments of one entity («Касым» | «-» |
    «Жомарт Токаев»). Each argument that is not itself an entity moves to the entity with the highest
    word overlap (intersection over union, above ``min_overlap``; ties: the shorter entity, then the
    earlier one; the trigger's own span is never a target). Arguments that land on the same span merge:
    the role with the highest summed score wins, with the best score among its fragments.
    """
    index = entities if isinstance(entities, EntityIndex) else EntityIndex(entities)
    merged: dict[tuple[int, int], dict[str, list[float]]] = {}
    for a in args:
        lo, hi = a.lo, a.hi
        if (lo, hi) not in index.spans:
            best, best_iou = None, min_overlap
            for e in index.overlapping(a.lo, a.hi):
                if trigger is not None and (e.lo, e.hi) == (trigger.lo, trigger.hi):
                    continue
                iou = (min(a.hi, e.hi) - max(a.lo, e.lo)) / (max(a.hi, e.hi) - min(a.lo, e.lo))
                if iou > best_iou or (best is not None and iou == best_iou and e.hi - e.lo < best.hi - best.lo):
                    best, best_iou = e, iou
            if best is not None:
                lo, hi = best.lo, best.hi
        merged.setdefault((lo, hi), {}).setdefault(a.type, []).append(a.score)
    out = []
    for (lo, hi), roles in merged.items():
        role = max(roles, key=lambda r: (sum(roles[r]), r))
        out.append(SpanPred(lo, hi, role, max(roles[role])))
    return sorted(out, key=lambda s: (s.lo, s.hi))


def keep_single_roles(args: list[SpanPred], single: frozenset[str] | set[str]) -> list[SpanPred]:
    """An event's arguments with at most one of each role in ``single``: the highest score (ties: the first)."""
    best: dict[str, SpanPred] = {}
    for a in args:
        if a.type in single and (a.type not in best or best[a.type].score < a.score):
            best[a.type] = a
    return [a for a in args if a.type not in single or best[a.type] is a]
