"""The joint model: one encoder pass per window feeds the heads (:mod:`.heads`): K nested-NER layers
and the event-role head (in marker mode also re-run encoder layers ``L..`` once per trigger)."""

from __future__ import annotations

from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import nn
from transformers import AutoModel, PreTrainedModel

from .configuration import DiplomatConfig
from .heads import DiplomatHeads, RoleHead, split_ner_layers
from .pair_features import add_predicted_negatives, window_predictions
from .pair_roles import PairRoleHead
from .scalar_mix import check_scalar_mix
from .sentences import cross_sentence
from .spans import span_loss, split_span_logits

__all__ = ["DiplomatModel", "RoleHead", "layered_loss", "mixed_ner_loss"]


def layered_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Sum over nesting layers of each layer's mean token cross-entropy.

    A single mean over all layers would divide the outermost layer's signal by K, since the deeper
    layers are almost all ``O``; summing per-layer means keeps every layer at full strength.
    """
    total = logits.new_zeros(())
    for k in range(logits.size(1)):
        lab = labels[:, k].reshape(-1)
        if (lab != -100).any():
            total = total + F.cross_entropy(logits[:, k].reshape(-1, logits.size(-1)).float(), lab,
                                            ignore_index=-100)  # fp32 loss under bf16 autocast
    return total


def role_loss_class_weights(config, pair: bool) -> torch.Tensor | None:
    """The role loss's per-class weights (``config.role_class_weights``; ``none`` / ``O`` 1.0), or None."""
    weights = getattr(config, "role_class_weights", None)
    if not weights:
        return None
    labels = config.pair_labels if pair else config.role_labels  # pair: none, roles; bio: O, B-r, I-r ...
    return torch.tensor([1.0 if lab in ("none", "O") else float(weights.get(lab if pair else lab[2:], 1.0))
                         for lab in labels])


def mixed_ner_loss(heads: DiplomatHeads, words: torch.Tensor, ner_logits: torch.Tensor | None,
                   ner_labels: torch.Tensor, head_ids: torch.Tensor) -> torch.Tensor | None:
    """NER loss of a batch mixing corpora: each window's labels reach only its own corpus's head.

    Args:
        heads: the model's heads; ``config.extra_heads`` gives the head of id ``1 + index``.
        words: ``[B, W, H]`` word vectors.
        ner_logits: the layered main head's ``[B, K, W, L]``; None for a span main head (its loss comes
            from ``span_labels``, where the extra corpora's windows are all ignored).
        ner_labels: ``[B, K_max, W]`` (each window's own head's layers, then ``-100``).
        head_ids: ``[B]``: 0 = the main head, ``i`` = the ``i``-th extra head.

    Returns:
        The main head's :func:`layered_loss` on its windows plus each extra head's on its windows times its
        loss weight; None when no window has a label.
    """
    total = None
    main = head_ids == 0
    if ner_logits is not None and main.any():
        total = layered_loss(ner_logits[main], ner_labels[main, : ner_logits.size(1)])
    for i, (name, spec) in enumerate(heads.config.extra_heads.items(), start=1):
        sel = head_ids == i
        if not sel.any():
            continue
        k = int(spec["num_layers"])
        logits = split_ner_layers(heads.extra_ner_logits(words[sel], name), k)
        loss = layered_loss(logits, ner_labels[sel, :k]) * float(spec.get("loss_weight", 1.0))
        total = loss if total is None else total + loss
    return total


def _encoder_layers(encoder: nn.Module) -> nn.ModuleList:
    layers = getattr(getattr(encoder, "encoder", None), "layer", None)
    if not isinstance(layers, nn.ModuleList) or not hasattr(encoder, "embeddings"):
        raise ValueError(f"roles.marker_layer needs a BERT-like encoder (embeddings + encoder.layer); "
                         f"{type(encoder).__name__} has none")
    return layers


def _check_marker_layer(encoder: nn.Module, layer: int) -> nn.ModuleList:
    layers = _encoder_layers(encoder)
    if not 0 <= layer < len(layers):
        raise ValueError(f"roles.marker_layer must be in 0..{len(layers) - 1}, got {layer}")
    return layers


def _encoder_from_config(config: DiplomatConfig) -> PreTrainedModel:
    try:
        return AutoModel.from_config(config.encoder_config(), add_pooling_layer=False)
    except TypeError:
        return AutoModel.from_config(config.encoder_config())


