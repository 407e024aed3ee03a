"""Inputs and labels of the pair role head (``roles.head: pair``): candidate spans, pair labels, decoding.

A window's candidates are entity word spans ``(lo, hi)`` (window-relative, ``[lo, hi)``) with a type id
(the index in ``config.entity_types``; :func:`type_id` maps any other type to ``len(entity_types)``).
In training they are the window's gold entities (any type, any nesting level) plus a few random
non-entity spans as negatives (:data:`RANDOM_NEGATIVES`, drawn from the document id and window, so the
cached windows are reproducible); every (trigger, candidate) pair is labelled with the candidate's role
for that trigger (``config.pair_labels`` id, 0 = none), or ignored where the candidate is the trigger
itself. At inference the candidates are the entities the NER layers predict in the window (or the gold
entities, in the gold-entity evaluation setting).

Kept apart from the torch head (:mod:`.pair_roles`) so that only this module's source is part of the
training-window cache key.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Collection, Sequence

import torch

from ..data.labels import bio_to_spans
from .spans import span_candidates

IGNORE = -100
RANDOM_NEGATIVES = 4  # random non-entity spans per training window, labelled none
MAX_RANDOM_LEN = 3  # their length in words: 1..3
PAIR_COLUMNS = ("cand_spans", "cand_types", "pair_labels")

Candidate = tuple[int, int, int]  # window word lo, hi, type id


def type_id(entity_types: Sequence[str], typ: str) -> int:
    """The type embedding row of ``typ``: its index, or ``len(entity_types)`` for any other type."""
    return entity_types.index(typ) if typ in entity_types else len(entity_types)


def random_negatives(taken: set[tuple[int, int]], word_pos: Sequence[int], n_types: int, seed: str,
                     n: int = RANDOM_NEGATIVES) -> list[Candidate]:
    """Up to ``n`` random spans of 1..3 words that are no gold span, with a random entity type.

    Args:
        taken: the gold candidate spans ``(lo, hi)`` (never drawn).
        word_pos: the window's first-subword positions (words without subwords never start a span).
        n_types: entity types to draw from.
        seed: makes the draw reproducible (document id and window start).

    Returns:
        Candidates ``(lo, hi, type id)``, sorted.
    """
    rng = random.Random(zlib.crc32(seed.encode("utf-8")))
    starts = [i for i, p in enumerate(word_pos) if p >= 0]
    out: set[Candidate] = set()
    for _ in range(4 * n):  # a few tries: short windows may hold fewer free spans than n
        if len(out) >= n or not starts or n_types < 1:
            break
        lo = rng.choice(starts)
        hi = min(len(word_pos), lo + rng.randint(1, MAX_RANDOM_LEN))
        if (lo, hi) not in taken and all((lo, hi) != (c[0], c[1]) for c in out):
            out.add((lo, hi, rng.randrange(n_types)))
    return sorted(out)


def window_pair_features(doc, spans: dict, events: list, win, config, stats) -> dict:
    """The pair-head columns of one training window (see the module docstring).

    Args:
        doc: the gold document; spans: entity id -> document word span (``features.doc_word_spans``).
        events: ``document_events(doc, ...)``; the triggers kept are those of ``features._window_roles``
            (fully inside the window), in the same order.
        win: the :class:`~diplomat_ie.modeling.encoding.Window`; config: the ``DiplomatConfig``.
        stats: a ``FeatureStats`` (counts what the pairs cannot express).

    Returns:
        ``{"cand_spans": [C][2], "cand_types": [C], "pair_labels": [T][C]}``.
    """
    types = list(config.entity_types)
    key_of: dict[tuple[int, int, str], int] = {}
    cands: list[Candidate] = []
    for e in doc.entities:
        span = spans.get(e.id)
        if span is None or span[0] < win.lo or span[1] > win.hi:
            continue
        key = (span[0] - win.lo, span[1] - win.lo, e.type)
        if key not in key_of:
            key_of[key] = len(cands)
            cands.append((key[0], key[1], type_id(types, e.type)))
    taken = {(c[0], c[1]) for c in cands}
    cands += random_negatives(taken, win.word_pos, len(types), f"{doc.id}:{win.lo}")
    role_ids = {r: i for i, r in enumerate(config.pair_labels)}
    labels = []
    for ev in events:
        t = spans.get(ev.trigger.id)
        if t is None or not (t[0] >= win.lo and t[1] <= win.hi):
            continue
        t_lo, t_hi = t[0] - win.lo, t[1] - win.lo
        row = [IGNORE if (lo, hi) == (t_lo, t_hi) else 0 for lo, hi, _ in cands]
        for a in ev.arguments:
            span = spans.get(a.entity.id)
            j = None if span is None else key_of.get((span[0] - win.lo, span[1] - win.lo, a.entity.type))
            if j is None:
                stats.counts["pair_argument_not_candidate"] += 1
            elif row[j] > 0:
                stats.counts["pair_argument_second_role_dropped"] += 1
            elif row[j] == 0:
                row[j] = role_ids[a.role]
        labels.append(row)
    stats.counts["pair_candidates"] += len(cands)
    return {"cand_spans": [[lo, hi] for lo, hi, _ in cands], "cand_types": [c[2] for c in cands],
            "pair_labels": labels}


def collate_pairs(batch: list[dict], n_triggers: int) -> dict[str, torch.Tensor]:
    """Pad the pair columns: ``cand_spans [B, C, 2]`` (padding ``(0, 0)``), ``cand_types [B, C]``,
    ``pair_labels [B, T, C]`` (padding ignored)."""
    b = len(batch)
    nc = max(len(f["cand_spans"]) for f in batch)
    spans = torch.zeros((b, nc, 2), dtype=torch.long)
    types = torch.zeros((b, nc), dtype=torch.long)
    labels = torch.full((b, n_triggers, nc), IGNORE, dtype=torch.long)
    for i, f in enumerate(batch):
        if f["cand_spans"]:
            spans[i, : len(f["cand_spans"])] = torch.tensor(f["cand_spans"])
            types[i, : len(f["cand_types"])] = torch.tensor(f["cand_types"])
        for j, row in enumerate(f.get("pair_labels") or []):
            labels[i, j, : len(row)] = torch.tensor(row, dtype=torch.long)
    return {"cand_spans": spans, "cand_types": types, "pair_labels": labels}


def predicted_candidates(layer_tags: list[list[str]], entity_types: Sequence[str]) -> list[Candidate]:
    """The entities of a window's predicted BIO layers (any layer, any type) as candidates, sorted."""
    found = {(lo, hi, type_id(entity_types, typ)) for tags in layer_tags for lo, hi, typ in bio_to_spans(tags)}
    return sorted(found)


