"""Scoring a model on gold documents: nested NER, per-layer seqeval, PER/ORG/LOC, event roles."""

from __future__ import annotations

from dataclasses import dataclass

from ..data.corpora import NEREL_TO_COARSE
from ..data.document import Document
from ..data.labels import assign_layers, spans_to_bio
from ..data.roles import document_events
from ..modeling.encoding import EncodedDoc
from ..modeling.features import doc_word_spans
from ..modeling.predict import Predictor
from ..modeling.predictions import DocPred
from ..modeling.runners import MemoWindowRunner
from .metrics import score_sets


@dataclass
class Predictions:
    """Predictions for a list of gold documents in both role settings."""

    docs: list[Document]
    e2e: list[DocPred]  # entities + events from predicted triggers
    gold_trig: list[DocPred] | None  # events from gold triggers (None without a role head)
    gold_ent: list[DocPred] | None = None  # events from gold triggers with gold argument candidates


def predict_gold_docs(predictor: Predictor, docs: list[Document], progress=None,
                      encoded: list[EncodedDoc] | None = None, gold_triggers: bool = True,
                      gold_entities: bool = True) -> Predictions:
    """Run the predictor end to end, and (with a role head) again with gold triggers.

    The gold-entity pass (gold triggers and the gold entities as argument candidates: classified by
    the pair head, the targets of the BIO head's snapping) runs with ``gold_triggers`` and ``gold_entities``.

    Args:
        predictor: the model wrapper.
        docs: gold documents.
        progress: optional tqdm-like object; ``update(n)`` is called per batch of windows in both passes.
        encoded: ``predictor.encode`` of each document, if already computed.
        gold_triggers: run the gold-trigger pass (skip it for corpora without event annotation).
        gold_entities: also run the gold-entity pass.

    Returns:
        :class:`Predictions` (``gold_trig`` is None without a role head or with ``gold_triggers=False``,
        ``gold_ent`` also with ``gold_entities=False``).
    """
    encs = encoded if encoded is not None else [predictor.encode(d.text) for d in docs]
    texts = [d.text for d in docs]
    if predictor.model.role_head is None or not gold_triggers or predictor.head is not None:
        return Predictions(docs=docs, e2e=predictor.predict(texts, encoded=encs, progress=progress), gold_trig=None)
    runner = predictor.window_fn
    if not isinstance(runner, MemoWindowRunner):  # the gold passes read the same windows: one encoder pass
        predictor.window_fn = MemoWindowRunner(runner)
    try:
        e2e = predictor.predict(texts, encoded=encs, progress=progress)
        types = tuple(predictor.model.config.trigger_types)
        triggers = [[(e.start, e.end, e.type) for e in d.entities if e.type in types] for d in docs]
        gold_trig = predictor.predict(texts, gold_triggers=triggers, encoded=encs, progress=progress)
        gold_ent = None
        if gold_entities:
            ents = [[e.key() for e in d.entities] for d in docs]
            gold_ent = predictor.predict(texts, gold_triggers=triggers, encoded=encs, progress=progress,
                                         gold_entities=ents)
    finally:
        predictor.window_fn = runner
    return Predictions(docs=docs, e2e=e2e, gold_trig=gold_trig, gold_ent=gold_ent)


def entity_sets(pred: DocPred) -> set[tuple[int, int, str]]:
    return {(*pred.char_span(s), s.type) for s in pred.entities}


def outermost(items: set[tuple[int, int, str]]) -> set[tuple[int, int, str]]:
    """Items not strictly inside another item's span (any type).

    Args:
        items: ``(start, end, type)`` spans.

    Returns:
        The items whose span no other, different span contains (same-span items of several types
        are all kept; partially overlapping spans are both kept).
    """
    spans = {(a, b) for a, b, _ in items}
    return {(a, b, t) for a, b, t in items
            if not any(a2 <= a and b <= b2 and (a2, b2) != (a, b) for a2, b2 in spans)}


def coarse(items: set[tuple[int, int, str]], mapping=NEREL_TO_COARSE,
           keep_nested: bool = False) -> set[tuple[int, int, str]]:
    """Outermost coarse spans: map the types, drop unmapped items, then keep the outermost.

    With ``keep_nested`` every mapped span is kept (factRuEval scores whole objects, nested included,
    e.g. LocOrg «Москвы» inside Org «Москвы мэрии»).

    Unmapped types never hide a mapped span: COUNTRY "России" inside PROFESSION "президент России" is a
    LOC, while COUNTRY "Москвы" inside ORGANIZATION "Правительство Москвы" is dropped (an ORG holds it).

    Args:
        items: ``(start, end, type)`` spans.
        mapping: fine type -> coarse type, e.g. NEREL's PERSON -> PER.

    Returns:
        ``{(start, end, coarse_type)}``, the :func:`outermost` of the mapped items.
    """
    mapped = {(a, b, mapping[t]) for a, b, t in items if t in mapping}
    return mapped if keep_nested else outermost(mapped)


def gold_role_set(doc: Document, trigger_types) -> set[tuple]:
    return {(ev.trigger.start, ev.trigger.end, a.role, a.entity.start, a.entity.end)
            for ev in document_events(doc, tuple(trigger_types)) for a in ev.arguments}


def pred_role_set(pred: DocPred, trigger_types=None) -> set[tuple]:
    out = set()
    for ev in pred.events:
        if trigger_types is not None and ev.trigger.type not in trigger_types:
            continue
        ts, te = pred.char_span(ev.trigger)
        for a in ev.arguments:
            out.add((ts, te, a.type, *pred.char_span(a)))
    return out