class DiplomatModel(PreTrainedModel):
    """Encoder + :class:`~.heads.DiplomatHeads`, saved and loaded as one directory."""

    config_class = DiplomatConfig
    config: DiplomatConfig
    base_model_prefix = "diplomat"
    main_input_name = "input_ids"
    _no_split_modules: list[str] = []

    def __init__(self, config: DiplomatConfig, encoder: PreTrainedModel | None = None):
        super().__init__(config)
        self.encoder = encoder if encoder is not None else _encoder_from_config(config)
        self.heads = DiplomatHeads(config, self.encoder.config)
        # how far training is, in [0, 1]: the trainer sets it before each step (pair_negatives_from reads it)
        self.train_progress = 0.0
        check_scalar_mix(int(getattr(config, "scalar_mix", 0) or 0), self.encoder.config.num_hidden_layers,
                         self.heads.marker_layer)
        if self.heads.marker_layer is not None:
            layers = _check_marker_layer(self.encoder, self.heads.marker_layer)
            self.heads.share_top_layers(layers[self.heads.marker_layer :])
        self.post_init()

    # The heads' parts under their historical names (tests, scripts and callers use them).
    @property
    def ner_head(self) -> nn.Module:
        """The layered head's ``nn.Linear`` or the :class:`~.spans.SpanHead`."""
        return self.heads.ner_head

    @property
    def role_head(self) -> RoleHead | PairRoleHead | None:
        return self.heads.role_head

    @property
    def role_marker(self) -> nn.Parameter | None:
        return self.heads.role_marker

    def enable_role_marker(self, layer: int) -> None:
        """Switch the role head to marker mode at encoder layer ``layer`` (the marker starts at zero)."""
        if self.heads.role_head is None:
            raise ValueError("roles.marker_layer needs the role head (roles.enabled: true)")
        layers = _check_marker_layer(self.encoder, layer)
        check_scalar_mix(int(getattr(self.config, "scalar_mix", 0) or 0), len(layers), layer)
        self.config.role_marker_layer = layer
        self.heads.enable_marker(layers[layer:])

    def _init_weights(self, module: nn.Module) -> None:
        # Only the heads are new; the encoder keeps its (pretrained or its own) initialisation.
        if any(module is m for m in self.encoder.modules()):
            return
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=0.02)

    @property
    def featurizer(self):
        """The data side of the word features (:class:`~.word_features.WordFeaturizer`), or None."""
        return self.heads.featurizer

    @property
    def type_lexicon(self):
        """The lookups of ``model.type_lexicon`` (:class:`~.type_lexicon.TypeLexicon`), or None."""
        return self.heads.type_lexicon

    def window_states(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, word_pos: torch.Tensor,
                      word_feats: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """First-subword vectors ``[B, W, H]`` of the top layer or the scalar mix (+ word features:
        ``word_feats`` ``[B, W, C]``) and, in marker mode, the hidden states entering layer L."""
        layer_l = self.heads.marker_layer
        if layer_l is None:
            mix = self.heads.scalar_mix
            out = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                               output_hidden_states=mix is not None)
            hidden = out.last_hidden_state if mix is None else mix(out.hidden_states[-mix.n :])
            return self.heads.gather_words(hidden, word_pos, word_feats), None
        h = cast(nn.Module, self.encoder.embeddings)(input_ids=input_ids)
        mask = self.heads.mask(h, attention_mask)
        layers = _encoder_layers(self.encoder)
        for layer in layers[:layer_l]:
            h = layer(h, mask)
        hidden_l = h
        for layer in layers[layer_l:]:
            h = layer(h, mask)
        return self.heads.gather_words(h, word_pos, word_feats), hidden_l

    def role_logits(self, words: torch.Tensor, trig_spans: torch.Tensor, hidden_l: torch.Tensor | None = None,
                    attention_mask: torch.Tensor | None = None, word_pos: torch.Tensor | None = None,
                    trig_sub: torch.Tensor | None = None, chunk: int = 64,
                    word_feats: torch.Tensor | None = None) -> torch.Tensor:
        """:meth:`.heads.DiplomatHeads.role_logits`."""
        return self.heads.role_logits(words, trig_spans, hidden_l, attention_mask, word_pos, trig_sub, chunk,
                                      word_feats)

    def pair_role_logits(self, words: torch.Tensor, trig_spans: torch.Tensor, cand_spans: torch.Tensor,
                         cand_types: torch.Tensor, hidden_l: torch.Tensor | None = None,
                         attention_mask: torch.Tensor | None = None, word_pos: torch.Tensor | None = None,
                         trig_sub: torch.Tensor | None = None, chunk: int = 64,
                         word_feats: torch.Tensor | None = None, cross: torch.Tensor | None = None) -> torch.Tensor:
        """:meth:`.heads.DiplomatHeads.pair_role_logits`."""
        return self.heads.pair_role_logits(words, trig_spans, cand_spans, cand_types, hidden_l, attention_mask,
                                           word_pos, trig_sub, chunk, word_feats, cross)

    def marked_words(self, hidden_l: torch.Tensor, attention_mask: torch.Tensor, trig_sub: torch.Tensor,
                     word_pos: torch.Tensor, word_feats: torch.Tensor | None = None) -> torch.Tensor:
        """:meth:`.heads.DiplomatHeads.marked_words`."""
        return self.heads.marked_words(hidden_l, attention_mask, trig_sub, word_pos, word_feats)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, word_pos: torch.Tensor,
                ner_labels: torch.Tensor | None = None, trig_spans: torch.Tensor | None = None,
                role_labels: torch.Tensor | None = None, trig_sub: torch.Tensor | None = None,
                span_labels: torch.Tensor | None = None, cand_spans: torch.Tensor | None = None,
                cand_types: torch.Tensor | None = None, pair_labels: torch.Tensor | None = None,
                head: torch.Tensor | None = None, word_feats: torch.Tensor | None = None,
                word_sentence: torch.Tensor | None = None, **_: Any) -> dict[str, torch.Tensor]:
        """``head`` (``[B]``, batches of ``data.extra_corpora`` runs): which NER head each window trains;
        ``word_feats`` (``[B, W, C]``): the word features of a model with them; ``word_sentence``
        (``[B, W]``): each word's sentence id, for a ``roles.pair_sentence`` head."""
        words, hidden_l = self.window_states(input_ids, attention_mask, word_pos, word_feats)
        out, loss = self._ner(words, ner_labels, span_labels, head)
        pair = isinstance(self.heads.role_head, PairRoleHead)
        if pair and trig_spans is not None and trig_spans.size(1) > 0 and cand_spans is not None \
                and cand_types is not None:
            if self.training and self.config.pair_negatives and pair_labels is not None \
                    and self.train_progress >= self.config.pair_negatives_from:
                cand_spans, cand_types, pair_labels = add_predicted_negatives(
                    window_predictions(out, word_pos, self.config), cand_spans, cand_types, pair_labels, trig_spans,
                    self.config.pair_negatives)
            cross = None
            if getattr(self.heads.role_head, "sent", None) is not None:
                if word_sentence is None:
                    raise ValueError("this pair head (roles.pair_sentence) needs the word_sentence column")
                cross = cross_sentence(trig_spans, cand_spans, word_sentence)
            role_logits = self.pair_role_logits(words, trig_spans, cand_spans, cand_types, hidden_l,
                                                attention_mask, word_pos, trig_sub, word_feats=word_feats,
                                                cross=cross)
            out["role_logits"], role_labels = role_logits, pair_labels
        elif not pair and self.heads.role_head is not None and trig_spans is not None and trig_spans.size(1) > 0:
            role_logits = self.role_logits(words, trig_spans, hidden_l, attention_mask, word_pos, trig_sub,
                                           word_feats=word_feats)
            out["role_logits"] = role_logits
        if "role_logits" in out:
            if role_labels is not None and (role_labels != -100).any():
                cw = role_loss_class_weights(self.config, pair)
                role_loss = F.cross_entropy(role_logits.reshape(-1, role_logits.size(-1)).float(),
                                            role_labels.reshape(-1), ignore_index=-100,
                                            weight=None if cw is None else cw.to(role_logits.device))
                weight = self.config.role_loss_weight
                loss = role_loss * weight if loss is None else loss + role_loss * weight
        if loss is not None:
            out["loss"] = loss
        return out

    def _ner(self, words: torch.Tensor, ner_labels: torch.Tensor | None, span_labels: torch.Tensor | None,
             head: torch.Tensor | None = None) -> tuple[dict[str, torch.Tensor], torch.Tensor | None]:
        """``ner_logits`` ``[B, K, W, L]`` and the layered loss, or ``span_logits`` ``[B, W, max_width, C]``
        and the span loss; with ``head`` (``data.extra_corpora``) plus the extra heads' losses."""
        logits = self.heads.ner_logits(words)
        if self.config.is_span:
            spans = split_span_logits(logits, self.config.max_span_width)
            loss = None if span_labels is None else span_loss(spans, span_labels, self.config.span_none_weight,
                                                                    self.config.span_loss_scale)
            if head is not None and ner_labels is not None:  # only the extra corpora's windows have ner_labels
                extra = mixed_ner_loss(self.heads, words, None, ner_labels, head)
                if extra is not None:
                    loss = extra if loss is None else loss + extra
            return {"span_logits": spans}, loss
        layered = split_ner_layers(logits, self.config.num_layers)
        if ner_labels is None:
            return {"ner_logits": layered}, None
        if head is not None:
            return {"ner_logits": layered}, mixed_ner_loss(self.heads, words, layered, ner_labels, head)
        return {"ner_logits": layered}, layered_loss(layered, ner_labels)
