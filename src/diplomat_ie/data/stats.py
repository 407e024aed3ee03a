"""Corpus statistics (``diplomat-ie data stats``): sizes, entity types, nesting depth, relations, roles."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Sequence

from .corpora import load_split, split_names
from .document import Document
from .factrueval import FactRuEvalStats
from .labels import assign_layers, char_to_word_span
from .roles import document_events
from .subset import diplomatic_subset
from .text import tokenize_document

# (key in the stats dict, row label) of the scalar rows, in display order
_SCALARS = [
    ("documents", "documents"),
    ("sentences", "sentences"),
    ("tokens", "tokens"),
    ("entities", "entities"),
    ("duplicate_entities", "duplicate entities (same start, end, type)"),
    ("discontinuous_entities", "discontinuous entities"),
    ("max_depth", "max nesting depth (layers)"),
    ("max_entity_width", "longest entity (words)"),
    ("relations", "relations"),
    ("events", "event triggers"),
    ("event_arguments", "event role arguments"),
    ("diplomatic_documents", "diplomatic-subset documents"),
]
# (key of a histogram, section title) in display order
_SECTIONS = [
    ("entity_types", "Entities per type"),
    ("doc_depth", "Documents by nesting depth (number of layers)"),
    ("entity_layers", "Entities per layer (0 = outermost)"),
    ("span_width_coverage", "Entities no longer than w words, % (for the span head's model.max_span_width)"),
    ("relation_types", "Relations per type"),
    ("event_roles", "Event role arguments per role"),
]
_NUMERIC_KEYS = ("doc_depth", "entity_layers", "span_width_coverage")  # histograms shown in key order


def entity_layers(doc: Document) -> list[list[tuple[int, int, str]]]:
    """The nesting layers of a document's entities: :func:`assign_layers` on char ``(start, end, type)``.

    Args:
        doc: the document; discontinuous entities count with their full extent.

    Returns:
        One list of unique ``(start, end, type)`` spans per layer, outermost first.
    """
    return assign_layers([e.key() for e in doc.entities])


# the widths w (words) shown in the span-width coverage table
COVERAGE_WIDTHS = (1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 20, 24, 32)


def entity_widths(doc: Document, words=None) -> list[int]:
    """Width in words (the model's words, :func:`tokenize_document`) of each entity that covers a word.

    Args:
        doc: the document; discontinuous entities count with their full extent.
        words: its tokens, if already computed.

    Returns:
        One width per entity, in document order (entities covering no word are left out).
    """
    if words is None:
        words, _ = tokenize_document(doc.text)
    starts = [w.start for w in words]
    ends = [w.end for w in words]
    out = []
    for e in doc.entities:
        span = char_to_word_span(e.start, e.end, starts, ends)
        if span is not None:
            out.append(span[1] - span[0])
    return out


def span_width_coverage(widths: Counter, at: Sequence[int] = COVERAGE_WIDTHS) -> dict[int, float]:
    """Share (%) of entities no longer than ``w`` words, for each ``w`` in ``at``.

    Args:
        widths: entity width (words) -> count.
        at: the widths to report.

    Returns:
        ``{w: percent}`` rounded to 0.01; empty when there are no entities.
    """
    total = sum(widths.values())
    if not total:
        return {}
    return {w: round(100 * sum(n for k, n in widths.items() if k <= w) / total, 2) for w in at}


def _count_doc(doc: Document, acc: dict) -> None:
    words, sentences = tokenize_document(doc.text)
    acc["entity_widths"].update(entity_widths(doc, words))
    acc["sentences"] += len(sentences)
    acc["tokens"] += len(words)
    acc["entities"] += len(doc.entities)
    acc["duplicate_entities"] += len(doc.entities) - len({e.key() for e in doc.entities})
    acc["discontinuous_entities"] += sum(e.is_discontinuous for e in doc.entities)
    acc["entity_types"].update(e.type for e in doc.entities)
    layers = entity_layers(doc)
    acc["doc_depth"][len(layers)] += 1
    for i, layer in enumerate(layers):
        acc["entity_layers"][i] += len(layer)
    acc["relations"] += len(doc.relations)
    acc["relation_types"].update(r.type for r in doc.relations)
    for ev in document_events(doc):
        acc["events"] += 1
        acc["event_arguments"] += len(ev.arguments)
        acc["event_roles"].update(a.role for a in ev.arguments)


def corpus_stats(docs: Sequence[Document]) -> dict:
    """Statistics of a list of documents.

    Args:
        docs: the documents (one split).

    Returns:
        A dict with the scalar counts ``documents``, ``sentences``, ``tokens`` (``tokenize_document``),
        ``entities``, ``duplicate_entities``, ``discontinuous_entities``, ``max_depth``, ``relations``,
        ``events``, ``event_arguments``, ``diplomatic_documents``, ``max_entity_width`` (words), and the
        histograms (plain dicts, sorted) ``entity_types``, ``doc_depth`` (documents by number of layers),
        ``entity_layers`` (unique entity spans per layer index), ``span_width_coverage`` (% of entities
        no longer than ``w`` words, :data:`COVERAGE_WIDTHS`), ``relation_types`` and ``event_roles``.
    """
    acc: dict = {key: 0 for key, _ in _SCALARS}
    acc.update({key: Counter() for key, _ in _SECTIONS})
    acc["entity_widths"] = Counter()
    for doc in docs:
        _count_doc(doc, acc)
    widths = acc.pop("entity_widths")
    acc["max_entity_width"] = max(widths, default=0)
    acc["span_width_coverage"] = span_width_coverage(widths)
    acc["documents"] = len(docs)
    acc["max_depth"] = max(acc["doc_depth"], default=0)
    acc["diplomatic_documents"] = len(diplomatic_subset(docs))
    for key in ("entity_types", "relation_types", "event_roles"):
        acc[key] = dict(sorted(acc[key].items(), key=lambda kv: (-kv[1], kv[0])))
    for key in ("doc_depth", "entity_layers"):
        acc[key] = dict(sorted(acc[key].items()))
    return acc


def _table(title: str, rows: list[tuple[str, list]], columns: Sequence[str]) -> list[str]:
    head = [title] + list(columns)
    body = [[label] + [("" if v is None else str(v)) for v in values] for label, values in rows]
    widths = [max(len(r[i]) for r in [head] + body) for i in range(len(head))]

    def fmt(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) if i == 0 else c.rjust(w)
                                 for i, (c, w) in enumerate(zip(cells, widths, strict=True))) + " |"

    sep = "|" + "|".join("-" * (w + 1) + ("-" if i == 0 else ":") for i, w in enumerate(widths)) + "|"
    return [fmt(head), sep] + [fmt(r) for r in body]


def _union_keys(stats: Iterable[dict], key: str) -> list:
    totals: Counter = Counter()
    for s in stats:
        totals.update(s.get(key, {}))
    if key in _NUMERIC_KEYS:
        return sorted(totals)
    return [k for k, _ in sorted(totals.items(), key=lambda kv: (-kv[1], str(kv[0])))]


def format_stats(stats_by_split: dict[str, dict]) -> str:
    """Render statistics as Markdown tables with one column per split.

    Args:
        stats_by_split: split name -> :func:`corpus_stats` result (column order is the dict's order).

    Returns:
        The text: a table of the scalar counts, then one table per histogram.
    """
    columns = list(stats_by_split)
    stats = list(stats_by_split.values())
    rows = [(label, [s.get(key) for s in stats]) for key, label in _SCALARS]
    out = _table("statistic", rows, columns)
    for key, title in _SECTIONS:
        keys = _union_keys(stats, key)
        if not keys:
            continue
        rows = [(str(k), [s.get(key, {}).get(k, 0) for s in stats]) for k in keys]
        out += ["", f"{title}:", ""] + _table(key.replace("_", " "), rows, columns)
    return "\n".join(out) + "\n"


def run_data_stats(corpus: str = "nerel", splits: Sequence[str] | None = None,
                   root: str | os.PathLike | None = None, lenient: bool = False) -> str:
    """Load the splits of a corpus and render their statistics (the ``data stats`` command).

    Args:
        corpus: ``"nerel"``, ``"factrueval"`` or a path (``.jsonl`` file / brat or factRuEval folder).
        splits: the splits to show; default all splits of a named corpus (ignored for a path).
        root: the data root; default :func:`diplomat_ie.utils.data_root`.
        lenient: skip malformed annotation lines (reported under the tables) instead of failing.

    Returns:
        The rendered text of :func:`format_stats`, plus a line per split with skipped lines, if any.
        For factRuEval, "discontinuous entities" counts the objects whose spans leave a gap (they are
        loaded with their full extent).
    """
    names = split_names(corpus)
    if names:
        splits = list(splits) if splits else names
    else:
        splits = [os.path.basename(os.path.normpath(os.fspath(corpus)))]
    by_split, notes = {}, []
    for split in splits:
        read = FactRuEvalStats()
        docs = load_split(corpus, split if names else None, root=root, lenient=lenient, stats=read)
        by_split[split] = corpus_stats(docs)
        if read.objects:  # factRuEval entities carry their extent; the reader counted the gaps
            by_split[split]["discontinuous_entities"] = read.discontinuous
        if read.total_skipped:
            reasons = ", ".join(f"{n} {r}" for r, n in sorted(read.skipped.items()))
            notes.append(f"{split}: skipped {reasons}")
    text = f"Corpus: {corpus}\n\n" + format_stats(by_split)
    if notes:
        text += "\nLenient read: " + "; ".join(notes) + "\n"
    return text
