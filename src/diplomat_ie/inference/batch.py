"""``diplomat-ie predict``: streaming batch inference with resume, error isolation and sharding.

Flow: :func:`~.sources.iter_records` streams records; each process keeps those of its shard, skips
those already written (``--resume``), and runs the :class:`Extractor` on chunks of
``--docs-per-batch`` documents (the Predictor sorts the chunk's windows by length). Results go to a
sink; bad inputs and documents that fail go to the errors file with their ``file:line`` and reason.

Crash safety: JSONL output and the errors file are appended one complete chunk at a time and
flushed + fsynced; on ``--resume`` a trailing partial line is cut off and the ids present are
skipped (ids in the errors file too: delete it to retry those). Brat output writes each document's
``.txt`` and ``.ann`` atomically (temp + rename, ``.ann`` last; a document is done when its ``.ann``
exists). HTML is not streamable: results are streamed to ``<output>.results.jsonl`` (resumable as
above) and the page is rendered from it at the end and written atomically.

Under ``accelerate launch`` (``WORLD_SIZE`` > 1) each process takes its share of the records (see
:class:`~.sources.Shard`) and writes ``<output>.rank<k>`` (and ``<output>.rank<k>.errors.jsonl``);
concatenate the JSONL files afterwards (``cat out.jsonl.rank* > out.jsonl``).
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import NamedTuple

from ..data.brat import format_brat_ann
from ..data.document import Document, Entity, Relation, Span
from ..data.roles import RELATION_TO_ROLE
from ..utils import atomic_write_text
from .html import render_html
from .sources import Record, Shard, expand_inputs, iter_records, parse_shard

log = logging.getLogger(__name__)

ROLE_TO_RELATION = {role: (rel, trigger_is_arg2) for rel, (role, trigger_is_arg2) in RELATION_TO_ROLE.items()}
ARGUMENT_TYPE = "ARGUMENT"  # brat type of an event argument that matches no predicted entity


class JsonlSink:
    """Append-only JSONL file (or stdout) that survives crashes; ``done`` holds the ids present."""

    def __init__(self, path: str, resume: bool = False):
        self.path = path
        self.done: set[str] = set()
        if path == "-":
            self.fh = sys.stdout.buffer
            return
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        if resume and Path(path).exists():
            self.done = recover_jsonl(path)
        else:
            Path(path).write_bytes(b"")
        self.fh = open(path, "ab")  # noqa: SIM115 - closed in close()

    def is_done(self, doc_id: str) -> bool:
        return doc_id in self.done

    def write(self, rows: list[dict]) -> None:
        if not rows:
            return
        self.fh.write(b"".join(json.dumps(r, ensure_ascii=False).encode("utf-8") + b"\n" for r in rows))
        self.fh.flush()
        if self.path != "-":
            os.fsync(self.fh.fileno())
        self.done.update(r["id"] for r in rows)

    def finish(self) -> None:
        """Called once after every record was processed (nothing to do: rows are written as they come)."""

    def close(self) -> None:
        if self.path != "-":
            self.fh.close()


def recover_jsonl(path: str | os.PathLike) -> set[str]:
    """Ids of the complete, valid lines of ``path``; the file is cut after the last such line.

    Args:
        path: a JSONL file written by :class:`JsonlSink` (possibly by a run that crashed).

    Returns:
        The ``id`` values found. A trailing partial line (or anything after a corrupt line) is removed.
    """
    ids, good_end = set(), 0
    with open(path, "rb") as fh:
        for raw in fh:
            if not raw.endswith(b"\n"):
                break
            try:
                ids.add(str(json.loads(raw)["id"]))
            except (ValueError, KeyError, TypeError):
                log.warning("%s: corrupt line at byte %d; it and what follows will be redone", path, good_end)
                break
            good_end += len(raw)
    if good_end != os.path.getsize(path):
        with open(path, "r+b") as fh:
            fh.truncate(good_end)
            os.fsync(fh.fileno())
    return ids


def brat_name(doc_id: str) -> str:
    """A safe, stable file stem for a document id (hash suffix when the id had to be changed)."""
    import hashlib
    import re

    stem = re.sub(r"[^\w.-]+", "_", doc_id).strip("._")[:80] or "doc"
    if stem != doc_id:
        stem += "-" + hashlib.sha1(doc_id.encode("utf-8")).hexdigest()[:8]
    return stem


def result_to_document(row: dict) -> Document:
    """A predicted result (``{"id", "text", "entities", "events"}``) as a brat-ready :class:`Document`.

    Entities become T lines; each event argument becomes a NEREL relation (type and direction from
    :data:`~diplomat_ie.data.roles.RELATION_TO_ROLE`) between the trigger's entity and the argument's
    entity: the predicted entity with the same span if there is one, else a new ``ARGUMENT`` entity.

    Args:
        row: one output row.

    Returns:
        The document (entity ids ``T1..``, relation ids ``R1..``).
    """
    text = row["text"]
    doc = Document(id=str(row["id"]), text=text)
    by_span: dict[tuple[int, int], str] = {}

    def entity(start: int, end: int, typ: str, eid: str | None = None) -> str:
        if eid is None:
            eid = by_span.get((start, end)) if typ == ARGUMENT_TYPE else None
        if eid is None:
            eid = f"T{len(doc.entities) + 1}"
            doc.entities.append(Entity(id=eid, type=typ, spans=[Span(start, end)], text=text[start:end]))
        by_span.setdefault((start, end), eid)
        return eid

    ids = {e["id"]: entity(e["start"], e["end"], e["type"]) for e in row["entities"]}
    seen = set()
    for ev in row["events"]:
        trig = ev["trigger"]
        t_id = ids.get(trig.get("entity_id")) or entity(trig["start"], trig["end"], trig["type"])
        for arg in ev["arguments"]:
            if arg["role"] not in ROLE_TO_RELATION:
                continue
            a_id = ids.get(arg.get("entity_id")) or entity(arg["start"], arg["end"], ARGUMENT_TYPE)
            rel, trigger_is_arg2 = ROLE_TO_RELATION[arg["role"]]
            arg1, arg2 = (a_id, t_id) if trigger_is_arg2 else (t_id, a_id)
            if (rel, arg1, arg2) not in seen:
                seen.add((rel, arg1, arg2))
                doc.relations.append(Relation(id=f"R{len(seen)}", type=rel, arg1=arg1, arg2=arg2))
    return doc


def annotation_conf(entity_types: list[str]) -> str:
    """A brat ``annotation.conf`` for the predicted entity types and NEREL's role relations."""
    ents = [*entity_types, ARGUMENT_TYPE]
    rels = [f"{rel}\tArg1:<ENTITY>, Arg2:<ENTITY>" for rel in RELATION_TO_ROLE]
    return "\n".join(["[entities]", *ents, "", "[relations]", *rels, "", "[events]", "", "[attributes]", ""])