def pad_candidates(cand_batch: list[list[Candidate]]) -> tuple[torch.Tensor, torch.Tensor]:
    """``cand_spans [B, C, 2]`` and ``cand_types [B, C]`` of per-window candidate lists (C >= 1)."""
    nc = max(1, max((len(c) for c in cand_batch), default=0))
    spans = torch.zeros((len(cand_batch), nc, 2), dtype=torch.long)
    types = torch.zeros((len(cand_batch), nc), dtype=torch.long)
    for i, cands in enumerate(cand_batch):
        if cands:
            spans[i, : len(cands)] = torch.tensor([c[:2] for c in cands])
            types[i, : len(cands)] = torch.tensor([c[2] for c in cands])
    return spans, types


def decode_pairs(logits: torch.Tensor, trig_batch: list[list[tuple[int, int]]], cand_batch: list[list[Candidate]],
                 none_bias: float | None = None, single: Collection[int] = (),
                 none_shift: torch.Tensor | None = None) -> list[list[list[tuple[int, int, int, float]]]]:
    """Arguments from pair logits ``[B, T, C, L]``: per window and trigger, ``(lo, hi, label id, prob)``.

    A candidate becomes an argument when its best class is not ``none`` (id 0); the trigger's own span
    is never one. Candidates sharing a span (two types) give one argument, the most probable.
    ``none_bias`` lowers the ``none`` logit (more arguments, less precision). ``single`` (label ids,
    ``roles.single_roles``): each of these roles goes to at most one candidate per trigger, the most
    probable; the others take their next most probable role that is free and still beats ``none``.
    ``none_shift`` ``[B, T, C]`` is added to each pair's ``none`` logit (``roles.cross_sentence_bias``).
    """
    if none_bias or none_shift is not None:
        logits = logits.clone()
        logits[..., 0] -= none_bias or 0.0
        if none_shift is not None:
            logits[..., 0] += none_shift.to(logits.dtype)
    if single:
        return _decode_pairs_single(logits.float().softmax(-1), trig_batch, cand_batch, frozenset(single))
    top_p, top_id = logits.float().softmax(-1).max(-1)
    ids, probs = top_id.tolist(), top_p.tolist()
    out = []
    for j, (trigs, cands) in enumerate(zip(trig_batch, cand_batch, strict=True)):
        rows = []
        for t, (t_lo, t_hi) in enumerate(trigs):
            best: dict[tuple[int, int], tuple[int, float]] = {}
            for c, (lo, hi, _) in enumerate(cands):
                label, p = ids[j][t][c], probs[j][t][c]
                if label != 0 and (lo, hi) != (t_lo, t_hi) and ((lo, hi) not in best or best[(lo, hi)][1] < p):
                    best[(lo, hi)] = (label, p)
            rows.append([(lo, hi, label, p) for (lo, hi), (label, p) in sorted(best.items())])
        out.append(rows)
    return out


