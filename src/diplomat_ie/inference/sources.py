"""Where ``diplomat-ie predict`` reads documents from: files, folders, JSONL, stdin; and sharding.

Every input becomes a stream of :class:`Record` objects in a deterministic order (the order of
``--input`` arguments, folders walked in sorted order). A record that cannot be a document
(undecodable bytes, not JSON, no text field, empty text) is still yielded, with ``error`` set, so
that the caller can log it and continue. Nothing is read whole except a single ``.txt`` document:
JSONL is streamed line by line.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

JSONL_SUFFIXES = (".jsonl", ".ndjson")
TEXT_SUFFIXES = (".txt",)
STDIN = "-"


@dataclass
class Record:
    """One input document, or one input item that failed to become a document."""

    index: int  # position in the whole input stream (0-based): the key of index sharding
    id: str  # the --id-field value, the file path, or "file:line"
    source: str  # "file:line" (JSONL) or the file path
    text: str | None = None
    error: str | None = None  # why this item is not a document


@dataclass(frozen=True)
class Shard:
    """Process only records whose key ``kk`` has ``kk % n == k`` and ``(kk // n) % world == rank``.

    ``n``/``k`` come from ``--shard k/n``; ``world``/``rank`` from ``accelerate launch`` (``WORLD_SIZE``,
    ``RANK``). The two splits nest, so every record goes to exactly one (shard, rank) pair.
    """

    k: int = 0
    n: int = 1
    rank: int = 0
    world: int = 1
    by: str = "index"  # or "id": a stable hash of the document id

    def owns(self, rec: Record) -> bool:
        key = rec.index if self.by == "index" else id_hash(rec.id)
        return key % self.n == self.k and (key // self.n) % self.world == self.rank


def id_hash(doc_id: str) -> int:
    """A process-independent 64-bit hash of a document id (Python's ``hash`` is salted per process)."""
    return int.from_bytes(hashlib.blake2b(doc_id.encode("utf-8"), digest_size=8).digest(), "big")


def parse_shard(spec: str | None, by: str = "index", env: Mapping[str, str] | None = None) -> Shard:
    """Build the :class:`Shard` of this process.

    Args:
        spec: ``"k/n"`` with ``0 <= k < n``, or None for the whole input.
        by: ``"index"`` (position in the input stream) or ``"id"`` (hash of the document id).
        env: environment to read ``RANK``/``WORLD_SIZE`` from (default ``os.environ``).

    Returns:
        The shard. Raises ValueError for a malformed spec.
    """
    environ: Mapping[str, str] = os.environ if env is None else env
    k, n = 0, 1
    if spec:
        try:
            k_s, n_s = spec.split("/")
            k, n = int(k_s), int(n_s)
        except ValueError as exc:
            raise ValueError(f"--shard must look like k/n (e.g. 0/4), got {spec!r}") from exc
        if not (n >= 1 and 0 <= k < n):
            raise ValueError(f"--shard {spec}: need 0 <= k < n")
    if by not in ("index", "id"):
        raise ValueError(f"shard key must be 'index' or 'id', got {by!r}")
    world = int(environ.get("WORLD_SIZE", "1") or 1)
    rank = int(environ.get("RANK", "0") or 0)
    if not 0 <= rank < world:
        raise ValueError(f"RANK={rank} is outside WORLD_SIZE={world}")
    return Shard(k=k, n=n, rank=rank, world=world, by=by)


def expand_inputs(inputs: list[str]) -> list[tuple[str, str]]:
    """Resolve ``--input`` arguments to ``(path, kind)`` pairs, kind ``"txt"``/``"jsonl"``/``"stdin"``.

    Args:
        inputs: files, folders (walked recursively, sorted; ``.txt`` and ``.jsonl`` files are taken)
            or ``-`` for standard input.

    Returns:
        The pairs in a deterministic order. Raises FileNotFoundError for a missing path.
    """
    out = []
    for item in inputs:
        if item == STDIN:
            out.append((item, "stdin"))
            continue
        path = Path(item)
        if path.is_dir():
            for p in sorted(path.rglob("*")):
                if p.is_file() and p.suffix.lower() in TEXT_SUFFIXES + JSONL_SUFFIXES:
                    out.append((str(p), _kind(p)))
        elif path.is_file():
            out.append((str(path), _kind(path)))
        else:
            raise FileNotFoundError(f"input not found: {item}")
    return out


def _kind(path: Path) -> str:
    return "jsonl" if path.suffix.lower() in JSONL_SUFFIXES else "txt"


def iter_records(inputs: list[str], input_format: str = "auto", text_field: str = "text",
                 id_field: str = "id", stdin: BinaryIO | None = None) -> Iterator[Record]:
    """Stream the records of all inputs (see module docstring).

    Args:
        inputs: ``--input`` arguments.
        input_format: ``auto`` (by suffix: ``.jsonl``/``.ndjson`` are JSONL; stdin is one plain-text
            document), ``txt`` or ``jsonl`` (forces the format of every input, stdin included).
        text_field, id_field: JSONL keys of the text and of the document id.
        stdin: binary stream used for ``-`` (default ``sys.stdin.buffer``).

    Returns:
        An iterator of :class:`Record`; ``index`` counts every record, bad ones included.
    """
    index = 0
    for path, kind in expand_inputs(inputs):
        if kind == "stdin":
            kind = "jsonl" if input_format == "jsonl" else "txt"
        elif input_format != "auto":
            kind = input_format
        name = "<stdin>" if path == STDIN else path
        if kind == "jsonl":
            fh = (stdin or sys.stdin.buffer) if path == STDIN else open(path, "rb")  # noqa: SIM115
            try:
                for rec in _jsonl_records(fh, name, text_field, id_field, index):
                    index += 1
                    yield rec
            finally:
                if path != STDIN:
                    fh.close()
        else:
            raw = (stdin or sys.stdin.buffer).read() if path == STDIN else Path(path).read_bytes()
            yield _text_record(raw, name, name, index)
            index += 1


def _text_record(raw: bytes, doc_id: str, source: str, index: int) -> Record:
    rec = Record(index=index, id=doc_id, source=source)
    try:
        rec.text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        rec.error = f"not valid UTF-8 ({exc.reason} at byte {exc.start})"
        return rec
    if not rec.text.strip():
        rec.error, rec.text = "empty or whitespace-only text", None
    return rec


def _jsonl_records(fh: BinaryIO, name: str, text_field: str, id_field: str,
                   start: int) -> Iterator[Record]:
    index = start
    for lineno, raw in enumerate(fh, start=1):
        if not raw.strip():
            continue
        source = f"{name}:{lineno}"
        rec = Record(index=index, id=source, source=source)
        index += 1
        try:
            d = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            rec.error = f"not valid UTF-8 ({exc.reason} at byte {exc.start})"
            yield rec
            continue
        except json.JSONDecodeError as exc:
            rec.error = f"not a JSON line ({exc.msg} at column {exc.colno})"
            yield rec
            continue
        if not isinstance(d, dict):
            rec.error = f"a JSON {type(d).__name__}, not an object"
        else:
            if d.get(id_field) is not None:
                rec.id = str(d[id_field])
            text = d.get(text_field)
            if text is None:
                rec.error = f"no {text_field!r} field"
            elif not isinstance(text, str):
                rec.error = f"field {text_field!r} is a {type(text).__name__}, not a string"
            elif not text.strip():
                rec.error = "empty or whitespace-only text"
            else:
                rec.text = text
        yield rec