class BratSink:
    """One ``<name>.txt`` + ``<name>.ann`` pair per document in a folder (see :func:`brat_name`)."""

    def __init__(self, folder: str, entity_types: list[str], resume: bool = False):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.resume = resume
        conf = self.folder / "annotation.conf"
        if not conf.exists():
            atomic_write_text(conf, annotation_conf(entity_types))

    def is_done(self, doc_id: str) -> bool:
        return self.resume and (self.folder / f"{brat_name(doc_id)}.ann").exists()

    def write(self, rows: list[dict]) -> None:
        for row in rows:
            name = brat_name(str(row["id"]))
            doc = result_to_document(row)
            atomic_write_text(self.folder / f"{name}.txt", doc.text)
            atomic_write_text(self.folder / f"{name}.ann", format_brat_ann(doc))

    def finish(self) -> None:
        pass

    def close(self) -> None:
        pass


class HtmlSink(JsonlSink):
    """Streams rows to ``<output>.results.jsonl``; :meth:`finish` renders the HTML page from it."""

    def __init__(self, path: str, resume: bool = False, title: str = "diplomat-ie predictions"):
        if path == "-":
            raise ValueError("--format html needs an --output file")
        super().__init__(f"{path}.results.jsonl", resume=resume)
        self.html_path, self.title = path, title

    def finish(self) -> None:
        self.fh.flush()
        with open(self.path, encoding="utf-8") as fh:
            rows = [json.loads(line) for line in fh]
        atomic_write_text(Path(self.html_path), render_html(rows, self.title))