def _decode_pairs_single(probs: torch.Tensor, trig_batch: list[list[tuple[int, int]]],
                         cand_batch: list[list[Candidate]], single: frozenset[int]) -> list[list[list[tuple]]]:
    """:func:`decode_pairs` with single roles: per trigger, (candidate, role) pairs that beat ``none``
    are taken greedily, most probable first; a span takes one role, a single role one span."""
    out = []
    for j, (trigs, cands) in enumerate(zip(trig_batch, cand_batch, strict=True)):
        rows = []
        for t, (t_lo, t_hi) in enumerate(trigs):
            table = probs[j, t, : len(cands)].tolist()
            pairs = sorted((-p, c, k) for c, row in enumerate(table) for k, p in enumerate(row)
                           if k != 0 and p > row[0] and cands[c][:2] != (t_lo, t_hi))
            taken: dict[tuple[int, int], tuple[int, float]] = {}
            used: set[int] = set()
            for neg_p, c, k in pairs:
                span = (cands[c][0], cands[c][1])
                if span in taken or k in used:
                    continue
                taken[span] = (k, -neg_p)
                if k in single:
                    used.add(k)
            rows.append([(lo, hi, k, p) for (lo, hi), (k, p) in sorted(taken.items())])
        out.append(rows)
    return out


def window_predictions(ner_out: dict[str, torch.Tensor], word_pos: torch.Tensor, config) -> list[list[Candidate]]:
    """Each training window's entities as the NER head predicts them now (argmax; no gradient).

    Args:
        ner_out: the model's ``ner_logits`` ``[B, K, W, L]`` (layered) or ``span_logits`` ``[B, W, mw, C]``.
        word_pos: ``[B, W]`` first-subword positions (-1: padding or no subword; such words are ``O``).
        config: the ``DiplomatConfig``.

    Returns:
        Per window, the predicted candidates ``(lo, hi, type id)``, sorted.
    """
    real = (word_pos >= 0).tolist()
    types = list(config.entity_types)
    if "span_logits" in ner_out:
        probs = ner_out["span_logits"].detach().float().softmax(-1)  # [B, W, mw, C], class 0 = none
        return [sorted({(c.lo, c.hi, c.cls - 1) for c in span_candidates(p, len(ok), ok)})
                for p, ok in zip(probs, real, strict=True)]
    labels = config.ner_labels
    ids = ner_out["ner_logits"].detach().argmax(-1).tolist()  # [B, K, W]
    return [predicted_candidates([[labels[t] if ok[w] else "O" for w, t in enumerate(layer)] for layer in win],
                                 types) for win, ok in zip(ids, real, strict=True)]


def add_predicted_negatives(pred: list[list[Candidate]], cand_spans: torch.Tensor, cand_types: torch.Tensor,
                            pair_labels: torch.Tensor, trig_spans: torch.Tensor,
                            limit: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Append up to ``limit`` predicted entities per window that are no candidate yet, as ``none`` pairs.

    A prediction on the span of an existing candidate (of any type) is left out (that span's pairs are
    labelled already); a pair of a trigger with its own span is ignored, like the gold candidates'.

    Args:
        pred: per window, :func:`window_predictions`.
        cand_spans: ``[B, C, 2]``; cand_types: ``[B, C]``; pair_labels: ``[B, T, C]`` (the batch's columns).
        trig_spans: ``[B, T, 2]`` (empty spans: padding triggers).
        limit: most predictions added per window (the first ones by position).

    Returns:
        The three columns with ``C' >= C`` candidates (padding: span ``(0, 0)``, labels ignored).
    """
    extra = []
    for i, cands in enumerate(pred):
        have = {(lo, hi) for lo, hi in cand_spans[i].tolist() if hi > lo}  # (0, 0): padding
        extra.append([c for c in cands if (c[0], c[1]) not in have][:limit])
    n_new = max((len(e) for e in extra), default=0)
    if n_new == 0:
        return cand_spans, cand_types, pair_labels
    b, t, c = pair_labels.shape
    spans = torch.cat([cand_spans, cand_spans.new_zeros((b, n_new, 2))], 1)
    types = torch.cat([cand_types, cand_types.new_zeros((b, n_new))], 1)
    labels = torch.cat([pair_labels, pair_labels.new_full((b, t, n_new), IGNORE)], 2)
    trigs = trig_spans.tolist()
    for i, cands in enumerate(extra):
        for j, (lo, hi, typ) in enumerate(cands):
            spans[i, c + j] = torch.tensor([lo, hi])
            types[i, c + j] = typ
            for k, (t_lo, t_hi) in enumerate(trigs[i]):
                if t_hi > t_lo and (t_lo, t_hi) != (lo, hi):
                    labels[i, k, c + j] = 0
    return spans, types, labels
