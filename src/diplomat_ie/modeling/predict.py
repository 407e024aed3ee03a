"""Batched prediction over encoded documents: nested entities and event roles, exact char offsets."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import torch

from ..config import WINDOW_BREAKS
from ..data.labels import assign_layers, spans_to_bio
from .bio_decoding import bio_transitions, viterbi_bio
from .encoding import EncodedDoc, Window, encode_document
from .features import collate, subword_span
from .heads import DiplomatHeads, split_ner_layers
from .model import DiplomatModel
from .pair_features import Candidate as PairCandidate
from .pair_features import decode_pairs, pad_candidates, predicted_candidates, type_id
from .predictions import (
    DocPred,
    EntityIndex,
    EventPred,
    SpanPred,
    decode_tags,
    keep_single_roles,
    snap_arguments,
)
from .runners import WindowOutputs, WindowRunner, length_batches, torch_window_outputs
from .sentences import cross_sentence, sentence_tensor, window_sentence_ids, word_spans
from .spans import Candidate, decode_spans, span_candidates, split_span_logits
from .type_lexicon import retype_entities
from .word_features import has_word_features

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

    from ..data.triggers import TriggerLexicon


def _window_triggers(ner_tags: list[list[str]], ner_probs: list[list[float]], win: Window,
                     trigger_types: set[str]) -> list[SpanPred]:
    trig: dict[tuple[int, int, str], SpanPred] = {}
    for tags, probs in zip(ner_tags, ner_probs, strict=True):
        for s in decode_tags(tags, probs, 0):
            if s.type in trigger_types and win.own_lo <= s.lo + win.lo < win.own_hi:
                trig.setdefault((s.lo, s.hi, s.type), s)
    return sorted(trig.values(), key=lambda s: (s.lo, s.hi))


def _add_lexicon_triggers(trig: list[SpanPred], enc: EncodedDoc, win: Window,
                          lexicon: TriggerLexicon) -> list[SpanPred]:
    """Window-relative single-word triggers for lexicon words the window owns and no trigger covers."""
    covered = {i for s in trig for i in range(s.lo, s.hi)}
    extra = [SpanPred(i - win.lo, i - win.lo + 1, lexicon.type, 1.0, "lexicon")
             for i in range(win.own_lo, win.own_hi)
             if i - win.lo not in covered and win.word_pos[i - win.lo] >= 0 and lexicon.matches(enc.words[i].text)]
    return sorted(trig + extra, key=lambda s: (s.lo, s.hi)) if extra else trig


LayerOut = dict[tuple[int, int], tuple[list[list[str]], list[list[float]]]]  # (doc, window) -> (tags, probs)
SpanOut = dict[tuple[int, int], list[Candidate]]  # span head: (doc, window) -> its decoded spans


def _events_on_entities(events: list[EventPred], entities: list[SpanPred]) -> list[EventPred]:
    """Span head: events whose model trigger survived the document-level decode. A window's trigger that
    crosses a higher-scoring span of a neighbouring window is dropped there, so it is no trigger either."""
    kept = {(e.lo, e.hi, e.type) for e in entities}
    return [ev for ev in events if ev.trigger.origin != "model" or (ev.trigger.lo, ev.trigger.hi, ev.trigger.type) in kept]


def _owned_triggers(spans: list[Candidate], labels: list[str], win: Window, trigger_types: set[str]) -> list[SpanPred]:
    """Window-relative triggers among a window's decoded spans, those starting on a word the window owns."""
    return [SpanPred(c.lo, c.hi, labels[c.cls], c.score) for c in spans
            if labels[c.cls] in trigger_types and win.own_lo <= c.lo + win.lo < win.own_hi]


class Progress(Protocol):
    def update(self, n: int) -> object: ...


