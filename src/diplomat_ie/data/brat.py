"""Brat standoff reader/writer (NEREL v1.1 layout: ``<split>/<id>.txt`` + ``<id>.ann``)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .document import CorpusError, Document, Entity, Relation, Span, _norm_ws


@dataclass
class ReadStats:
    """What a lenient read skipped, by reason."""

    documents: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1

    @property
    def total_skipped(self) -> int:
        return sum(self.skipped.values())


def _parse_spans(spec: str, path: str, lineno: int) -> list[Span]:
    spans = []
    for frag in spec.split(";"):
        parts = frag.split()
        if len(parts) != 2:
            raise CorpusError(f"bad span {frag!r}", path, lineno)
        try:
            a, b = int(parts[0]), int(parts[1])
        except ValueError as exc:
            raise CorpusError(f"non-integer offset in {frag!r}", path, lineno) from exc
        if a < 0 or b < a:
            raise CorpusError(f"invalid span [{a}, {b})", path, lineno)
        spans.append(Span(a, b))
    return spans


def _parse_entity(line: str, text: str, path: str, lineno: int) -> Entity:
    parts = line.split("\t")
    if len(parts) < 2:
        raise CorpusError("entity line needs 'ID<TAB>TYPE START END<TAB>TEXT'", path, lineno)
    head = parts[1].split(" ", 1)
    if len(head) != 2:
        raise CorpusError(f"entity line lacks offsets: {parts[1]!r}", path, lineno)
    spans = _parse_spans(head[1], path, lineno)
    ent_text = parts[2] if len(parts) > 2 else ""
    for s in spans:
        if s.end > len(text):
            raise CorpusError(f"span [{s.start}, {s.end}) is outside the text (length {len(text)})",
                              path, lineno)
    doc_text = " ".join(text[s.start : s.end] for s in spans)
    if _norm_ws(doc_text) != _norm_ws(ent_text):
        raise CorpusError(f"span text {ent_text!r} differs from the document's {doc_text!r}", path, lineno)
    spans = sorted(spans)
    return Entity(id=parts[0], type=head[0], spans=spans, text=" ".join(text[s.start : s.end] for s in spans))


def _parse_relation(line: str, path: str, lineno: int) -> Relation:
    parts = line.split("\t")
    fields = parts[1].split() if len(parts) > 1 else []
    if len(fields) != 3 or not fields[1].startswith("Arg1:") or not fields[2].startswith("Arg2:"):
        raise CorpusError("relation line needs 'ID<TAB>TYPE Arg1:X Arg2:Y'", path, lineno)
    return Relation(id=parts[0], type=fields[0], arg1=fields[1][5:], arg2=fields[2][5:])


def read_brat_document(txt_path: str | os.PathLike, lenient: bool = False,
                       stats: ReadStats | None = None) -> Document:
    """Read one brat document (``X.txt`` and its ``X.ann``).

    Args:
        txt_path: path of the ``.txt`` file; the ``.ann`` beside it is read too (absent = no annotations).
        lenient: skip malformed lines (counted in ``stats``) instead of raising.
        stats: collects skip counts in lenient mode.

    Returns:
        The :class:`Document`. Raises :class:`CorpusError` naming file and line on bad input.
    """
    txt_path = Path(txt_path)
    stats = stats if stats is not None else ReadStats()
    try:
        text = txt_path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CorpusError(f"not valid UTF-8 ({exc.reason} at byte {exc.start})", str(txt_path)) from exc
    doc = Document(id=txt_path.stem, text=text, source=str(txt_path))
    ann_path = txt_path.with_suffix(".ann")
    if not ann_path.exists():
        return doc
    try:
        lines = ann_path.read_bytes().decode("utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise CorpusError(f"not valid UTF-8 ({exc.reason} at byte {exc.start})", str(ann_path)) from exc
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            if line.startswith("T"):
                doc.entities.append(_parse_entity(line, text, str(ann_path), lineno))
            elif line.startswith("R"):
                doc.relations.append(_parse_relation(line, str(ann_path), lineno))
            elif line[0] in "NAE#*M":  # normalisations, attributes, events, notes: not used
                continue
            else:
                raise CorpusError(f"unknown annotation line {line[:40]!r}", str(ann_path), lineno)
        except CorpusError:
            if not lenient:
                raise
            stats.skip("malformed line")
    ids = {e.id for e in doc.entities}
    kept = []
    for r in doc.relations:
        if r.arg1 in ids and r.arg2 in ids:
            kept.append(r)
        elif lenient:
            stats.skip("relation to unknown entity")
        else:
            raise CorpusError(f"relation {r.id} refers to an unknown entity", str(ann_path))
    doc.relations = kept
    stats.documents += 1
    return doc


def iter_brat_dir(directory: str | os.PathLike, lenient: bool = False,
                  stats: ReadStats | None = None) -> Iterator[Document]:
    """Yield the documents of a brat folder, sorted by file name."""
    directory = Path(directory)
    if not directory.is_dir():
        raise CorpusError("brat folder not found", str(directory))
    for txt in sorted(directory.glob("*.txt")):
        yield read_brat_document(txt, lenient=lenient, stats=stats)


def read_brat_dir(directory: str | os.PathLike, lenient: bool = False,
                  stats: ReadStats | None = None) -> list[Document]:
    """Read all documents of a brat folder (see :func:`read_brat_document`)."""
    return list(iter_brat_dir(directory, lenient=lenient, stats=stats))


def format_brat_ann(doc: Document) -> str:
    """Render a document's entities and relations as brat standoff ``.ann`` text."""
    lines = []
    for e in doc.entities:
        spans = ";".join(f"{s.start} {s.end}" for s in e.spans)
        text = " ".join(doc.text[s.start : s.end] for s in e.spans).replace("\n", " ")
        lines.append(f"{e.id}\t{e.type} {spans}\t{text}")
    for r in doc.relations:
        lines.append(f"{r.id}\t{r.type} Arg1:{r.arg1} Arg2:{r.arg2}\t")
    return "\n".join(lines) + ("\n" if lines else "")
