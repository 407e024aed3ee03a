"""``Extractor``: the public, forgiving predict API with exact character offsets."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import overload

import torch
from transformers import PreTrainedTokenizerBase

from ..data.triggers import TriggerLexicon
from ..modeling.heads import DiplomatHeads
from ..modeling.io import load_model_dir
from ..modeling.model import DiplomatModel
from ..modeling.predict import Predictor, Progress
from ..modeling.predictions import DocPred
from ..modeling.runners import WindowRunner, bf16_window_outputs

log = logging.getLogger(__name__)
BACKENDS = ("torch", "torch-bf16", "onnx", "onnx-int8")


@dataclass
class ExtractedEntity:
    id: str
    type: str
    start: int
    end: int
    text: str
    score: float

    def to_dict(self) -> dict:
        return {"id": self.id, "type": self.type, "start": self.start, "end": self.end, "text": self.text,
                "score": round(self.score, 4)}


@dataclass
class ExtractedArgument:
    role: str
    start: int
    end: int
    text: str
    score: float
    entity_id: str | None = None

    def to_dict(self) -> dict:
        d = {"role": self.role, "start": self.start, "end": self.end, "text": self.text,
             "score": round(self.score, 4)}
        if self.entity_id:
            d["entity_id"] = self.entity_id
        return d


@dataclass
class ExtractedEvent:
    trigger: dict
    arguments: list[ExtractedArgument] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"trigger": dict(self.trigger), "arguments": [a.to_dict() for a in self.arguments]}


@dataclass
class ExtractionResult:
    """One document's result; :meth:`to_dict` gives the public JSON shape."""

    text: str
    entities: list[ExtractedEntity] = field(default_factory=list)
    events: list[ExtractedEvent] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"text": self.text, "entities": [e.to_dict() for e in self.entities],
                "events": [ev.to_dict() for ev in self.events]}


def to_result(text: str, pred: DocPred) -> ExtractionResult:
    """Turn word-level predictions into character-exact entities and events."""
    res = ExtractionResult(text=text)
    ids: dict[tuple[int, int, str], str] = {}
    for i, s in enumerate(pred.entities, start=1):
        start, end = pred.char_span(s)
        ent = ExtractedEntity(id=f"T{i}", type=s.type, start=start, end=end, text=text[start:end],
                              score=s.score)
        res.entities.append(ent)
        ids[(start, end, s.type)] = ent.id
    by_span: dict[tuple[int, int], str] = {}
    for key, eid in ids.items():
        by_span.setdefault((key[0], key[1]), eid)
    for ev in pred.events:
        ts, te = pred.char_span(ev.trigger)
        trigger = {"start": ts, "end": te, "text": text[ts:te], "type": ev.trigger.type,
                   "origin": ev.trigger.origin}
        if (ts, te, ev.trigger.type) in ids:
            trigger["entity_id"] = ids[(ts, te, ev.trigger.type)]
        args = []
        for a in ev.arguments:
            start, end = pred.char_span(a)
            args.append(ExtractedArgument(role=a.type, start=start, end=end, text=text[start:end], score=a.score,
                                          entity_id=by_span.get((start, end))))
        res.events.append(ExtractedEvent(trigger=trigger, arguments=args))
    return res


