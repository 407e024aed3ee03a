"""HuggingFace ``datasets`` interop: documents <-> ``Dataset`` rows, ``save_to_disk`` folders, ``hf:`` specs.

One row per document, with the columns of :data:`COLUMNS`: ``id``, ``text``, ``entities`` (a list of
``{id, type, start, end, text, fragments, score}``; ``fragments`` holds every ``{start, end}`` piece,
one for a contiguous entity, several for NEREL's discontinuous ones; ``start``/``end`` are the full
extent; ``score`` is null for gold annotations) and ``relations`` (a list of ``{id, type, arg1, arg2}``
with entity ids). Offsets are character offsets into ``text``, as everywhere in the package.
``datasets`` is imported only when one of these functions runs (it is slow to import).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .brat import ReadStats
from .document import CorpusError, Document, Entity, Relation, Span

if TYPE_CHECKING:
    from datasets import Dataset, DatasetDict, Features

HF_PREFIX = "hf:"
COLUMNS = ("id", "text", "entities", "relations")
# load_dataset names a "dev" file's split "validation"; the corpora here call it "dev"
_SPLIT_ALIASES = {"dev": "validation", "validation": "dev"}


def hf_features() -> Features:
    """The ``datasets.Features`` of a document dataset (see the module docstring)."""
    from datasets import Features, Value

    span = {"start": Value("int32"), "end": Value("int32")}
    entity = {"id": Value("string"), "type": Value("string"), **span, "text": Value("string"),
              "fragments": [span], "score": Value("float64")}
    relation = {"id": Value("string"), "type": Value("string"), "arg1": Value("string"), "arg2": Value("string")}
    return Features({"id": Value("string"), "text": Value("string"), "entities": [entity],
                     "relations": [relation]})


def _row(doc: Document) -> dict[str, Any]:
    ents = [{"id": e.id, "type": e.type, "start": e.start, "end": e.end, "text": e.text,
             "fragments": [{"start": s.start, "end": s.end} for s in e.spans], "score": e.score}
            for e in doc.entities]
    return {"id": doc.id, "text": doc.text, "entities": ents, "relations": [r.to_dict() for r in doc.relations]}


def to_hf_dataset(docs: Iterable[Document]) -> Dataset:
    """Documents as a ``datasets.Dataset``, one row per document.

    Args:
        docs: the documents (e.g. from :func:`~diplomat_ie.data.corpora.load_split`).

    Returns:
        A ``Dataset`` with :func:`hf_features`; :func:`from_hf_dataset` gives the documents back.
    """
    from datasets import Dataset

    rows = [_row(d) for d in docs]
    # columns, not Dataset.from_list: that one fails on an empty list even with features given
    return Dataset.from_dict({c: [r[c] for r in rows] for c in COLUMNS}, features=hf_features())


def _entity(d: dict) -> Entity:
    frags = d.get("fragments") or [{"start": d["start"], "end": d["end"]}]
    spans = sorted(Span(int(f["start"]), int(f["end"])) for f in frags)
    return Entity(id=str(d["id"]), type=str(d["type"]), spans=spans, text=str(d["text"]), score=d.get("score"))


def _document(row: dict, index: int, where: str) -> Document:
    source = f"{where}[{index}]"
    if not isinstance(row.get("text"), str):
        raise CorpusError("row lacks a string 'text' column", source)
    doc_id = str(row["id"]) if row.get("id") is not None else f"row{index}"
    try:
        doc = Document(id=doc_id, text=row["text"], entities=[_entity(e) for e in row.get("entities") or []],
                       relations=[Relation.from_dict(r) for r in row.get("relations") or []], source=source)
    except (KeyError, TypeError, ValueError) as exc:
        raise CorpusError(f"document {doc_id}: bad entity or relation ({type(exc).__name__}: {exc})",
                          source) from exc
    doc.validate(path=source)
    return doc


def from_hf_dataset(ds: Dataset | Iterable[dict], lenient: bool = False, stats: ReadStats | None = None,
                    source: str = "dataset") -> list[Document]:
    """Documents from a ``Dataset`` (or any iterable of rows) with the columns of :data:`COLUMNS`.

    Args:
        ds: rows with ``text`` and optionally ``id``, ``entities``, ``relations``; an entity needs
            ``id``, ``type``, ``text`` and either ``fragments`` or ``start``/``end``.
        lenient: skip (and count in ``stats``) rows with bad offsets or references instead of raising.
        stats: collects the read statistics.
        source: names the dataset in error messages (``source[row]``).

    Returns:
        Validated documents. Raises :class:`CorpusError` naming the row and the problem.
    """
    names = getattr(ds, "column_names", None)
    if names is not None and "text" not in names:
        raise CorpusError(f"dataset has no 'text' column (columns: {', '.join(names)}); expected "
                          f"{', '.join(COLUMNS)}", source)
    docs = []
    for i, row in enumerate(ds):
        try:
            docs.append(_document(row, i, source))
        except CorpusError:
            if not lenient:
                raise
            if stats is not None:
                stats.skip("malformed row")
            continue
        if stats is not None:
            stats.documents += 1
    return docs


def is_saved_dataset(path: Path) -> bool:
    """Whether ``path`` is a folder written by ``Dataset.save_to_disk`` or ``DatasetDict.save_to_disk``."""
    return (path / "dataset_dict.json").is_file() or (path / "state.json").is_file()


def pick_split(dd: DatasetDict, split: str | None, where: str) -> Dataset:
    """``dd[split]`` (``dev`` also finds ``validation`` and back; None: the only split), else a
    :class:`CorpusError` listing the splits."""
    names = list(dd)
    if split is None:
        if len(names) == 1:
            return dd[names[0]]
        raise CorpusError(f"needs a split (one of {', '.join(names)})", where)
    for name in (split, _SPLIT_ALIASES.get(split)):
        if name in dd:
            return dd[name]
    raise CorpusError(f"has no split {split!r} (splits: {', '.join(names)})", where)


def open_saved(path: str | os.PathLike) -> Dataset | DatasetDict:
    """What ``save_to_disk`` wrote into ``path``; :class:`CorpusError` if it cannot be read."""
    from datasets import load_from_disk

    try:
        return load_from_disk(os.fspath(path))
    except (OSError, ValueError, json.JSONDecodeError) as exc:
        raise CorpusError(f"cannot read the saved dataset ({exc})", os.fspath(path)) from exc


def load_saved(path: str | os.PathLike, split: str | None = None) -> Dataset:
    """One split of a ``save_to_disk`` folder (a ``DatasetDict``'s; a plain ``Dataset`` has no splits)."""
    from datasets import DatasetDict

    ds = open_saved(path)
    return pick_split(ds, split, os.fspath(path)) if isinstance(ds, DatasetDict) else ds


def parse_hf_spec(spec: str) -> tuple[str, str | None]:
    """``"hf:owner/name:config"`` -> ``("owner/name", "config")``; the config is optional."""
    body = spec[len(HF_PREFIX):] if spec.startswith(HF_PREFIX) else spec
    name, _, config = body.partition(":")
    if not name:
        raise CorpusError(f"{spec!r}: expected hf:<name>[:<config>]")
    return name, config or None


def open_hf(spec: str) -> DatasetDict:
    """``datasets.load_dataset`` of ``hf:<name>[:<config>]``: a hub dataset (``owner/name``) or a local
    folder of data files (JSON lines, Parquet, ...); loading scripts are never run.

    Args:
        spec: ``hf:`` + a dataset name or a local folder, optionally ``:config``.

    Returns:
        All splits. Raises :class:`CorpusError` if the dataset cannot be loaded (offline, unknown name).
    """
    from datasets import load_dataset

    name, config = parse_hf_spec(spec)
    try:
        return load_dataset(name, config)
    except Exception as exc:  # the hub client raises many types (offline, 404, gated, bad files)
        offline = " (HF_HUB_OFFLINE is set)" if os.environ.get("HF_HUB_OFFLINE") == "1" else ""
        raise CorpusError(f"cannot load dataset {name!r}{offline}: {type(exc).__name__}: {exc}", spec) from exc


def load_hf(spec: str, split: str | None = None) -> Dataset:
    """One split (see :func:`pick_split`) of :func:`open_hf`."""
    return pick_split(open_hf(spec), split, spec)
