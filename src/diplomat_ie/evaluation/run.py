"""``run_evaluation``: score a saved model on one corpus split and write its report folder.

The folder holds ``metrics.json`` (full split, diplomatic subset, headline, timings), ``report.md``
and ``errors.jsonl`` (false positives / negatives with context). NEREL-style corpora get every score
(nested NER, per-layer seqeval, PER/ORG/LOC, event roles); factRuEval-2016 only has PER/ORG/LOC-like
gold, so there only PER/ORG/LOC over whole objects (nested included) is scored (gold via
``FACTRUEVAL_TO_COARSE``, predictions via ``NEREL_TO_FACTRUEVAL``, which adds FACILITY -> LOC to
``NEREL_TO_COARSE``; exact spans; the metrics name the mapping). A model with an extra factRuEval head
(``data.extra_corpora``) is scored there a second time with that head's own predictions (``own_head``:
gold and predictions via ``FACTRUEVAL_TO_COARSE``).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from ..data.corpora import FACTRUEVAL_TO_COARSE, NEREL_TO_FACTRUEVAL, corpus_name, load_docs
from ..data.document import Document
from ..data.factrueval import FACTRUEVAL_TYPES
from ..data.subset import is_diplomatic
from ..modeling.predict import Predictor
from ..utils import atomic_write_json, atomic_write_text
from .evaluate import (
    Predictions,
    coarse,
    entity_sets,
    gold_role_set,
    headline,
    pred_role_set,
    predict_gold_docs,
    score_predictions,
    subset_predictions,
)
from .metrics import score_sets
from .tables import evaluation_markdown

CONTEXT_CHARS = 60
SCHEMES = ("nerel", "factrueval")


def default_output(model_dir: str | os.PathLike) -> Path:
    """``reports/<model directory name>``."""
    return Path("reports") / Path(model_dir).resolve().name


def corpus_scheme(corpus: str, docs: list[Document]) -> str:
    """Which gold annotation scheme ``docs`` follow: ``"factrueval"`` or ``"nerel"``.

    Args:
        corpus: the corpus name or path the documents came from.
        docs: the documents (a path corpus whose types are all factRuEval types is factRuEval).

    Returns:
        One of :data:`SCHEMES`.
    """
    if corpus_name(corpus) == "factrueval":
        return "factrueval"
    types = {e.type for d in docs for e in d.entities}
    return "factrueval" if types and types <= set(FACTRUEVAL_TYPES) else "nerel"


def factrueval_head(config) -> str | None:
    """The model's extra NER head that tags factRuEval types, if any.

    Args:
        config: the model's ``DiplomatConfig``.

    Returns:
        The head named ``factrueval``, else the first extra head whose types are all factRuEval types;
        None without such a head.
    """
    heads = getattr(config, "extra_heads", None) or {}
    if "factrueval" in heads:
        return "factrueval"
    return next((n for n, h in heads.items() if set(h["entity_types"]) <= set(FACTRUEVAL_TYPES)), None)


def run_evaluation(model_dir, corpus: str = "nerel", split: str = "test", root=None, output=None,
                   max_docs: int | None = None, lenient: bool = False, batch_size: int = 32,
                   loaded=None, window_fn=None) -> dict:
    """Evaluate a model directory on a corpus split and write the report folder.

    Args:
        model_dir: a directory written by ``diplomat-ie train``.
        corpus: ``"nerel"``, ``"factrueval"``, or a folder of split folders / a brat folder / JSONL file.
        split: the split name.
        root: the corpora folder (default :func:`diplomat_ie.utils.data_root`).
        output: the report folder (default ``reports/<model dir name>``).
        max_docs: evaluate the first N documents only.
        lenient: skip and count malformed annotation lines.
        batch_size: windows per forward pass.
        loaded: an already loaded ``(model, tokenizer)`` (then ``model_dir`` is only a label).
        window_fn: the main head's window runner (default: the torch model's; see
            :class:`~diplomat_ie.modeling.predict.Predictor`).

    Returns:
        The dict written to ``metrics.json`` plus ``"output"`` (the folder, as a string); on factRuEval,
        with an extra factRuEval head, also ``"own_head"``: that head's scores (``head``, ``headline``,
        ``metrics``, ``diplomatic``) next to the scores mapped from the main head.
    """
    from ..modeling.io import load_model_dir

    t0 = time.time()
    model, tokenizer = loaded if loaded is not None else load_model_dir(model_dir)
    t_model = time.time()
    docs = load_docs(os.fspath(corpus), split, root=root, lenient=lenient)
    if max_docs:
        docs = docs[:max_docs]
    t_data = time.time()
    scheme = corpus_scheme(os.fspath(corpus), docs)
    preds = _predict(Predictor(model, tokenizer, batch_size=batch_size, window_fn=window_fn), docs, scheme,
                     f"{corpus}/{split}")
    t_pred = time.time()
    result = {"model": str(model_dir), "corpus": os.fspath(corpus), "split": split, "scheme": scheme,
              **_score(preds, model.config, scheme)}
    errors = collect_errors(preds, model.config, scheme)
    result["errors"] = _error_counts(errors)
    t_score = time.time()
    own_s = _own_head(result, model, tokenizer, docs, batch_size, f"{corpus}/{split}")
    result["timings"] = {"load_model_s": round(t_model - t0, 2), "load_data_s": round(t_data - t_model, 2),
                         "predict_s": round(t_pred - t_data, 2), "score_s": round(t_score - t_pred, 2),
                         "docs_per_s": round(len(docs) / max(t_pred - t_data, 1e-9), 2),
                         "total_s": round(time.time() - t0, 2)}
    if own_s is not None:
        result["timings"]["own_head_s"] = round(own_s, 2)
    out = Path(output) if output else default_output(model_dir)
    write_evaluation(out, result, errors)
    return dict(result, output=str(out))


def _own_head(result: dict, model, tokenizer, docs: list[Document], batch_size: int, desc: str) -> float | None:
    """On factRuEval, score the model's own factRuEval head into ``result["own_head"]``; its seconds."""
    head = factrueval_head(model.config) if result["scheme"] == "factrueval" else None
    if head is None:
        return None
    t0 = time.time()
    own = _predict(Predictor(model, tokenizer, batch_size=batch_size, head=head), docs, "factrueval",
                   f"{desc} ({head} head)")
    result["own_head"] = {"head": head, **_score(own, model.config, "factrueval", FACTRUEVAL_TO_COARSE)}
    return time.time() - t0


