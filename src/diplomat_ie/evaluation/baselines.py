"""Baselines scored with diplomat-ie's own scorer: Natasha's PER/ORG/LOC NER (optional dependency).

Natasha (``pip install natasha``) runs offline: its NewsEmbedding and NewsNERTagger ship inside the
wheels. Its flat PER/ORG/LOC spans are scored exactly like the model's PER/ORG/LOC: outermost coarse
spans (:func:`diplomat_ie.evaluation.evaluate.coarse`), exact boundaries, ``metrics.score_sets``.
"""

from __future__ import annotations

import importlib.util
import time
from functools import lru_cache

from ..data.corpora import FACTRUEVAL_TO_COARSE
from ..data.document import Document
from .evaluate import coarse
from .metrics import score_sets

NATASHA_TYPES = {"PER": "PER", "ORG": "ORG", "LOC": "LOC"}


def natasha_available() -> bool:
    """Whether the ``natasha`` package can be imported."""
    return importlib.util.find_spec("natasha") is not None


def natasha_version() -> str | None:
    """The installed natasha version, or None."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("natasha")
    except PackageNotFoundError:
        return None


@lru_cache(maxsize=1)
def _natasha():
    from natasha import Doc, NewsEmbedding, NewsNERTagger, Segmenter

    return Segmenter(), NewsNERTagger(NewsEmbedding()), Doc


def natasha_spans(text: str) -> set[tuple[int, int, str]]:
    """Natasha's named entities in ``text``.

    Args:
        text: a Russian text.

    Returns:
        ``{(start, end, type)}`` with types PER, ORG, LOC and offsets into ``text``.
    """
    segmenter, tagger, doc_cls = _natasha()
    doc = doc_cls(text)
    doc.segment(segmenter)
    doc.tag_ner(tagger)
    return {(s.start, s.stop, s.type) for s in doc.spans}


def natasha_scores(docs: list[Document], gold_mapping: dict[str, str]) -> dict | None:
    """Score Natasha's PER/ORG/LOC on gold documents with the model's PER/ORG/LOC scorer.

    Args:
        docs: gold documents (NEREL or factRuEval types).
        gold_mapping: gold type -> PER/ORG/LOC (``NEREL_TO_COARSE`` or ``FACTRUEVAL_TO_COARSE``).

    Returns:
        ``{"system", "version", "documents", "per_org_loc": score_sets(...), "f1", "seconds"}``, or
        None when natasha is not installed.
    """
    if not natasha_available():
        return None
    try:
        _natasha()
    except ImportError:
        return None
    t0 = time.time()
    nested = gold_mapping is FACTRUEVAL_TO_COARSE  # factRuEval: whole objects, nested included
    gold = [coarse({e.key() for e in d.entities}, gold_mapping, keep_nested=nested) for d in docs]
    pred = [coarse(natasha_spans(d.text), NATASHA_TYPES, keep_nested=nested) for d in docs]
    scores = score_sets(gold, pred)
    return {"system": "natasha", "version": natasha_version(), "documents": len(docs),
            "per_org_loc": scores, "f1": scores["micro"]["f1"], "seconds": round(time.time() - t0, 2)}
