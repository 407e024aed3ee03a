"""Gold labels for training windows: K nested BIO layers (or the span head's span classes) and
per-trigger role BIO sequences."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import torch

from ..data.document import Document
from ..data.labels import assign_layers, char_to_word_span
from ..data.roles import document_events
from .encoding import EncodedDoc, Window
from .pair_features import collate_pairs, window_pair_features
from .sentences import sentence_tensor, window_sentence_ids
from .spans import span_label_grid

IGNORE = -100
SENTENCE_COLUMN = "word_sentence"  # roles.pair_sentence models' windows: each word's sentence id


@dataclass
class FeatureStats:
    """What labelling had to drop or ignore, for the training log and the report."""

    counts: Counter

    def __init__(self) -> None:
        self.counts = Counter()


def doc_word_spans(doc: Document, enc: EncodedDoc, stats: FeatureStats | None = None):
    """Map entity ids to word spans ``(lo, hi)``; entities not covering any word are dropped."""
    starts = [w.start for w in enc.words]
    ends = [w.end for w in enc.words]
    out = {}
    for e in doc.entities:
        span = char_to_word_span(e.start, e.end, starts, ends)
        if span is None:
            if stats:
                stats.counts["entity_without_words"] += 1
            continue
        if stats and (starts[span[0]] != e.start or ends[span[1] - 1] != e.end):
            stats.counts["entity_not_on_word_boundary"] += 1
        out[e.id] = span
    return out


def _label_span(row: list[int], lo: int, hi: int, w_lo: int, w_hi: int, b_id: int) -> None:
    """Write B/I ids for word span [lo, hi) into a window row [w_lo, w_hi); partial spans -> IGNORE."""
    if lo >= w_lo and hi <= w_hi:
        row[lo - w_lo] = b_id
        for i in range(lo + 1, hi):
            row[i - w_lo] = b_id + 1
    else:
        for i in range(max(lo, w_lo), min(hi, w_hi)):
            row[i - w_lo] = IGNORE


def window_word_feats(enc: EncodedDoc, featurize: Callable[[list[str]], list[list[int]]]) -> list[list[list[int]]]:
    """``word_feats`` rows of every window of ``enc`` (``featurize``: words -> rows, one document at once)."""
    rows = featurize([w.text for w in enc.words])
    return [rows[win.lo : win.hi] for win in enc.windows]


def window_features(doc: Document, enc: EncodedDoc, config, stats: FeatureStats | None = None,
                    featurize: Callable[[list[str]], list[list[int]]] | None = None) -> list[dict]:
    """Training examples (one per window) for ``doc`` encoded as ``enc``.

    Args:
        doc: the gold document; enc: its encoding; config: a :class:`DiplomatConfig`.
        featurize: the model's word features (words -> rows, e.g. a
            :class:`~.word_features.WordFeaturizer`); None for a model without them.

    Returns:
        Dicts with ``input_ids``, ``word_pos``, ``ner_labels`` ``[K][W]`` (span head: ``[]``),
        ``span_labels`` ``[W][max_span_width]`` (span head, :func:`~.spans.span_label_grid`; layered: ``[]``),
        ``trig_spans`` ``[T][2]``, ``role_labels`` ``[T][W]`` (window-relative word indices); with
        ``role_head == "pair"`` also ``cand_spans``, ``cand_types`` and ``pair_labels``
        (:func:`.pair_features.window_pair_features`) and, with ``roles.pair_sentence``, ``word_sentence``
        ``[W]`` (each word's sentence index in the document); with ``featurize`` ``word_feats`` ``[W][C]``.
    """
    stats = stats or FeatureStats()
    spans = doc_word_spans(doc, enc, stats)
    ner_ids = {lab: i for i, lab in enumerate(config.ner_labels)}
    typed = [(lo, hi, e.type) for e in doc.entities if e.id in spans and f"B-{e.type}" in ner_ids
             for lo, hi in [spans[e.id]]]
    if config.is_span:
        stats.counts["entities_beyond_span_width"] += sum(hi - lo > config.max_span_width for lo, hi, _ in typed)
        layers = []
    else:
        layers = assign_layers(typed)
        stats.counts["entities_beyond_layers"] += sum(len(layer) for layer in layers[config.num_layers:])
    events = document_events(doc, tuple(config.trigger_types)) if config.roles else []
    role_ids = {lab: i for i, lab in enumerate(config.role_labels)}
    pair = bool(config.roles) and getattr(config, "role_head", "bio") == "pair"
    feats = []
    word_feats = window_word_feats(enc, featurize) if featurize is not None else None
    for wi, win in enumerate(enc.windows):
        n = win.hi - win.lo
        span_rows = _window_spans(typed, win, config, stats) if config.is_span else []
        ner = [[0] * n for _ in range(0 if config.is_span else config.num_layers)]
        for k, layer in enumerate(layers[: config.num_layers]):
            for lo, hi, typ in layer:
                if hi > win.lo and lo < win.hi:
                    _label_span(ner[k], lo, hi, win.lo, win.hi, ner_ids[f"B-{typ}"])
        trig_spans, role_rows = _window_roles(events, spans, win, role_ids, stats)
        for row in ner:
            for i, p in enumerate(win.word_pos):
                if p < 0:
                    row[i] = IGNORE
        feats.append({"input_ids": win.input_ids, "word_pos": win.word_pos, "ner_labels": ner,
                      "span_labels": span_rows, "trig_spans": trig_spans, "role_labels": role_rows})
        if pair:  # roles.head: pair adds its candidates and pair labels (pair_features.PAIR_COLUMNS)
            feats[-1].update(window_pair_features(doc, spans, events, win, config, stats))
            if getattr(config, "pair_sentence", False):
                feats[-1][SENTENCE_COLUMN] = window_sentence_ids(enc.sentences, win.lo, win.hi)
        if word_feats is not None:
            feats[-1]["word_feats"] = word_feats[wi]
    return feats


def _window_spans(typed: list[tuple[int, int, str]], win: Window, config, stats: FeatureStats) -> list[list[int]]:
    """The span head's gold grid of one window; an entity cut by the window edge is left unknown."""
    cls = {t: i for i, t in enumerate(config.span_labels)}
    inside = []
    for lo, hi, typ in typed:
        if hi <= win.lo or lo >= win.hi:
            continue
        whole = lo >= win.lo and hi <= win.hi
        inside.append((max(lo, win.lo) - win.lo, min(hi, win.hi) - win.lo, cls[typ] if whole else IGNORE))
    grid, counts = span_label_grid(win.hi - win.lo, config.max_span_width, inside, [p >= 0 for p in win.word_pos])
    stats.counts["entities_same_span_other_type"] += counts.same_span
    return grid


def _window_roles(events, spans, win, role_ids, stats: FeatureStats):
    trig_spans, rows = [], []
    for ev in events:
        t = spans.get(ev.trigger.id)
        if t is None or not (t[0] >= win.lo and t[1] <= win.hi):
            continue
        row = [0] * (win.hi - win.lo)
        args = [(lo, hi, a.role) for a in ev.arguments if a.entity.id in spans
                for lo, hi in [spans[a.entity.id]]]
        layers = assign_layers(args)
        for lo, hi, role in layers[0] if layers else []:
            if hi > win.lo and lo < win.hi:
                _label_span(row, lo, hi, win.lo, win.hi, role_ids[f"B-{role}"])
                if not (lo >= win.lo and hi <= win.hi):
                    stats.counts["argument_cut_by_window"] += 1
            else:
                stats.counts["argument_outside_window"] += 1
            stats.counts["arguments"] += 1
        stats.counts["arguments_overlapping_dropped"] += sum(len(x) for x in layers[1:])
        trig_spans.append([t[0] - win.lo, t[1] - win.lo])
        rows.append(row)
    return trig_spans, rows


def subword_span(word_pos: list[int], n_sub: int, lo: int, hi: int) -> tuple[int, int]:
    """Subword positions ``[start, end)`` of window words ``[lo, hi)``; ``(0, 0)`` if they have none.

    ``word_pos`` holds each word's first subword (-1: none); a word's subwords run up to the next word's
    first subword, and the last word's up to the final special token (``n_sub - 1``).
    """
    first = next((p for p in word_pos[lo:hi] if p >= 0), None)
    if first is None:
        return 0, 0
    end = next((p for p in word_pos[hi:] if p >= 0), n_sub - 1)
    return first, max(end, first + 1)


def collate(batch: list[dict], pad_id: int, multiple_of: int | None = None) -> dict[str, torch.Tensor]:
    """Pad a list of window features into tensors (used by the Trainer and by inference).

    ``multiple_of`` rounds the subword and word lengths up to a multiple (fewer distinct shapes for
    kernels that are compiled per shape)."""
    b = len(batch)
    seq = max(len(f["input_ids"]) for f in batch)
    nw = max(max(len(f["word_pos"]) for f in batch), 1)
    if multiple_of:
        seq, nw = (-(-n // multiple_of) * multiple_of for n in (seq, nw))
    input_ids = torch.full((b, seq), pad_id, dtype=torch.long)
    attention = torch.zeros((b, seq), dtype=torch.long)
    word_pos = torch.zeros((b, nw), dtype=torch.long)
    for i, f in enumerate(batch):
        input_ids[i, : len(f["input_ids"])] = torch.tensor(f["input_ids"])
        attention[i, : len(f["input_ids"])] = 1
        word_pos[i, : len(f["word_pos"])] = torch.tensor(f["word_pos"]).clamp(min=0)
    out = {"input_ids": input_ids, "attention_mask": attention, "word_pos": word_pos}
    if "word_feats" in batch[0]:
        width = max(len(r) for f in batch for r in f["word_feats"]) if any(f["word_feats"] for f in batch) else 1
        word_feats = torch.zeros((b, nw, width), dtype=torch.long)  # padding words: row 0, masked downstream
        for i, f in enumerate(batch):
            if f["word_feats"]:
                word_feats[i, : len(f["word_feats"])] = torch.tensor(f["word_feats"])
        out["word_feats"] = word_feats
    # a window labels either the span head (span_labels) or a layered head (ner_labels; data.extra_corpora
    # windows always the latter): a batch may mix both, the other rows stay ignored
    labelled = [f["span_labels"] for f in batch if f.get("span_labels")]
    if labelled:
        width = len(labelled[0][0])
        span = torch.full((b, nw, width), IGNORE, dtype=torch.long)
        for i, f in enumerate(batch):
            if f.get("span_labels"):
                span[i, : len(f["span_labels"])] = torch.tensor(f["span_labels"])
        out["span_labels"] = span
    if any(f.get("ner_labels") for f in batch):
        k = max(len(f.get("ner_labels") or []) for f in batch)  # windows of other corpora's heads: other depths
        ner = torch.full((b, k, nw), IGNORE, dtype=torch.long)
        for i, f in enumerate(batch):
            if f["word_pos"] and f.get("ner_labels"):
                ner[i, : len(f["ner_labels"]), : len(f["word_pos"])] = torch.tensor(f["ner_labels"])
        out["ner_labels"] = ner
    if SENTENCE_COLUMN in batch[0]:  # padding words: -1 (never a candidate or a trigger)
        out[SENTENCE_COLUMN] = sentence_tensor([f[SENTENCE_COLUMN] for f in batch], nw)
    if "head" in batch[0]:  # data.extra_corpora: the NER head each window trains (0 = main)
        out["head"] = torch.tensor([int(f["head"]) for f in batch], dtype=torch.long)
    if "trig_spans" in batch[0]:
        nt = max(len(f["trig_spans"]) for f in batch)
        trig = torch.zeros((b, nt, 2), dtype=torch.long)
        sub = torch.zeros((b, nt, 2), dtype=torch.long)
        roles = torch.full((b, nt, nw), IGNORE, dtype=torch.long)
        for i, f in enumerate(batch):
            for j, span in enumerate(f["trig_spans"]):
                trig[i, j] = torch.tensor(span)
                sub[i, j] = torch.tensor(subword_span(f["word_pos"], len(f["input_ids"]), *span))
            for j, row in enumerate(f.get("role_labels") or []):
                roles[i, j, : len(row)] = torch.tensor(row)
        out["trig_spans"] = trig
        out["trig_sub"] = sub
        if "role_labels" in batch[0]:
            out["role_labels"] = roles
        if "cand_spans" in batch[0]:
            out.update(collate_pairs(batch, nt))
    return out
