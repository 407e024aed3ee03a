"""Everything after the encoder, defined once: :class:`DiplomatHeads` serves every runtime.

:class:`~diplomat_ie.modeling.model.DiplomatModel` is encoder + heads; the ONNX backend runs the same
module behind its exported encoder. The heads hold dropout, the NER head (K nested BIO layers, or with
``ner_head: span`` the span classifier of :mod:`.spans`), the event-role head,
and in marker mode the marker vector and encoder layers ``L..`` (re-run once per trigger).

Role head (all triggers of a window in one encoder pass): for every trigger t and word w,
``z = gelu(A w + B t + (C w) * (D t) + E[dist(w, t)])`` and a linear layer tags ``w`` with the
BIO role it plays for ``t``. The trigger vector is the mean of its words' vectors.

Marker mode (``config.role_marker_layer = L``): the encoder's layers ``L..`` run again once per trigger
on the hidden states entering layer ``L``, with a learned marker vector added to the trigger's subwords,
and the role head reads those trigger-aware word vectors. ``L = 0`` is the classic marker-per-trigger
(BERT SRL) model, one full encoder pass per trigger; larger ``L`` shares more of the pass. The marker
starts at zero, so switching a trained model to marker mode starts from its exact predictions.

Extra NER heads (``config.extra_heads``, one per extra training corpus label set): each is a linear
layered BIO tagger like the layered main NER head (also next to a span main head), over the same
first-subword vectors (``extra_ner.<name>``).

Word features (``model.word_vectors`` / ``model.word_lexicon``, :mod:`.word_features`): a vector per word,
computed from the ``word_feats`` input, is concatenated to every first-subword vector (both the shared
pass and, in marker mode, the per-trigger pass), so the NER and role heads read ``hidden + size`` wide
word vectors.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

import torch
import torch.nn.functional as F
from torch import nn
from transformers import AutoModel, PretrainedConfig
from transformers.masking_utils import create_bidirectional_mask

from .configuration import DiplomatConfig
from .distance import distance_buckets  # re-exported: it lived here first
from .pair_roles import PairRoleHead
from .scalar_mix import ScalarMix
from .spans import SpanHead
from .type_lexicon import TypeLexicon
from .word_features import WordFeatures, WordFeaturizer, has_word_features

HEADS_PREFIX = "heads."  # where DiplomatModel keeps its heads (state-dict key prefix)


class RoleHead(nn.Module):
    def __init__(self, hidden: int, inner: int, n_labels: int, max_distance: int, dropout: float):
        super().__init__()
        self.max_distance = max_distance
        self.word = nn.Linear(hidden, inner)
        self.trig = nn.Linear(hidden, inner)
        self.word_m = nn.Linear(hidden, inner, bias=False)
        self.trig_m = nn.Linear(hidden, inner, bias=False)
        self.dist = nn.Embedding(32, inner)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(inner, n_labels)

    def forward(self, words: torch.Tensor, trig_spans: torch.Tensor) -> torch.Tensor:
        """words ``[B, W, H]``, trig_spans ``[B, T, 2]`` (word lo, hi) -> logits ``[B, T, W, L]``.

        Only real triggers (``hi > lo``) are computed; padding triggers get zero logits.
        """
        b, t = trig_spans.shape[:2]
        bi, ti = (trig_spans[..., 1] > trig_spans[..., 0]).nonzero(as_tuple=True)
        if not len(bi):
            return words.new_zeros((b, t, words.size(1), self.out.out_features))
        logits = self.pair_logits(words, bi, trig_spans[bi, ti])
        out = logits.new_zeros((b, t, words.size(1), logits.size(-1)))  # bf16 under autocast, like logits
        out[bi, ti] = logits
        return out

    def pair_logits(self, words: torch.Tensor, b_idx: torch.Tensor, spans: torch.Tensor) -> torch.Tensor:
        """Logits ``[N, W, L]`` for N triggers: ``spans`` ``[N, 2]`` in the windows ``words[b_idx]``."""
        idx = torch.arange(words.size(1), device=words.device)
        lo, hi = spans[:, :1], spans[:, 1:]
        inside = ((idx >= lo) & (idx < hi)).to(words.dtype)  # [N, W]
        trig_vec = (inside.unsqueeze(1) @ words[b_idx]).squeeze(1) / inside.sum(-1, keepdim=True).clamp(min=1)
        z = (self.word(words)[b_idx] + self.trig(trig_vec)[:, None]
             + self.word_m(words)[b_idx] * self.trig_m(trig_vec)[:, None]
             + self.dist(distance_buckets(idx, lo, hi, self.max_distance)))
        return self.out(self.drop(F.gelu(z)))


def gather_first_subwords(hidden: torch.Tensor, word_pos: torch.Tensor) -> torch.Tensor:
    """``[B, S, H]`` subword states -> ``[B, W, H]`` vectors of each word's first subword."""
    return hidden.gather(1, word_pos.clamp(min=0).unsqueeze(-1).expand(-1, -1, hidden.size(-1)))