def make_sink(fmt: str, output: str, resume: bool, entity_types: list[str]):
    """The output sink for ``--format`` (``jsonl``, ``brat`` or ``html``)."""
    if fmt == "jsonl":
        return JsonlSink(output, resume=resume)
    if fmt == "brat":
        if output == "-":
            raise ValueError("--format brat needs an --output folder")
        return BratSink(output, entity_types, resume=resume)
    return HtmlSink(output, resume=resume)


def _error_row(rec: Record, reason: str) -> dict:
    return {"id": rec.id, "source": rec.source, "reason": reason}


def _extract(extractor, chunk: list[Record]) -> tuple[list[dict], list[dict]]:
    """Run one chunk; if it fails, run its documents one by one so only the culprits are lost."""
    try:
        results = extractor([r.text for r in chunk])
        pairs = list(zip(chunk, results, strict=True))
    except Exception:  # noqa: BLE001 - isolate the failing document below
        pairs = []
        for rec in chunk:
            try:
                pairs.append((rec, extractor(rec.text)))
            except Exception as exc:  # noqa: BLE001 - a bad document must not stop the run
                pairs.append((rec, f"prediction failed: {type(exc).__name__}: {exc}"))
    rows, errors = [], []
    for rec, res in pairs:
        if isinstance(res, str):
            errors.append(_error_row(rec, res))
        else:
            rows.append({"id": rec.id, "source": rec.source, **res.to_dict()})
    return rows, errors


def predict_records(extractor, records, sink, errors: JsonlSink, shard: Shard | None = None,
                    docs_per_batch: int = 64, progress=None) -> dict[str, int]:
    """Stream ``records`` through ``extractor`` into ``sink``, bad ones into ``errors``.

    Args:
        extractor: an :class:`~diplomat_ie.inference.Extractor` (or any callable on a list of texts).
        records: :class:`Record` iterator (e.g. :func:`iter_records`).
        sink, errors: output sinks (``is_done``/``write``; the caller calls ``finish``/``close``).
        shard: which records this process owns (default: all).
        docs_per_batch: documents held in memory and predicted together.
        progress: a tqdm-like bar (``update``, ``set_postfix``), or None.

    Returns:
        Counts: ``written``, ``errors``, ``skipped`` (already done), ``other_shards``.
    """
    shard = shard or Shard()
    counts = {"written": 0, "errors": 0, "skipped": 0, "other_shards": 0}
    chunk: list[Record] = []
    bad: list[dict] = []
    seen: set[str] = set()

    def flush() -> None:
        rows, failed = _extract(extractor, chunk) if chunk else ([], [])
        sink.write(rows)
        errors.write(bad + failed)
        counts["written"] += len(rows)
        counts["errors"] += len(bad) + len(failed)
        if progress is not None:
            progress.update(len(rows) + len(failed) + len(bad))
            progress.set_postfix(errors=counts["errors"], refresh=False)
        chunk.clear()
        bad.clear()

    for rec in records:
        if not shard.owns(rec):
            counts["other_shards"] += 1
            continue
        if rec.id in seen:
            bad.append(_error_row(rec, f"duplicate id {rec.id!r} (already in this run)"))
        elif sink.is_done(rec.id) or errors.is_done(rec.id):
            counts["skipped"] += 1
            continue
        elif rec.error:
            bad.append(_error_row(rec, rec.error))
        else:
            chunk.append(rec)
        seen.add(rec.id)
        if len(chunk) >= docs_per_batch or len(bad) >= docs_per_batch:
            flush()
    flush()
    return counts


def output_paths(output: str, errors: str | None, shard: Shard) -> tuple[str, str]:
    """Output and errors paths of this process (``.rank<k>`` suffix when ``WORLD_SIZE`` > 1)."""
    if shard.world > 1 and output != "-":
        output = f"{output}.rank{shard.rank}"
    if errors is None:
        errors = f"{output}.errors.jsonl" if output != "-" else "predict.errors.jsonl"
    elif shard.world > 1:
        errors = f"{errors}.rank{shard.rank}"
    return output, errors


class PredictSummary(NamedTuple):
    """What :func:`predict_files` did."""

    written: int
    errors: int
    skipped: int  # already in the output (resume)
    other_shards: int
    output: str
    errors_path: str