def _predict(predictor: Predictor, docs: list[Document], scheme: str, desc: str) -> Predictions:
    from tqdm.auto import tqdm

    encs = [predictor.encode(d.text) for d in docs]
    passes = 3 if scheme == "nerel" and predictor.model.role_head is not None else 1
    total = passes * sum(len(e.windows) for e in encs)
    with tqdm(total=total, desc=f"evaluating {desc}", unit="win", mininterval=2.0) as bar:
        return predict_gold_docs(predictor, docs, progress=bar, encoded=encs, gold_triggers=scheme == "nerel")


def coarse_scores(docs: list[Document], preds, gold_mapping: dict[str, str] = FACTRUEVAL_TO_COARSE,
                  pred_mapping: dict[str, str] = NEREL_TO_FACTRUEVAL) -> dict:
    """PER/ORG/LOC scores (all mapped spans, nested included) against differently typed gold.

    Args:
        docs: gold documents.
        preds: one ``DocPred`` per document.
        gold_mapping, pred_mapping: fine -> coarse type maps for gold and predictions.

    Returns:
        ``{"documents": n, "per_org_loc": score_sets(...), "pred_mapping": {type: coarse type}}``.
    """
    gold = [coarse({e.key() for e in d.entities}, gold_mapping, keep_nested=True) for d in docs]
    pred = [coarse(entity_sets(p), pred_mapping, keep_nested=True) for p in preds]
    return {"documents": len(docs), "per_org_loc": score_sets(gold, pred), "pred_mapping": dict(pred_mapping)}


def coarse_headline(metrics: dict) -> dict[str, float]:
    """Headline numbers of :func:`coarse_scores`."""
    return {"per_org_loc_f1": metrics["per_org_loc"]["micro"]["f1"],
            "per_org_loc_macro_f1": metrics["per_org_loc"]["macro"]["f1"]}


def _score(p: Predictions, config, scheme: str, pred_mapping: dict[str, str] = NEREL_TO_FACTRUEVAL) -> dict:
    keep = [is_diplomatic(d) for d in p.docs]
    sub = subset_predictions(p, keep)
    if scheme == "factrueval":
        full = coarse_scores(p.docs, p.e2e, pred_mapping=pred_mapping)
        dip = coarse_scores(sub.docs, sub.e2e, pred_mapping=pred_mapping)
        head, dip_head = coarse_headline(full), coarse_headline(dip)
    else:
        full = score_predictions(p, config)
        dip = score_predictions(sub, config, with_layers=False)
        head, dip_head = headline(full), headline(dip)
    return {"documents": len(p.docs), "windows": sum(len(x.enc.windows) for x in p.e2e), "headline": head,
            "metrics": full, "diplomatic": {"documents": len(sub.docs), "headline": dip_head, "metrics": dip}}