def split_ner_layers(ner_logits: torch.Tensor, num_layers: int) -> torch.Tensor:
    """``[B, W, K * L]`` (what the NER head and the window runners give) -> ``[B, K, W, L]``."""
    b, w, _ = ner_logits.shape
    return ner_logits.view(b, w, num_layers, -1).transpose(1, 2)


class MarkedRunner(Protocol):
    """Replaces the heads' torch per-trigger pass (e.g. an ONNX session): ``-> [N, W, H]`` word vectors."""

    def __call__(self, hidden_l: torch.Tensor, attention_mask: torch.Tensor, trig_sub: torch.Tensor,
                 word_pos: torch.Tensor) -> torch.Tensor: ...


class DiplomatHeads(nn.Module):
    """Dropout, NER head, role head and (marker mode) marker vector + encoder layers ``L..``.

    The top layers are the encoder's own (``share_top_layers``, not registered here, so they are saved
    once, under the encoder) in a :class:`DiplomatModel`, or copies this module owns (``top.<j>.``) when
    it runs behind an exported encoder (:meth:`standalone`).

    Args:
        config: the model config (label sets, sizes, ``role_marker_layer``).
        encoder_config: the live encoder config: its attention implementation decides the mask layout.
    """

    def __init__(self, config: DiplomatConfig, encoder_config: PretrainedConfig):
        super().__init__()
        self.config = config
        self.encoder_config = encoder_config
        hidden = encoder_config.hidden_size
        self.dropout = nn.Dropout(config.dropout)
        mix = int(getattr(config, "scalar_mix", 0) or 0)  # configs saved before it: the top layer only
        self.scalar_mix = ScalarMix(mix) if mix >= 2 else None
        self.n_ner = len(config.span_labels if config.is_span else config.ner_labels)
        self.word_features = WordFeatures(config) if has_word_features(config) else None
        self.featurizer: WordFeaturizer | None = None  # data side of word_features (set by build / load)
        self.type_lexicon: TypeLexicon | None = None  # model.type_lexicon's lookups (set by training / load)
        # the word vectors every head reads: first-subword states, plus the word features if any
        width = hidden + (self.word_features.size if self.word_features is not None else 0)
        # one module, one state-dict prefix (heads.ner_head.*) for both kinds of NER head
        self.ner_head: nn.Module = (SpanHead(width, hidden, self.n_ner, config.max_span_width, config.dropout)
                                    if config.is_span else nn.Linear(width, config.num_layers * self.n_ner))
        # one linear layered tagger per extra corpus label set (whatever the main head's kind); an empty
        # dict registers no weights
        if clash := [n for n in config.extra_heads if hasattr(nn.ModuleDict, n)]:
            raise ValueError(f"data.extra_corpora: head name(s) {clash} are reserved; choose other names")
        self.extra_ner = nn.ModuleDict({
            name: nn.Linear(width, int(h["num_layers"]) * len(config.extra_ner_labels(name)))
            for name, h in config.extra_heads.items()})
        self.role_head: RoleHead | PairRoleHead | None = None
        if config.roles and getattr(config, "role_head", "bio") == "pair":
            self.role_head = PairRoleHead(width, config.role_hidden_size, len(config.entity_types),
                                          len(config.pair_labels), config.max_distance, config.dropout,
                                          context=getattr(config, "pair_context", False),
                                          sentence=getattr(config, "pair_sentence", False))
        elif config.roles:
            self.role_head = RoleHead(width, config.role_hidden_size, len(config.role_labels),
                                      config.max_distance, config.dropout)
        self.role_marker: nn.Parameter | None = None
        self.top: nn.ModuleList | tuple[nn.Module, ...] | None = None
        self.role_runner: MarkedRunner | None = None  # set by a runtime that exports the marked pass
        if self.role_head is not None and config.role_marker_layer is not None:
            self.role_marker = nn.Parameter(torch.zeros(hidden))

    @classmethod
    def standalone(cls, config: DiplomatConfig) -> DiplomatHeads:
        """Heads that own their top layers (random until loaded), for a runtime without the torch encoder."""
        enc_cfg = config.encoder_config()
        if config.role_marker_layer is None or not config.roles:
            return cls(config, enc_cfg)
        enc_cfg.vocab_size = 8  # only the layers are kept; do not allocate the embedding matrix
        encoder = AutoModel.from_config(enc_cfg)
        heads = cls(config, encoder.config)
        heads.top = nn.ModuleList(encoder.encoder.layer[config.role_marker_layer :])
        return heads

    @property
    def marker_layer(self) -> int | None:
        """``L`` in marker mode, else None."""
        return self.config.role_marker_layer if self.role_head is not None else None

    def enable_marker(self, layers: Iterable[nn.Module]) -> None:
        """Marker mode on the encoder layers ``layers`` (``L..``, shared); a new marker starts at zero."""
        self.share_top_layers(layers)
        if self.role_marker is None:
            p = next(self.ner_head.parameters())
            hidden = self.encoder_config.hidden_size  # the marker is added to encoder states, not word vectors
            self.role_marker = nn.Parameter(torch.zeros(hidden, dtype=p.dtype, device=p.device))

    def share_top_layers(self, layers: Iterable[nn.Module]) -> None:
        self.top = tuple(layers)  # a tuple registers nothing: the encoder owns (and saves) these layers

    def state_key_map(self) -> dict[str, str]:
        """A model file's key prefix -> this module's key prefix (heads + a standalone module's top layers)."""
        out = {HEADS_PREFIX: ""}
        if isinstance(self.top, nn.ModuleList) and self.marker_layer is not None:
            first = self.marker_layer
            out.update({f"encoder.encoder.layer.{first + j}.": f"top.{j}." for j in range(len(self.top))})
        return out

    def mask(self, hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor | None:
        """The mask the encoder's layers expect, built the way the encoder builds it (eager or SDPA)."""
        return create_bidirectional_mask(config=self.encoder_config, inputs_embeds=hidden,
                                         attention_mask=attention_mask)

    def gather_words(self, hidden: torch.Tensor, word_pos: torch.Tensor,
                     word_feats: torch.Tensor | None = None) -> torch.Tensor:
        """First-subword vectors ``[B, W, H]`` (after dropout) of subword states ``[B, S, H]``, with the word
        features of ``word_feats`` ``[B, W, C]`` concatenated when the model has them."""
        return self.dropout(self.add_word_features(gather_first_subwords(hidden, word_pos), word_feats))

    def add_word_features(self, words: torch.Tensor, word_feats: torch.Tensor | None) -> torch.Tensor:
        """``words`` ``[B, W, H]`` -> ``[B, W, H + size]`` (unchanged for a model without word features)."""
        if self.word_features is None:
            return words
        if word_feats is None:
            raise ValueError("this model reads word features (model.word_vectors / model.word_lexicon): "
                             "pass word_feats (WordFeaturizer rows of the window's words)")
        extra = self.word_features(word_feats.to(words.device))
        return torch.cat([words, extra.to(words.dtype)], -1)

    def ner_logits(self, words: torch.Tensor) -> torch.Tensor:
        """``[B, W, K * L]`` NER logits of all nesting layers (:func:`split_ner_layers` -> ``[B, K, W, L]``).

        The span head gives ``[B, W, max_width * C]`` (:func:`~.spans.split_span_logits` ->
        ``[B, W, max_width, C]``): the same ``[batch, words, -]`` layout, so every window runner and the
        ONNX export carry either head unchanged.
        """
        if self.config.is_span:
            return self.ner_head(words).flatten(2)
        return self.ner_head(words)

    def extra_ner_logits(self, words: torch.Tensor, head: str) -> torch.Tensor:
        """``[B, W, K_h * L_h]`` logits of the extra NER head ``head`` (:func:`split_ner_layers` with its K)."""
        if head not in self.extra_ner:
            raise KeyError(f"this model has no NER head {head!r} (extra heads: "
                           f"{', '.join(self.extra_ner) or 'none'})")
        return self.extra_ner[head](words)

    def role_logits(self, words: torch.Tensor, trig_spans: torch.Tensor, hidden_l: torch.Tensor | None = None,
                    attention_mask: torch.Tensor | None = None, word_pos: torch.Tensor | None = None,
                    trig_sub: torch.Tensor | None = None, chunk: int = 64,
                    word_feats: torch.Tensor | None = None) -> torch.Tensor:
        """Role logits ``[B, T, W, L]`` for triggers ``trig_spans`` ``[B, T, 2]`` (window word spans).

        Marker mode also needs ``hidden_l`` (the hidden states entering layer L), the attention mask,
        ``word_pos`` and ``trig_sub`` (the triggers' subword spans, ``[B, T, 2]``; empty spans are padding),
        and for a model with word features ``word_feats``.
        """
        if not isinstance(self.role_head, RoleHead):
            raise ValueError("this model has no BIO role head (roles.enabled: false, or roles.head: pair: "
                             "see pair_role_logits)")
        if self.marker_layer is None:
            return self.role_head(words, trig_spans)
        if hidden_l is None or attention_mask is None or word_pos is None or trig_sub is None:
            raise ValueError("marker mode needs hidden_l, attention_mask, word_pos and trig_sub")
        b, t = trig_spans.shape[:2]
        out = words.new_zeros((b, t, words.size(1), self.role_head.out.out_features))
        bi, ti = (trig_sub[..., 1] > trig_sub[..., 0]).nonzero(as_tuple=True)
        for s in range(0, len(bi), chunk):
            bb, tt = bi[s : s + chunk], ti[s : s + chunk]
            feats = None if word_feats is None else word_feats[bb]
            vec = self.marked_words(hidden_l[bb], attention_mask[bb], trig_sub[bb, tt], word_pos[bb], feats)
            logits = self.role_head.pair_logits(vec, torch.arange(len(bb), device=vec.device), trig_spans[bb, tt])
            out[bb, tt] = logits.to(out.dtype)  # autocast: the logits may be bf16, the fp32 words are not
        return out

    def pair_role_logits(self, words: torch.Tensor, trig_spans: torch.Tensor, cand_spans: torch.Tensor,
                         cand_types: torch.Tensor, hidden_l: torch.Tensor | None = None,
                         attention_mask: torch.Tensor | None = None, word_pos: torch.Tensor | None = None,
                         trig_sub: torch.Tensor | None = None, chunk: int = 64,
                         word_feats: torch.Tensor | None = None, cross: torch.Tensor | None = None) -> torch.Tensor:
        """Pair-head logits ``[B, T, C, L]`` for triggers ``[B, T, 2]`` and candidates ``cand_spans``
        ``[B, C, 2]`` / ``cand_types`` ``[B, C]`` (:mod:`.pair_roles`; ``cross`` ``[B, T, C]``: the pairs in
        different sentences, for a ``roles.pair_sentence`` head); marker mode (and ``word_feats``) as
        :meth:`role_logits`."""
        head = self.role_head
        if not isinstance(head, PairRoleHead):
            raise ValueError("this model has no pair role head (roles.head: pair)")
        if self.marker_layer is None:
            return head(words, trig_spans, cand_spans, cand_types, cross)
        if hidden_l is None or attention_mask is None or word_pos is None or trig_sub is None:
            raise ValueError("marker mode needs hidden_l, attention_mask, word_pos and trig_sub")
        b, t = trig_spans.shape[:2]
        out = words.new_zeros((b, t, cand_spans.size(1), head.out.out_features))
        bi, ti = (trig_sub[..., 1] > trig_sub[..., 0]).nonzero(as_tuple=True)
        for s in range(0, len(bi), chunk):
            bb, tt = bi[s : s + chunk], ti[s : s + chunk]
            feats = None if word_feats is None else word_feats[bb]
            vec = self.marked_words(hidden_l[bb], attention_mask[bb], trig_sub[bb, tt], word_pos[bb], feats)
            rows = head.rows(vec, trig_spans[bb, tt], cand_spans[bb], cand_types[bb],
                             None if cross is None else cross[bb, tt])
            out[bb, tt] = rows.to(out.dtype)
        return out

    def marked_words(self, hidden_l: torch.Tensor, attention_mask: torch.Tensor, trig_sub: torch.Tensor,
                     word_pos: torch.Tensor, word_feats: torch.Tensor | None = None) -> torch.Tensor:
        """Trigger-aware word vectors ``[N, W, H]``, one sequence per trigger: the marker added to the
        trigger subwords ``trig_sub`` ``[N, 2]`` of ``hidden_l``, then layers ``L..``
        (:meth:`marked_states`), with the word features of ``word_feats`` ``[N, W, C]`` concatenated."""
        return self.dropout(self.add_word_features(self.marked_states(hidden_l, attention_mask, trig_sub, word_pos),
                                                   word_feats))

    def marked_states(self, hidden_l: torch.Tensor, attention_mask: torch.Tensor, trig_sub: torch.Tensor,
                      word_pos: torch.Tensor) -> torch.Tensor:
        """The per-trigger pass itself, first-subword vectors ``[N, W, H]`` without word features or dropout
        (what ``role.onnx`` exports and a ``role_runner`` replaces)."""
        if self.role_runner is not None:
            return self.role_runner(hidden_l, attention_mask, trig_sub, word_pos)
        if self.top is None or self.role_marker is None:
            raise ValueError("marked_words needs marker mode (roles.marker_layer)")
        pos = torch.arange(hidden_l.size(1), device=hidden_l.device)
        marked = ((pos >= trig_sub[:, :1]) & (pos < trig_sub[:, 1:])).unsqueeze(-1).to(hidden_l.dtype)
        h = hidden_l + marked * self.role_marker
        mask = self.mask(h, attention_mask)
        for layer in self.top:
            h = layer(h, mask)
        return gather_first_subwords(h, word_pos)