class Extractor:
    """Nested entities and event roles from Russian text.

    ``extractor("текст")`` returns one :class:`ExtractionResult`; ``extractor([t1, t2])`` a list.
    Long texts are cut into overlapping windows, never truncated; offsets index the caller's string.
    ``head="factrueval"`` (a model trained with ``data.extra_corpora``): the entities come from that extra
    NER head instead of the main one, in the same JSON shape, with no events.
    """

    def __init__(self, model: DiplomatModel | DiplomatHeads, tokenizer: PreTrainedTokenizerBase, batch_size: int = 32,
                 threads: int | None = None, window_fn: WindowRunner | None = None, backend: str = "torch",
                 snap_arguments: bool = True, trigger_lexicon: TriggerLexicon | str | os.PathLike | None = None,
                 role_o_bias: float | None = None, head: str | None = None, window_breaks: str | None = None):
        self.model = model
        self.tokenizer = tokenizer
        self.backend = backend
        if threads:
            torch.set_num_threads(threads)
        if isinstance(trigger_lexicon, (str, os.PathLike)):
            trigger_lexicon = TriggerLexicon.load(trigger_lexicon)
        self.predictor = Predictor(model, tokenizer, batch_size=batch_size, window_fn=window_fn,
                                   snap_arguments=snap_arguments, trigger_lexicon=trigger_lexicon,
                                   role_o_bias=role_o_bias, head=head, window_breaks=window_breaks)

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike, batch_size: int = 32,
                        threads: int | None = None, backend: str = "torch",
                        snap_arguments: bool = True,
                        trigger_lexicon: TriggerLexicon | str | os.PathLike | None = None,
                        role_o_bias: float | None = None, head: str | None = None,
                        window_breaks: str | None = None) -> Extractor:
        """Load a model directory written by ``diplomat-ie train``.

        Args:
            path: the model directory (safetensors + config + tokenizer).
            batch_size: windows per forward pass.
            threads: CPU threads for torch (and for onnxruntime; default: the runtime's own choice).
            backend: ``"torch"``, ``"torch-bf16"`` (bfloat16 autocast matmuls: fast on CPUs with
                AVX512-BF16/AMX, not bit-identical to fp32), ``"onnx"`` (``DIR/onnx/model.onnx``) or
                ``"onnx-int8"`` (``DIR/onnx/model.int8.onnx``); the ONNX files come from
                ``diplomat-ie export onnx``.
            snap_arguments: move role arguments onto the predicted entities they overlap
                (:func:`~diplomat_ie.modeling.predictions.snap_arguments`); ``False`` gives the role head's raw spans.
            trigger_lexicon: a YAML path, ``"default"`` (the packaged lexicon: visits, meetings, talks,
                summits, arrivals) or a :class:`~diplomat_ie.data.triggers.TriggerLexicon`: its words
                become extra triggers (``"origin": "lexicon"``) where the model found none.
            role_o_bias: lower the role head's ``O`` / ``none`` logit by this much: more arguments, less
                precision (the README has the measured trade-off); None: the model's ``roles.none_bias``.
            head: an extra NER head of the model (``config.extra_heads``) to take the entities from;
                None: the main head (entities and events).
            window_breaks: ``"paragraph"``: no window crosses a blank line (each paragraph read on its own);
                ``"none"``: windows pack sentences across paragraphs; None: the model's ``model.window_breaks``.

        Returns:
            A ready :class:`Extractor`.
        """
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}; choose from {', '.join(BACKENDS)}")
        if backend.startswith("onnx"):
            from .onnx_backend import load_onnx

            heads, onnx_tokenizer, onnx_runner = load_onnx(path, backend=backend, threads=threads)
            return cls(heads, onnx_tokenizer, batch_size=batch_size, threads=threads, window_fn=onnx_runner,
                       backend=backend, snap_arguments=snap_arguments, trigger_lexicon=trigger_lexicon,
                       role_o_bias=role_o_bias, head=head, window_breaks=window_breaks)
        model, tokenizer = load_model_dir(path)
        window_fn: WindowRunner | None = None
        if backend == "torch-bf16":
            if not torch.cpu._is_avx512_bf16_supported():
                log.warning("backend torch-bf16: this CPU has no AVX512-BF16; expect it to be slower than fp32")
            window_fn = bf16_window_outputs(model)
        return cls(model, tokenizer, batch_size=batch_size, threads=threads, window_fn=window_fn, backend=backend,
                   snap_arguments=snap_arguments, trigger_lexicon=trigger_lexicon, role_o_bias=role_o_bias,
                   head=head, window_breaks=window_breaks)

    @overload
    def __call__(self, texts: str, progress: Progress | None = None) -> ExtractionResult: ...

    @overload
    def __call__(self, texts: list[str], progress: Progress | None = None) -> list[ExtractionResult]: ...

    def __call__(self, texts: str | list[str],
                 progress: Progress | None = None) -> ExtractionResult | list[ExtractionResult]:
        """Extract from one text (returns one result) or a list of texts (returns a list)."""
        single = isinstance(texts, str)
        if not single and (isinstance(texts, (bytes, bytearray, dict)) or not hasattr(texts, "__iter__")):
            raise TypeError(f"expected a str or a list of str, got {type(texts).__name__}")
        batch: list[str] = [texts] if isinstance(texts, str) else list(texts)
        for i, t in enumerate(batch):
            if not isinstance(t, str):
                raise TypeError(f"text #{i} is {type(t).__name__}, expected str")
        preds = self.predictor.predict(batch, progress=progress)
        results = [to_result(t, p) for t, p in zip(batch, preds, strict=True)]
        return results[0] if single else results

    predict = __call__