# ---------------------------------------------------------------- errors


def _context(text: str, start: int, end: int) -> dict:
    return {"left": text[max(0, start - CONTEXT_CHARS) : start], "right": text[end : end + CONTEXT_CHARS]}


def _diagnose(item: tuple, others: set[tuple], missed: bool) -> str:
    """``wrong_type`` (same span, other type), ``boundary`` (overlapping, same type), or plain."""
    a, b, t = item
    if any((a2, b2) == (a, b) for a2, b2, _ in others):
        return "wrong_type"
    if any(t2 == t and a2 < b and a < b2 for a2, b2, t2 in others):
        return "boundary"
    return "missed" if missed else "spurious"


def _entity_errors(doc: Document, gold: set, pred: set) -> list[dict]:
    out = []
    for error, items, others in (("fp", pred - gold, gold), ("fn", gold - pred, pred)):
        for a, b, t in sorted(items):
            out.append({"doc": doc.id, "kind": "entity", "error": error, "type": t, "start": a, "end": b,
                        "text": doc.text[a:b], "why": _diagnose((a, b, t), others, error == "fn"),
                        **_context(doc.text, a, b)})
    return out


def _role_errors(doc: Document, gold: set, pred: set, setting: str) -> list[dict]:
    out = []
    for error, items in (("fp", pred - gold), ("fn", gold - pred)):
        for ts, te, role, a, b in sorted(items):
            out.append({"doc": doc.id, "kind": "role", "setting": setting, "error": error, "type": role,
                        "trigger": {"start": ts, "end": te, "text": doc.text[ts:te]},
                        "start": a, "end": b, "text": doc.text[a:b], **_context(doc.text, a, b)})
    return out


def collect_errors(p: Predictions, config, scheme: str = "nerel") -> list[dict]:
    """False positives and negatives of entities and role arguments, with context.

    Args:
        p: predictions on gold documents.
        config: the model's ``DiplomatConfig`` (for the trigger types).
        scheme: ``"nerel"`` (nested entities + roles) or ``"factrueval"`` (PER/ORG/LOC, whole objects).

    Returns:
        One dict per error: ``doc``, ``kind`` (entity/role), ``error`` (fp/fn), ``type``, ``start``,
        ``end``, ``text``, ``left``/``right`` context; entities add ``why``, roles ``setting``/``trigger``.
    """
    out: list[dict] = []
    for i, doc in enumerate(p.docs):
        gold = {e.key() for e in doc.entities}
        pred = entity_sets(p.e2e[i])
        if scheme == "factrueval":
            gold = coarse(gold, FACTRUEVAL_TO_COARSE, keep_nested=True)
            pred = coarse(pred, NEREL_TO_FACTRUEVAL, keep_nested=True)
        out += _entity_errors(doc, gold, pred)
        if scheme != "nerel" or p.gold_trig is None:
            continue
        gold_roles = gold_role_set(doc, config.trigger_types)
        out += _role_errors(doc, gold_roles, pred_role_set(p.gold_trig[i]), "gold_triggers")
        out += _role_errors(doc, gold_roles, pred_role_set(p.e2e[i]), "end_to_end")
        if p.gold_ent is not None:
            out += _role_errors(doc, gold_roles, pred_role_set(p.gold_ent[i]), "gold_entities")
    return out


def _error_counts(errors: list[dict]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for e in errors:
        key = "_".join(x for x in (e["kind"], e.get("setting"), e["error"], e.get("why")) if x)
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items()))


def write_evaluation(out: Path, result: dict, errors: list[dict]) -> None:
    """Write ``metrics.json``, ``report.md`` and ``errors.jsonl`` into ``out`` (atomically each).

    Args:
        out: the report folder (created).
        result: the evaluation dict of :func:`run_evaluation`.
        errors: the records of :func:`collect_errors`.
    """
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "metrics.json", result)
    atomic_write_text(out / "errors.jsonl", "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in errors))
    atomic_write_text(out / "report.md", evaluation_markdown(result))


def write_ablation(out: Path, payload: dict, markdown: str) -> str:
    """Write an ablation table as ``<out>.json`` (``payload``) and ``<out>.md`` (``markdown``), atomically.

    Args:
        out: the output path without extension.
        payload: the JSON document (its rows and what they were measured on).
        markdown: the same rows as Markdown.

    Returns:
        ``markdown``, for the caller to print.
    """
    # appended, not with_suffix: a dotted name (``ema-0.997-test``) would lose its tail
    atomic_write_text(out.with_name(out.name + ".json"), json.dumps(payload, indent=2) + "\n")
    atomic_write_text(out.with_name(out.name + ".md"), markdown)
    return markdown
