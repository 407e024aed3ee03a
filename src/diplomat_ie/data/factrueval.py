"""factRuEval-2016 reader (``book_N.txt`` + ``.tokens`` + ``.spans`` + ``.objects``).

Each object (the second annotation layer) becomes one :class:`Entity` whose single character span runs
from the first character of its earliest span to the last character of its latest span. Objects whose
spans leave a non-blank gap (``движения «Солидарность``: the opening quote is outside the spans) are
*discontinuous*; they keep that full extent and are counted in :class:`FactRuEvalStats`.

Offsets: the ``.tokens`` offsets are Python character offsets into the ``.txt`` decoded as UTF-8
*without* newline translation (the files are read as bytes, so a ``\\r\\n`` would count as two
characters). Every token's text is checked against the document.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .brat import ReadStats
from .document import CorpusError, Document, Entity, Span

FACTRUEVAL_TYPES: tuple[str, ...] = ("Person", "Org", "Location", "LocOrg", "Facility", "Project")


@dataclass
class FactRuEvalStats(ReadStats):
    """:class:`ReadStats` plus object counts: all objects read and the discontinuous ones."""

    objects: int = 0
    discontinuous: int = 0


@dataclass
class _Tokens:
    by_id: dict[str, tuple[int, int]]
    ends: set[int]


def _decode(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError as exc:
        raise CorpusError("file not found", str(path)) from exc
    except UnicodeDecodeError as exc:
        raise CorpusError(f"not valid UTF-8 ({exc.reason} at byte {exc.start})", str(path)) from exc


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """Non-blank lines with their 1-based numbers (``\\n`` separated; a trailing ``\\r`` is dropped)."""
    for lineno, line in enumerate(_decode(path).split("\n"), start=1):
        line = line.rstrip("\r")
        if line.strip():
            yield lineno, line


def _int(value: str, what: str, path: Path, lineno: int) -> int:
    try:
        return int(value)
    except ValueError as exc:
        raise CorpusError(f"non-integer {what} {value!r}", str(path), lineno) from exc


def _parse_tokens(path: Path, text: str, lenient: bool, stats: ReadStats) -> _Tokens:
    toks = _Tokens(by_id={}, ends=set())
    for lineno, line in _lines(path):
        try:
            parts = line.split()
            if len(parts) != 4:
                raise CorpusError("token line needs 'ID START LENGTH TEXT'", str(path), lineno)
            start = _int(parts[1], "start", path, lineno)
            end = start + _int(parts[2], "length", path, lineno)
            if start < 0 or end <= start or end > len(text):
                raise CorpusError(f"token [{start}, {end}) is outside the text (length {len(text)})",
                                  str(path), lineno)
            if text[start:end] != parts[3]:
                raise CorpusError(f"token text {parts[3]!r} differs from the document's "
                                  f"{text[start:end]!r}", str(path), lineno)
        except CorpusError:
            if not lenient:
                raise
            stats.skip("malformed token line")
            continue
        toks.by_id[parts[0]] = (start, end)
        toks.ends.add(end)
    return toks


def _parse_span_line(line: str, toks: _Tokens, path: Path, lineno: int) -> tuple[str, tuple[int, int]]:
    fields = line.split("#", 1)[0].split()
    if len(fields) != 6:
        raise CorpusError("span line needs 'ID TYPE START LENGTH FIRST_TOKEN N_TOKENS # ...'",
                          str(path), lineno)
    start = _int(fields[2], "start", path, lineno)
    end = start + _int(fields[3], "length", path, lineno)
    first = toks.by_id.get(fields[4])
    if first is None:
        raise CorpusError(f"span starts at unknown token {fields[4]}", str(path), lineno)
    if first[0] != start or end not in toks.ends:
        raise CorpusError(f"span [{start}, {end}) does not fall on token boundaries", str(path), lineno)
    return fields[0], (start, end)


def _parse_spans(path: Path, toks: _Tokens, lenient: bool, stats: ReadStats) -> dict[str, tuple[int, int]]:
    spans: dict[str, tuple[int, int]] = {}
    for lineno, line in _lines(path):
        try:
            sid, extent = _parse_span_line(line, toks, path, lineno)
        except CorpusError:
            if not lenient:
                raise
            stats.skip("malformed span line")
            continue
        spans[sid] = extent
    return spans


def _is_discontinuous(intervals: list[tuple[int, int]], text: str) -> bool:
    """True when something other than whitespace lies between the (sorted) intervals."""
    intervals = sorted(intervals)
    covered = intervals[0][1]
    for start, end in intervals[1:]:
        if start > covered and text[covered:start].strip():
            return True
        covered = max(covered, end)
    return False


def _parse_object(line: str, spans: dict[str, tuple[int, int]], text: str, path: Path,
                  lineno: int) -> tuple[Entity, bool]:
    fields = line.split("#", 1)[0].split()
    if len(fields) < 3:
        raise CorpusError("object line needs 'ID TYPE SPAN_ID [SPAN_ID ...] # TEXT'", str(path), lineno)
    oid, typ, span_ids = fields[0], fields[1], fields[2:]
    if typ not in FACTRUEVAL_TYPES:
        raise CorpusError(f"unknown object type {typ!r} (expected one of {', '.join(FACTRUEVAL_TYPES)})",
                          str(path), lineno)
    missing = [s for s in span_ids if s not in spans]
    if missing:
        raise CorpusError(f"object {oid} refers to unknown span(s) {' '.join(missing)}", str(path), lineno)
    intervals = [spans[s] for s in span_ids]
    start, end = min(a for a, _ in intervals), max(b for _, b in intervals)
    entity = Entity(id=f"T{oid}", type=typ, spans=[Span(start, end)], text=text[start:end])
    return entity, _is_discontinuous(intervals, text)


def read_factrueval_document(base: str | os.PathLike, lenient: bool = False,
                             stats: ReadStats | None = None) -> Document:
    """Read one factRuEval document.

    Args:
        base: the document path without extension (``.../devset/book_100``); ``.txt``, ``.tokens``,
            ``.spans`` and ``.objects`` beside it are read.
        lenient: skip malformed lines (counted in ``stats``) instead of raising.
        stats: collects skip counts; a :class:`FactRuEvalStats` also counts (discontinuous) objects.

    Returns:
        The :class:`Document` with one entity per object (id ``T<object id>``). Raises
        :class:`CorpusError` naming file and line on malformed lines, offsets outside the text and
        token texts that differ from the document.
    """
    base = Path(base)
    stats = stats if stats is not None else ReadStats()
    txt_path = base.with_name(base.name + ".txt")
    text = _decode(txt_path)
    toks = _parse_tokens(base.with_name(base.name + ".tokens"), text, lenient, stats)
    spans = _parse_spans(base.with_name(base.name + ".spans"), toks, lenient, stats)
    doc = Document(id=base.name, text=text, source=str(txt_path))
    obj_path = base.with_name(base.name + ".objects")
    for lineno, line in _lines(obj_path):
        try:
            entity, discontinuous = _parse_object(line, spans, text, obj_path, lineno)
        except CorpusError:
            if not lenient:
                raise
            stats.skip("malformed object line")
            continue
        doc.entities.append(entity)
        if isinstance(stats, FactRuEvalStats):
            stats.objects += 1
            stats.discontinuous += int(discontinuous)
    doc.entities.sort(key=lambda e: (e.start, -e.end, e.type))
    stats.documents += 1
    return doc


def _natural_key(path: Path) -> list:
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", path.name)]


def iter_factrueval_dir(directory: str | os.PathLike, lenient: bool = False,
                        stats: ReadStats | None = None) -> Iterator[Document]:
    """Yield the documents of a factRuEval folder (``devset``/``testset``) in book-number order.

    Args:
        directory: the folder; every ``*.tokens`` file names one document (``list.txt`` is ignored).
        lenient: skip malformed lines, and documents lacking a companion file, instead of raising.
        stats: collects skip counts (see :func:`read_factrueval_document`).

    Returns:
        An iterator of :class:`Document`. Raises :class:`CorpusError` if the folder is missing or holds
        no ``.tokens`` file.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise CorpusError("factRuEval folder not found", str(directory))
    bases = sorted((p.with_suffix("") for p in directory.glob("*.tokens")), key=_natural_key)
    if not bases:
        raise CorpusError("no factRuEval documents (*.tokens files) in this folder", str(directory))
    for base in bases:
        absent = [ext for ext in (".txt", ".spans", ".objects") if not base.with_name(base.name + ext).exists()]
        if absent:
            if not lenient:
                raise CorpusError(f"document lacks {', '.join(absent)}", str(base))
            if stats is not None:
                stats.skip("document with a missing file")
            continue
        yield read_factrueval_document(base, lenient=lenient, stats=stats)


def read_factrueval_dir(directory: str | os.PathLike, lenient: bool = False,
                        stats: ReadStats | None = None) -> list[Document]:
    """Read all documents of a factRuEval folder.

    Args:
        directory: the ``devset`` or ``testset`` folder.
        lenient: skip malformed lines instead of raising (see :func:`iter_factrueval_dir`).
        stats: collects skip counts; pass a :class:`FactRuEvalStats` to count discontinuous objects.

    Returns:
        The documents, in book-number order.
    """
    return list(iter_factrueval_dir(directory, lenient=lenient, stats=stats))