def _role_shift(biases: dict[str, float], labels: list[str], pair: bool) -> torch.Tensor | None:
    """``roles.role_biases`` as a vector over the role head's labels (pair: ``none`` + roles; bio: ``O``,
    ``B-r``, ``I-r``); None when no bias is set."""
    if not any(biases.values()) or not labels:
        return None
    role_of = (lambda lab: lab) if pair else (lambda lab: lab[2:] if lab[:2] in ("B-", "I-") else "")
    return torch.tensor([float(biases.get(role_of(lab), 0.0)) for lab in labels])


def _type_shift(biases: dict[str, float], labels: list[str]) -> torch.Tensor | None:
    """``model.type_biases`` as a vector over a NER head's labels (layered: ``O``, ``B-T``, ``I-T``; span:
    ``none`` and the types); None when no bias is set."""
    if not any(biases.values()) or not labels:
        return None
    return torch.tensor([float(biases.get(lab[2:] if lab[:2] in ("B-", "I-") else lab, 0.0)) for lab in labels])


class Predictor:
    """Runs a :class:`DiplomatModel` over texts; one encoder pass per window for NER and roles.

    ``window_fn`` (default :func:`torch_window_outputs`) computes word vectors and NER logits of a
    padded batch of windows; ``model`` then only needs ``config``, ``role_head`` and ``eval()``.
    ``snap_arguments`` moves role arguments onto overlapping predicted entities (:func:`snap_arguments`;
    the README has its effect on role F1).
    ``trigger_lexicon`` (a :class:`~diplomat_ie.data.triggers.TriggerLexicon`) adds its words as triggers
    where the model predicted none (end-to-end setting only). ``role_o_bias`` (default: the model's
    ``roles.none_bias``) lowers the role head's ``O`` / ``none`` logit by that much: more arguments, less
    precision. Windows are batched by length (:func:`length_batches`: at most ``batch_size`` per pass, at
    most ``max_padding`` padded tokens).
    ``head`` names an extra NER head (``config.extra_heads``, from ``data.extra_corpora``): its entities
    replace the main head's, and no events are predicted (the role head reads the main head's triggers).
    ``window_breaks`` (default: the model's ``model.window_breaks``): ``"paragraph"`` reads each paragraph in
    windows of its own (:func:`~diplomat_ie.modeling.encoding.window_ranges`).
    """

    def __init__(self, model: DiplomatModel | DiplomatHeads, tokenizer: PreTrainedTokenizerBase, batch_size: int = 32,
                 window_fn: WindowRunner | None = None, snap_arguments: bool = True,
                 trigger_lexicon: TriggerLexicon | None = None, role_o_bias: float | None = None,
                 max_padding: float | None = 0.1, head: str | None = None, window_breaks: str | None = None):
        self.model = model
        if window_breaks is not None and window_breaks not in WINDOW_BREAKS:
            raise ValueError(f"window_breaks must be one of {', '.join(WINDOW_BREAKS)}, got {window_breaks!r}")
        self.window_breaks = window_breaks  # None: the model's model.window_breaks (configs saved without it: none)
        self.max_padding = max_padding
        # an explicit role_o_bias overrides the model's roles.none_bias (configs saved without it: 0)
        self.role_o_bias = role_o_bias if role_o_bias is not None else float(getattr(model.config, "role_none_bias", 0.0))
        self.snap_arguments = snap_arguments
        self.trigger_lexicon = trigger_lexicon
        if window_fn is None:
            if not isinstance(model, DiplomatModel):
                raise ValueError("a model without its encoder (DiplomatHeads) needs a window_fn")
            window_fn = torch_window_outputs(model)
        self.window_fn = window_fn
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        cfg = model.config
        self.head = head
        self.ner_labels, self.num_layers, self.trigger_types = cfg.ner_labels, cfg.num_layers, set(cfg.trigger_types)
        if head is not None:
            try:
                self.ner_labels = cfg.extra_ner_labels(head)
            except KeyError as exc:
                raise ValueError(exc.args[0]) from None
            self.num_layers, self.trigger_types = int(cfg.extra_heads[head]["num_layers"]), set()
        self.role_labels = cfg.role_labels if model.role_head is not None else []
        # model.ner_decoding (a runtime setting; configs saved without it decode by argmax)
        decoding = getattr(cfg, "ner_decoding", "argmax")
        self.bio_masks = bio_transitions(self.ner_labels) if decoding == "viterbi" else None
        # model.type_biases (a runtime setting; configs saved without it: none): the main head's labels only
        biases = (getattr(cfg, "type_biases", None) or {}) if head is None else {}
        self.type_shift = _type_shift(biases, cfg.span_labels if cfg.is_span else self.ner_labels)
        self.pair = model.role_head is not None and getattr(cfg, "role_head", "bio") == "pair"
        # roles.single_roles (a runtime setting; configs saved without it: none)
        self.single_roles = frozenset(getattr(cfg, "role_single_roles", None) or ())
        # roles.cross_sentence_bias (a runtime setting; configs saved without it: 0)
        self.cross_sentence_bias = float(getattr(cfg, "role_cross_sentence_bias", 0.0) or 0.0)
        # roles.role_biases (a runtime setting; configs saved without it: none): per label id of the role head
        self.role_shift = _role_shift(getattr(cfg, "role_biases", None) or {},
                                      cfg.pair_labels if self.pair else self.role_labels, self.pair)
        # roles.pair_sentence: the pair head itself reads which candidates share the trigger's sentence
        self.pair_sentence = self.pair and bool(getattr(cfg, "pair_sentence", False))
        pad = tokenizer.pad_token_id
        self.pad_id = pad if pad is not None else 0
        # model.type_lexicon (a runtime setting): the main head's types corrected after decoding
        corrects = bool(getattr(cfg, "type_lexicon", None)) and head is None
        self.type_lexicon = getattr(model, "type_lexicon", None) if corrects else None
        if corrects and self.type_lexicon is None:
            raise ValueError("model.type_lexicon is set but the model has no type lexicon (load it with "
                             "modeling.io.load_model_dir / load_heads)")
        self.featurizer = getattr(model, "featurizer", None)  # word features: an extra input per window
        if self.featurizer is None and has_word_features(cfg):
            raise ValueError("this model reads word features but has no featurizer (load it with "
                             "modeling.io.load_model_dir / load_heads)")

    def encode(self, text: str) -> EncodedDoc:
        cfg = self.model.config
        return encode_document(text, self.tokenizer, cfg.window_length, cfg.overlap,
                               str(self.window_breaks or getattr(cfg, "window_breaks", "none")))

    @torch.inference_mode()
    def predict(self, texts: list[str], gold_triggers: list[list[tuple[int, int, str]]] | None = None,
                encoded: list[EncodedDoc] | None = None, progress: Progress | None = None,
                gold_entities: list[list[tuple[int, int, str]]] | None = None) -> list[DocPred]:
        """Predict entities and events for ``texts``.

        ``gold_triggers`` (per text: char spans with type) replaces the predicted triggers for the
        role head (the gold-trigger evaluation setting). ``gold_entities`` (same shape) replaces the
        predicted entities as argument candidates: the pair head classifies them, the BIO head's
        arguments are snapped onto them (the gold-entity setting; ``pred.entities`` stay predicted).
        """
        self.model.eval()
        encs = encoded if encoded is not None else [self.encode(t) for t in texts]
        preds = [DocPred(enc=e) for e in encs]
        gold_words = [self._gold_trigger_words(e, g) for e, g in
                      zip(encs, gold_triggers, strict=True)] if gold_triggers is not None else None
        gold_ents = [self._gold_trigger_words(e, g) for e, g in
                     zip(encs, gold_entities, strict=True)] if gold_entities is not None else None
        items = [(d, w) for d, e in enumerate(encs) for w in range(len(e.windows))]
        m = getattr(self.window_fn, "pad_multiple", 1)  # a plain callable (no attribute) does not pad
        lengths = [-(-len(encs[d].windows[w].input_ids) // m) * m for d, w in items]
        layer_out: LayerOut = {}
        span_out: SpanOut = {}
        for batch in length_batches(lengths, self.batch_size, self.max_padding):
            chunk = [items[i] for i in batch]
            self._run_batch(chunk, encs, preds, gold_words, layer_out, span_out, gold_ents)
            if progress is not None:
                progress.update(len(chunk))
        for d, pred in enumerate(preds):
            if self.model.config.is_span and self.head is None:
                pred.entities, pred.layer_tags = self._merge_spans(encs[d], d, span_out)
                if gold_words is None:
                    pred.events = _events_on_entities(pred.events, pred.entities)
            else:
                pred.entities, pred.layer_tags = self._merge_entities(encs[d], d, layer_out)
            if self.type_lexicon is not None:
                pred.entities = retype_entities(pred.entities, [w.text for w in encs[d].words], pred.layer_tags,
                                                self.type_lexicon, self.model.config)
            pred.events.sort(key=lambda ev: (ev.trigger.lo, ev.trigger.hi))
            if (self.snap_arguments or gold_ents is not None) and pred.events:
                index = EntityIndex(gold_ents[d] if gold_ents is not None else pred.entities)
                for ev in pred.events:
                    ev.arguments = snap_arguments(ev.arguments, index, ev.trigger)
            if self.single_roles and not self.pair:  # the pair head applied them while decoding
                for ev in pred.events:
                    ev.arguments = keep_single_roles(ev.arguments, self.single_roles)
        return preds

    def _gold_trigger_words(self, enc: EncodedDoc, triggers: list[tuple[int, int, str]]) -> list[SpanPred]:
        from ..data.labels import char_to_word_span

        starts = [w.start for w in enc.words]
        ends = [w.end for w in enc.words]
        out = []
        for start, end, typ in triggers:
            span = char_to_word_span(start, end, starts, ends)
            if span is not None:
                out.append(SpanPred(span[0], span[1], typ, 1.0))
        return out

    def _run_batch(self, chunk: list[tuple[int, int]], encs: list[EncodedDoc], preds: list[DocPred],
                   gold_words: list[list[SpanPred]] | None, layer_out: LayerOut, span_out: SpanOut,
                   gold_ents: list[list[SpanPred]] | None = None) -> None:
        wins = [encs[d].windows[w] for d, w in chunk]
        rows = [{"input_ids": x.input_ids, "word_pos": x.word_pos} for x in wins]
        if self.featurizer is not None:
            for (d, _), win, row in zip(chunk, wins, rows, strict=True):
                row["word_feats"] = self.featurizer([t.text for t in encs[d].words[win.lo : win.hi]])
        batch = collate(rows, self.pad_id)
        args = [batch["input_ids"], batch["attention_mask"], batch["word_pos"]]
        word_feats = batch.get("word_feats")
        if word_feats is not None:  # only then: runners of models without word features take three inputs
            args.append(word_feats)
        # WindowOutputs(*...): a runner of an older export may give just (words, ner_logits)
        out = WindowOutputs(*self.window_fn(*args))
        predicted = gold_words is None  # gold triggers replace the predicted ones
        if self.head is not None:  # the extra head (layered) runs on the runner's word vectors (torch or ONNX)
            heads = self.model.heads if isinstance(self.model, DiplomatModel) else self.model
            found = self._layer_triggers(chunk, wins, heads.extra_ner_logits(out.words, self.head), layer_out,
                                         predicted)
        elif self.model.config.is_span:
            found = self._span_triggers(chunk, wins, out.ner_logits, span_out)
        else:
            found = self._layer_triggers(chunk, wins, out.ner_logits, layer_out, predicted)
        if self.model.role_head is None or self.head is not None:
            return  # no events: the role head reads the main head's triggers
        trig_batch = []
        for (d, _), win, trig in zip(chunk, wins, found, strict=True):
            if gold_words is not None:
                trig = [s for s in gold_words[d] if win.own_lo <= s.lo < win.own_hi and s.hi <= win.hi]
                trig = [SpanPred(s.lo - win.lo, s.hi - win.lo, s.type, s.score) for s in trig]
            elif self.trigger_lexicon is not None:
                trig = _add_lexicon_triggers(trig, encs[d], win, self.trigger_lexicon)
            trig_batch.append(trig)
        cand_batch = None
        if self.pair:
            cand_batch = [self._candidates((d, w), win, layer_out, span_out, None if gold_ents is None else gold_ents[d])
                          for (d, w), win in zip(chunk, wins, strict=True)]
        if any(trig_batch):
            sent = None
            if self.cross_sentence_bias or self.pair_sentence:
                sent = sentence_tensor([window_sentence_ids(encs[d].sentences, win.lo, win.hi)
                                        for (d, _), win in zip(chunk, wins, strict=True)], out.words.size(1))
            self._run_roles(out.words, chunk, wins, trig_batch, preds, out, batch["word_pos"], cand_batch,
                            word_feats, sent)

    def _layer_triggers(self, chunk: list[tuple[int, int]], wins: list[Window], ner_logits: torch.Tensor,
                        layer_out: LayerOut, predicted: bool = True) -> list[list[SpanPred]]:
        """Layered head (the main one, or the extra head ``self.head``): each window's tags and
        probabilities into ``layer_out``; its predicted triggers (none when not ``predicted``)."""
        k = self.num_layers
        logits = split_ner_layers(ner_logits, k)
        if self.type_shift is not None:
            logits = logits.float() + self.type_shift.to(logits.device)
        if self.bio_masks is None:
            top_p, top_id = logits.softmax(-1).max(-1)
        else:  # the best BIO-consistent path of each layer of each window
            b, _, width, n_labels = logits.shape
            lengths = [min(win.hi - win.lo, width) for win in wins for _ in range(k)]
            log_p = logits.float().log_softmax(-1)
            top_id = viterbi_bio(log_p.reshape(b * k, width, n_labels), lengths, *self.bio_masks).view(b, k, width)
            top_p = log_p.gather(-1, top_id.unsqueeze(-1)).squeeze(-1).exp()
        ids, probs = top_id.tolist(), top_p.tolist()  # one conversion, not one tensor slice per window and layer
        found = []
        for j, ((d, w), win) in enumerate(zip(chunk, wins, strict=True)):
            n = win.hi - win.lo
            tags = [[self.ner_labels[t] if win.word_pos[i] >= 0 else "O" for i, t in
                     enumerate(ids[j][layer][:n])] for layer in range(k)]
            pr = [probs[j][layer][:n] for layer in range(k)]
            layer_out[(d, w)] = (tags, pr)
            found.append(_window_triggers(tags, pr, win, self.trigger_types) if predicted else [])
        return found

    def _span_triggers(self, chunk: list[tuple[int, int]], wins: list[Window], ner_logits: torch.Tensor,
                       span_out: SpanOut) -> list[list[SpanPred]]:
        """Span head: each window's decoded spans into ``span_out``; its predicted triggers."""
        cfg = self.model.config
        logits = split_span_logits(ner_logits, cfg.max_span_width).float()
        if self.type_shift is not None:
            logits = logits + self.type_shift.to(logits.device)
        probs = logits.softmax(-1).cpu()
        labels, trigger_types = cfg.span_labels, set(cfg.trigger_types)
        found = []
        for j, ((d, w), win) in enumerate(zip(chunk, wins, strict=True)):
            spans = decode_spans(span_candidates(probs[j], win.hi - win.lo, [p >= 0 for p in win.word_pos]))
            span_out[(d, w)] = spans
            found.append(_owned_triggers(spans, labels, win, trigger_types))
        return found

    def _candidates(self, key: tuple[int, int], win: Window, layer_out: LayerOut, span_out: SpanOut,
                    gold: list[SpanPred] | None) -> list[PairCandidate]:
        """The pair head's candidates in a window: the predicted entities (of every layer, or the span
        head's decoded spans), or the gold ones."""
        cfg = self.model.config
        types = cfg.entity_types
        if gold is not None:
            return sorted({(s.lo - win.lo, s.hi - win.lo, type_id(types, s.type)) for s in gold
                           if s.lo >= win.lo and s.hi <= win.hi})
        if cfg.is_span:
            labels = cfg.span_labels
            return sorted({(c.lo, c.hi, type_id(types, labels[c.cls])) for c in span_out[key]})
        return predicted_candidates(layer_out[key][0], types)

    def _run_roles(self, words: torch.Tensor, chunk: list[tuple[int, int]], wins: list[Window],
                   trig_batch: list[list[SpanPred]], preds: list[DocPred], out: WindowOutputs,
                   word_pos: torch.Tensor, cand_batch: list[list[PairCandidate]] | None = None,
                   word_feats: torch.Tensor | None = None, sent: torch.Tensor | None = None) -> None:
        nt = max(len(t) for t in trig_batch)
        spans = torch.tensor([[(s.lo, s.hi) for s in trig] + [(0, 0)] * (nt - len(trig)) for trig in trig_batch],
                             dtype=torch.long)
        layer_l = self.model.config.role_marker_layer
        if layer_l is not None and (out.hidden_l is None or out.attention_mask is None):
            raise RuntimeError(f"this role-marker model needs the hidden states of encoder layer {layer_l}, "
                               "which the window runner does not return; re-run `diplomat-ie export onnx`")
        hidden_l, mask, sub = out.hidden_l, out.attention_mask, None
        if layer_l is not None:
            sub = torch.tensor([[subword_span(win.word_pos, len(win.input_ids), s.lo, s.hi) for s in trig]
                                + [(0, 0)] * (nt - len(trig)) for trig, win in zip(trig_batch, wins, strict=True)],
                               dtype=torch.long)
        dev = words.device
        spans, word_pos, sub = spans.to(dev), word_pos.to(dev), None if sub is None else sub.to(dev)
        if word_feats is not None:
            word_feats = word_feats.to(dev)
        if cand_batch is not None:
            self._pair_events(words, spans, (hidden_l, mask, word_pos, sub), chunk, wins, trig_batch, cand_batch,
                              preds, word_feats, sent)
            return
        logits = self.model.role_logits(words, spans, hidden_l, mask, word_pos, sub, word_feats=word_feats)
        if self.role_o_bias:  # P(O) scaled by exp(-bias): more arguments, at the cost of precision
            logits = logits.clone()
            logits[..., 0] -= self.role_o_bias
        if self.role_shift is not None:
            logits = logits + self.role_shift.to(logits.device, logits.dtype)
        if sent is not None and self.cross_sentence_bias:  # words outside the trigger's sentence need more evidence
            other = cross_sentence(spans.cpu(), word_spans(logits.size(2), logits.size(0)), sent[:, : logits.size(2)])
            logits = logits.clone()
            logits[..., 0] += other.to(logits.device, logits.dtype) * self.cross_sentence_bias
        top_p, top_id = logits.softmax(-1).max(-1)
        found = (top_id != 0).any(-1).tolist()  # label 0 is "O": rows without any argument are skipped
        ids, probs = top_id.tolist(), top_p.tolist()  # one conversion, not one tensor slice per trigger
        for j, ((d, _), win, trig) in enumerate(zip(chunk, wins, trig_batch, strict=True)):
            n = win.hi - win.lo
            for t, s in enumerate(trig):
                args = []
                if found[j][t]:
                    tags = [self.role_labels[x] if win.word_pos[i] >= 0 else "O"
                            for i, x in enumerate(ids[j][t][:n])]
                    args = decode_tags(tags, probs[j][t][:n], win.lo)
                trigger = SpanPred(s.lo + win.lo, s.hi + win.lo, s.type, s.score, s.origin)
                preds[d].events.append(EventPred(trigger=trigger, arguments=args))

    def _pair_events(self, words: torch.Tensor, spans: torch.Tensor, marker_inputs: tuple, chunk: list[tuple[int, int]],
                     wins: list[Window], trig_batch: list[list[SpanPred]], cand_batch: list[list[PairCandidate]],
                     preds: list[DocPred], word_feats: torch.Tensor | None = None,
                     sent: torch.Tensor | None = None) -> None:
        """Events of the pair head: each trigger's candidates classified (``role_o_bias`` lowers ``none``;
        with ``sent``, the windows' sentence ids, ``roles.cross_sentence_bias`` raises it across sentences)."""
        cand_spans, cand_types = (x.to(words.device) for x in pad_candidates(cand_batch))
        hidden_l, mask, word_pos, sub = marker_inputs
        other = None if sent is None else cross_sentence(spans.cpu(), cand_spans.cpu(), sent)
        cross = other.to(words.device) if other is not None and self.pair_sentence else None
        logits = self.model.pair_role_logits(words, spans, cand_spans, cand_types, hidden_l, mask, word_pos, sub,
                                             word_feats=word_feats, cross=cross)
        if self.role_shift is not None:
            logits = logits + self.role_shift.to(logits.device, logits.dtype)
        labels = self.model.config.pair_labels
        single = [k for k, label in enumerate(labels) if label in self.single_roles]
        shift = None
        if other is not None and self.cross_sentence_bias:
            shift = other.to(logits.device, torch.float32) * self.cross_sentence_bias
        found = decode_pairs(logits, [[(s.lo, s.hi) for s in t] for t in trig_batch], cand_batch, self.role_o_bias,
                             single, shift)
        for (d, _), win, trig, rows in zip(chunk, wins, trig_batch, found, strict=True):
            for s, args in zip(trig, rows, strict=True):
                trigger = SpanPred(s.lo + win.lo, s.hi + win.lo, s.type, s.score, s.origin)
                arguments = [SpanPred(lo + win.lo, hi + win.lo, labels[k], p) for lo, hi, k, p in args]
                preds[d].events.append(EventPred(trigger=trigger, arguments=arguments))

    def _merge_entities(self, enc: EncodedDoc, d: int, layer_out: LayerOut) -> tuple[list[SpanPred], list[list[str]]]:
        """Stitch each layer's owned words from all windows, then decode BIO over the whole document."""
        k = self.num_layers
        n = len(enc.words)
        tags = [["O"] * n for _ in range(k)]
        probs = [[0.0] * n for _ in range(k)]
        for w, win in enumerate(enc.windows):
            wt, wp = layer_out[(d, w)]
            for layer in range(k):
                for i in range(win.own_lo, win.own_hi):
                    tags[layer][i] = wt[layer][i - win.lo]
                    probs[layer][i] = wp[layer][i - win.lo]
        seen: dict[tuple[int, int, str], SpanPred] = {}
        for layer in range(k):
            for s in decode_tags(tags[layer], probs[layer], 0):
                key = (s.lo, s.hi, s.type)
                if key not in seen or seen[key].score < s.score:
                    seen[key] = s
        return sorted(seen.values(), key=lambda s: (s.lo, -s.hi, s.type)), tags

    def _merge_spans(self, enc: EncodedDoc, d: int, span_out: SpanOut) -> tuple[list[SpanPred], list[list[str]]]:
        """Span head: each window's spans that start on a word it owns, decoded again over the document
        (a crossing pair from two windows keeps the higher score); layer tags are those entities split
        into ``num_layers`` nesting layers (for the per-layer report)."""
        cands = [Candidate(c.lo + win.lo, c.hi + win.lo, c.cls, c.score) for w, win in enumerate(enc.windows)
                 for c in span_out[(d, w)] if win.own_lo <= c.lo + win.lo < win.own_hi]
        labels = self.model.config.span_labels
        ents = [SpanPred(c.lo, c.hi, labels[c.cls], c.score) for c in decode_spans(cands)]
        k, n = self.model.config.num_layers, len(enc.words)
        layers = assign_layers([(e.lo, e.hi, e.type) for e in ents], max_layers=k)
        tags = [spans_to_bio(layers[i] if i < len(layers) else [], n) for i in range(k)]
        return sorted(ents, key=lambda s: (s.lo, -s.hi, s.type)), tags
