"""The project's own JSONL corpus format: one :meth:`Document.to_dict` per line."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from ..utils import atomic_write_text
from .brat import ReadStats
from .document import CorpusError, Document


def iter_jsonl(path: str | os.PathLike, lenient: bool = False,
               stats: ReadStats | None = None) -> Iterator[Document]:
    """Stream documents from a JSONL file; a bad line raises :class:`CorpusError` with file:line.

    Args:
        path: the ``.jsonl`` file.
        lenient: skip (and count in ``stats``) bad lines instead of raising.
        stats: collects skip counts.

    Returns:
        An iterator of validated :class:`Document` objects.
    """
    path = str(path)
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                try:
                    d = json.loads(raw.decode("utf-8"))
                except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                    raise CorpusError(f"not a JSON line ({exc})", path, lineno) from exc
                if not isinstance(d, dict) or not isinstance(d.get("text"), str):
                    raise CorpusError("line lacks a string 'text' field", path, lineno)
                d.setdefault("id", f"line{lineno}")
                try:
                    doc = Document.from_dict(d, source=f"{path}:{lineno}")
                    doc.validate(path=f"{path}:{lineno}")
                except CorpusError:
                    raise
                except (KeyError, TypeError, ValueError) as exc:
                    raise CorpusError(f"bad document ({exc})", path, lineno) from exc
            except CorpusError:
                if not lenient:
                    raise
                if stats is not None:
                    stats.skip("malformed line")
                continue
            if stats is not None:
                stats.documents += 1
            yield doc


def read_jsonl(path: str | os.PathLike, lenient: bool = False,
               stats: ReadStats | None = None) -> list[Document]:
    """Read a whole JSONL corpus (see :func:`iter_jsonl`)."""
    return list(iter_jsonl(path, lenient=lenient, stats=stats))


def write_jsonl(docs: Iterable[Document], path: str | os.PathLike) -> int:
    """Write documents as JSONL atomically; returns the number written."""
    lines = [json.dumps(d.to_dict(), ensure_ascii=False) for d in docs]
    atomic_write_text(Path(path), "\n".join(lines) + ("\n" if lines else ""))
    return len(lines)