def layer_report(docs: list[Document], preds: list[DocPred], config) -> dict:
    """seqeval classification report per nesting layer (word-level BIO)."""
    from seqeval.metrics import classification_report

    gold_layers: list[list[list[str]]] = [[] for _ in range(config.num_layers)]
    pred_layers: list[list[list[str]]] = [[] for _ in range(config.num_layers)]
    types = set(config.entity_types)
    for doc, pred in zip(docs, preds, strict=True):
        spans = doc_word_spans(doc, pred.enc)
        typed = [(*spans[e.id], e.type) for e in doc.entities if e.id in spans and e.type in types]
        layers = assign_layers(typed, max_layers=config.num_layers)
        n = len(pred.enc.words)
        for k in range(config.num_layers):
            gold_layers[k].append(spans_to_bio(layers[k] if k < len(layers) else [], n))
            pred_layers[k].append(pred.layer_tags[k] if pred.layer_tags else ["O"] * n)
    out = {}
    for k in range(config.num_layers):
        rep = classification_report(gold_layers[k], pred_layers[k], output_dict=True, zero_division=0)
        out[f"layer_{k}"] = {t: {m: float(v) for m, v in d.items()} for t, d in rep.items()}
    return out


def score_predictions(p: Predictions, config, with_layers: bool = True) -> dict:
    """All metrics for one set of predictions (see module docstring)."""
    gold_ents = [{e.key() for e in d.entities} for d in p.docs]
    pred_ents = [entity_sets(x) for x in p.e2e]
    out = {"documents": len(p.docs), "nested": score_sets(gold_ents, pred_ents),
           "per_org_loc": score_sets([coarse(g) for g in gold_ents], [coarse(x) for x in pred_ents]),
           # the nested entities alone: gold inside a gold entity, predicted inside a predicted one
           "inner": score_sets([g - outermost(g) for g in gold_ents], [x - outermost(x) for x in pred_ents])}
    if with_layers:
        out["layers"] = layer_report(p.docs, p.e2e, config)
    if p.gold_trig is not None:
        type_of = lambda item: item[2]  # noqa: E731
        gold_roles = [gold_role_set(d, config.trigger_types) for d in p.docs]
        out["roles_gold_triggers"] = score_sets(gold_roles, [pred_role_set(x) for x in p.gold_trig], type_of)
        out["roles_end_to_end"] = score_sets(gold_roles, [pred_role_set(x) for x in p.e2e], type_of)
        if p.gold_ent is not None:
            out["roles_gold_entities"] = score_sets(gold_roles, [pred_role_set(x) for x in p.gold_ent], type_of)
        if len(config.trigger_types) > 1:  # each trigger type alone, to compare with single-type models
            out["roles_by_trigger_type"] = {}
            for t in config.trigger_types:
                gold_t = [gold_role_set(d, (t,)) for d in p.docs]
                by_type = {
                    "gold_triggers": score_sets(gold_t, [pred_role_set(x, (t,)) for x in p.gold_trig], type_of),
                    "end_to_end": score_sets(gold_t, [pred_role_set(x, (t,)) for x in p.e2e], type_of)}
                if p.gold_ent is not None:
                    by_type["gold_entities"] = score_sets(gold_t, [pred_role_set(x, (t,)) for x in p.gold_ent],
                                                          type_of)
                out["roles_by_trigger_type"][t] = by_type
    return out


def subset_predictions(p: Predictions, keep: list[bool]) -> Predictions:
    pick = lambda xs: [x for x, k in zip(xs, keep, strict=True) if k]  # noqa: E731
    return Predictions(docs=pick(p.docs), e2e=pick(p.e2e),
                       gold_trig=pick(p.gold_trig) if p.gold_trig is not None else None,
                       gold_ent=pick(p.gold_ent) if p.gold_ent is not None else None)


def headline(metrics: dict) -> dict[str, float]:
    """The few numbers worth printing: nested micro/macro F1, PER/ORG/LOC, EVENT, inner entities, role F1s."""
    out = {"nested_f1": metrics["nested"]["micro"]["f1"], "nested_macro_f1": metrics["nested"]["macro"]["f1"],
           "per_org_loc_f1": metrics["per_org_loc"]["micro"]["f1"]}
    if "EVENT" in metrics["nested"]["per_type"]:
        out["event_f1"] = metrics["nested"]["per_type"]["EVENT"]["f1"]
    if "inner" in metrics:
        out["inner_f1"] = metrics["inner"]["micro"]["f1"]
    if "roles_gold_triggers" in metrics:
        out["roles_gold_f1"] = metrics["roles_gold_triggers"]["micro"]["f1"]
        out["roles_e2e_f1"] = metrics["roles_end_to_end"]["micro"]["f1"]
    if "roles_gold_entities" in metrics:
        out["roles_gold_ent_f1"] = metrics["roles_gold_entities"]["micro"]["f1"]
    return out


def dev_scores(model, tokenizer, dev_docs: list[Document], batch_size: int) -> dict[str, float]:
    """Headline scores on gold documents: the dev scorer of training (``training.trainer.DevScorer``).

    Args:
        model, tokenizer: the model being trained.
        dev_docs: gold documents.
        batch_size: windows per forward pass.

    Returns:
        :func:`headline` of the scores (``nested_f1`` ...), per-layer seqeval and the gold-entity pass
        left out for speed.
    """
    preds = predict_gold_docs(Predictor(model, tokenizer, batch_size=batch_size), dev_docs, gold_entities=False)
    return headline(score_predictions(preds, model.config, with_layers=False))
