"""Pure scoring functions: strict span P/R/F1 (micro, macro, per type)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable


def prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": 100 * p, "recall": 100 * r, "f1": 100 * f, "support": tp + fn,
            "tp": tp, "fp": fp, "fn": fn}


def score_sets(gold: Iterable[set[tuple]], pred: Iterable[set[tuple]],
               type_of=lambda item: item[-1]) -> dict:
    """Strict scores over per-document sets of hashable items whose type is ``type_of(item)``.

    Args:
        gold, pred: one set per document, e.g. ``{(start, end, type)}``.
        type_of: how to read an item's type for the per-type table.

    Returns:
        ``{"micro": {...}, "macro": {...}, "per_type": {type: {...}}}`` with P/R/F1 in percent.
    """
    tp, fp, fn = Counter(), Counter(), Counter()
    for g, p in zip(gold, pred, strict=True):
        for item in g & p:
            tp[type_of(item)] += 1
        for item in p - g:
            fp[type_of(item)] += 1
        for item in g - p:
            fn[type_of(item)] += 1
    types: list[Hashable] = sorted(set(tp) | set(fp) | set(fn), key=str)
    per_type = {str(t): prf(tp[t], fp[t], fn[t]) for t in types}
    micro = prf(sum(tp.values()), sum(fp.values()), sum(fn.values()))
    gold_types = [t for t in types if tp[t] + fn[t] > 0]
    macro = {k: (sum(per_type[str(t)][k] for t in gold_types) / len(gold_types) if gold_types else 0.0)
             for k in ("precision", "recall", "f1")}
    return {"micro": micro, "macro": macro, "per_type": per_type}