def predict_files(*, model: str | os.PathLike, inputs: list[str], output: str = "-",
                  output_format: str = "jsonl", input_format: str = "auto", text_field: str = "text",
                  id_field: str = "id", errors: str | None = None, resume: bool = False,
                  shard: str | None = None, shard_by: str = "index", batch_size: int = 32,
                  docs_per_batch: int = 64, threads: int | None = None, backend: str = "torch",
                  trigger_lexicon: str | os.PathLike | None = None, snap_arguments: bool = True,
                  role_o_bias: float | None = None, progress: bool = True,
                  head: str | None = None, window_breaks: str | None = None) -> PredictSummary:
    """Extract entities and events from files / folders / JSONL / stdin into JSONL, brat or HTML.

    Args:
        model: the model directory.
        inputs: ``.txt`` files, folders, ``.jsonl`` files, or ``"-"`` (stdin).
        output: output file or folder (``"-"``: stdout, JSONL only).
        output_format: ``"jsonl"``, ``"brat"`` (a folder) or ``"html"`` (a file).
        input_format: ``"auto"`` (``.jsonl``/``.ndjson`` are JSONL), ``"txt"`` or ``"jsonl"``.
        text_field, id_field: the JSONL fields holding the text and the document id.
        errors: the errors file (default ``<output>.errors.jsonl``).
        resume: skip documents already in the output (or in the errors file).
        shard: ``"k/n"``: process only the k-th of n shards (k from 0).
        shard_by: shard key, ``"index"`` (position in the input) or ``"id"`` (hash of the id).
        batch_size: windows per forward pass.
        docs_per_batch: documents read per step (bounds memory).
        threads: CPU threads (torch and onnxruntime).
        backend: ``"torch"``, ``"torch-bf16"``, ``"onnx"`` or ``"onnx-int8"``.
        trigger_lexicon: YAML of extra trigger words (see :class:`~diplomat_ie.data.triggers.TriggerLexicon`).
        snap_arguments: snap role arguments onto predicted entities.
        role_o_bias: lower the role head's O / none logit by this much (None: the model's roles.none_bias).
        progress: show a progress bar on stderr.
        head: an extra NER head of the model (``data.extra_corpora``) to take the entities from (no events).
        window_breaks: ``"paragraph"`` or ``"none"`` (see :meth:`Extractor.from_pretrained`); None: the model's.

    Returns:
        A :class:`PredictSummary`. Bad arguments raise :class:`~diplomat_ie.config.ConfigError` before any
        output is touched; documents that fail are listed in the errors file, not raised.
    """
    from tqdm import tqdm

    from ..config import ConfigError
    from ..data.triggers import TriggerLexicon
    from .extractor import Extractor

    try:
        shard_ = parse_shard(shard, by=shard_by)
        output, errors_path = output_paths(output, errors, shard_)
        if output_format != "jsonl" and output == "-":
            raise ValueError(f"--format {output_format} needs --output "
                             f"(a {'folder' if output_format == 'brat' else 'file'})")
        expand_inputs(inputs)  # a missing input fails here, before any output is touched
        lexicon = TriggerLexicon.load(trigger_lexicon) if trigger_lexicon else None
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    try:
        extractor = Extractor.from_pretrained(model, batch_size=batch_size, threads=threads, backend=backend,
                                              trigger_lexicon=lexicon, snap_arguments=snap_arguments,
                                              role_o_bias=role_o_bias, head=head, window_breaks=window_breaks)
    except ValueError as exc:
        if head is None or "no NER head" not in str(exc):
            raise
        raise ConfigError(f"--head: {exc}") from exc
    config = extractor.model.config
    types = config.extra_heads[head]["entity_types"] if head else config.entity_types
    sink = make_sink(output_format, output, resume, list(types))
    errors_sink = JsonlSink(errors_path, resume=resume)
    records = iter_records(inputs, input_format=input_format, text_field=text_field, id_field=id_field)
    bar = tqdm(unit="doc", desc="predict", disable=not progress, file=sys.stderr)
    try:
        counts = predict_records(extractor, records, sink, errors_sink, shard=shard_,
                                 docs_per_batch=docs_per_batch, progress=bar)
        sink.finish()  # only after a complete run: the HTML page is rendered from every result
    finally:
        bar.close()
        sink.close()
        errors_sink.close()
    return PredictSummary(**counts, output=output, errors_path=errors_path)
