"""The joint model: one encoder pass per window feeds K nested-NER layers and the event-role head.

Role head (all triggers of a window in one encoder pass): for every trigger t and word w,
``z = gelu(A w + B t + (C w) * (D t) + E[dist(w, t)])`` and a linear layer tags ``w`` with the
BIO role it plays for ``t``. The trigger vector is the mean of its words' vectors.

Marker mode (``config.role_marker_layer = L``): the encoder's layers ``L..`` run again once per trigger
on the hidden states entering layer ``L``, with a learned marker vector added to the trigger's subwords,
and the role head reads those trigger-aware word vectors. ``L = 0`` is the classic marker-per-trigger
(BERT SRL) model, one full encoder pass per trigger; larger ``L`` shares more of the pass. The marker
starts at zero, so switching a trained model to marker mode starts from its exact predictions.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from transformers import AutoModel, PreTrainedModel
from transformers.masking_utils import create_bidirectional_mask

from .configuration import DiplomatConfig


def distance_buckets(word_idx: torch.Tensor, trig_lo: torch.Tensor, trig_hi: torch.Tensor,
                     max_distance: int) -> torch.Tensor:
    """Bucket ids of the signed word distance to a trigger span (0 = inside the trigger).

    Args:
        word_idx: ``[W]`` word indices; trig_lo/trig_hi: ``[..., 1]`` trigger word spans.

    Returns:
        ``[..., W]`` ids in ``[0, 2 * n_buckets]`` (log-spaced beyond 8 words).
    """
    before = (trig_lo - word_idx).clamp(min=0)
    after = (word_idx - (trig_hi - 1)).clamp(min=0)
    dist = after - before  # negative: before the trigger
    mag = dist.abs().clamp(max=max_distance).float()
    exact = 8
    log_b = exact + (torch.log(mag.clamp(min=1) / exact) / math.log(max_distance / exact) * 7).floor()
    bucket = torch.where(mag < exact, mag, log_b.clamp(max=exact + 7)).long()
    return torch.where(dist < 0, bucket + exact + 8, bucket)


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


def encoder_attention_mask(encoder_config, hidden: torch.Tensor, attention_mask: torch.Tensor):
    """The mask the encoder's layers expect, built the way the encoder builds it (eager or SDPA)."""
    return create_bidirectional_mask(config=encoder_config, inputs_embeds=hidden, attention_mask=attention_mask)


def gather_first_subwords(hidden: torch.Tensor, word_pos: torch.Tensor) -> torch.Tensor:
    """``[B, S, H]`` subword states -> ``[B, W, H]`` vectors of each word's first subword."""
    return hidden.gather(1, word_pos.clamp(min=0).unsqueeze(-1).expand(-1, -1, hidden.size(-1)))


def marked_role_logits(owner, words, trig_spans, hidden_l, attention_mask, word_pos, trig_sub,
                       chunk: int = 64) -> torch.Tensor:
    """Marker-mode role logits ``[B, T, W, L]``: trigger-aware word vectors from
    ``owner.marked_words`` (one sequence per trigger), then ``owner.role_head`` on them.

    ``owner`` is a :class:`DiplomatModel` or the ONNX backend's torch heads.
    """
    b, t = trig_spans.shape[:2]
    out = words.new_zeros((b, t, words.size(1), owner.role_head.out.out_features))
    bi, ti = (trig_sub[..., 1] > trig_sub[..., 0]).nonzero(as_tuple=True)
    for s in range(0, len(bi), chunk):
        bb, tt = bi[s : s + chunk], ti[s : s + chunk]
        vec = owner.marked_words(hidden_l[bb], attention_mask[bb], trig_sub[bb, tt], word_pos[bb])
        logits = owner.role_head.pair_logits(vec, torch.arange(len(bb), device=vec.device), trig_spans[bb, tt])
        out[bb, tt] = logits.to(out.dtype)  # autocast: the logits may be bf16, the fp32 words are not
    return out


def run_marked_layers(owner, layers, hidden_l, attention_mask, trig_sub, word_pos) -> torch.Tensor:
    """Add ``owner.role_marker`` to each sequence's trigger subwords ``trig_sub`` ``[N, 2]``, run ``layers``
    and return the first-subword vectors ``[N, W, H]`` (the part a role-marker ONNX graph exports)."""
    pos = torch.arange(hidden_l.size(1), device=hidden_l.device)
    marked = ((pos >= trig_sub[:, :1]) & (pos < trig_sub[:, 1:])).unsqueeze(-1).to(hidden_l.dtype)
    h = hidden_l + marked * owner.role_marker
    mask = owner._mask(h, attention_mask)
    for layer in layers:
        h = layer(h, mask)
    return owner._gather_words(h, word_pos)


def _check_marker_layer(encoder: nn.Module, layer: int) -> None:
    layers = getattr(getattr(encoder, "encoder", None), "layer", None)
    if layers is None or not hasattr(encoder, "embeddings"):
        raise ValueError(f"roles.marker_layer needs a BERT-like encoder (embeddings + encoder.layer); "
                         f"{type(encoder).__name__} has none")
    if not 0 <= layer < len(layers):
        raise ValueError(f"roles.marker_layer must be in 0..{len(layers) - 1}, got {layer}")


def _encoder_from_config(config: DiplomatConfig) -> nn.Module:
    try:
        return AutoModel.from_config(config.encoder_config(), add_pooling_layer=False)
    except TypeError:
        return AutoModel.from_config(config.encoder_config())


class DiplomatModel(PreTrainedModel):
    """Encoder + nested NER layers + event-role head, saved and loaded as one directory."""

    config_class = DiplomatConfig
    base_model_prefix = "diplomat"
    main_input_name = "input_ids"
    _no_split_modules: list[str] = []

    def __init__(self, config: DiplomatConfig, encoder: nn.Module | None = None):
        super().__init__(config)
        self.encoder = encoder if encoder is not None else _encoder_from_config(config)
        hidden = self.encoder.config.hidden_size
        self.dropout = nn.Dropout(config.dropout)
        self.n_ner = len(config.ner_labels)
        self.ner_head = nn.Linear(hidden, config.num_layers * self.n_ner)
        self.role_head = (RoleHead(hidden, config.role_hidden_size, len(config.role_labels),
                                   config.max_distance, config.dropout) if config.roles else None)
        if config.role_marker_layer is not None and self.role_head is not None:
            _check_marker_layer(self.encoder, config.role_marker_layer)
            self.role_marker = nn.Parameter(torch.zeros(hidden))
        self.post_init()

    def enable_role_marker(self, layer: int) -> None:
        """Switch the role head to marker mode at encoder layer ``layer`` (the marker starts at zero)."""
        if self.role_head is None:
            raise ValueError("roles.marker_layer needs the role head (roles.enabled: true)")
        _check_marker_layer(self.encoder, layer)
        self.config.role_marker_layer = layer
        if getattr(self, "role_marker", None) is None:
            p = next(self.role_head.parameters())
            self.role_marker = nn.Parameter(torch.zeros(self.encoder.config.hidden_size, dtype=p.dtype,
                                                         device=p.device))

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

    def _mask(self, hidden, attention_mask):
        return encoder_attention_mask(self.encoder.config, hidden, attention_mask)

    def _gather_words(self, hidden, word_pos):
        return self.dropout(gather_first_subwords(hidden, word_pos))

    def window_states(self, input_ids, attention_mask, word_pos):
        """First-subword vectors ``[B, W, H]`` and, in marker mode, the hidden states entering layer L."""
        layer_l = self.config.role_marker_layer if self.role_head is not None else None
        if layer_l is None:
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            return self._gather_words(hidden, word_pos), None
        h = self.encoder.embeddings(input_ids=input_ids)
        mask = self._mask(h, attention_mask)
        layers = self.encoder.encoder.layer
        for layer in layers[:layer_l]:
            h = layer(h, mask)
        hidden_l = h
        for layer in layers[layer_l:]:
            h = layer(h, mask)
        return self._gather_words(h, word_pos), hidden_l

    def word_vectors(self, input_ids, attention_mask, word_pos):
        return self.window_states(input_ids, attention_mask, word_pos)[0]

    def role_logits(self, words, trig_spans, hidden_l=None, attention_mask=None, word_pos=None,
                    trig_sub=None, chunk: int = 64):
        """Role logits ``[B, T, W, L]`` for triggers ``trig_spans`` ``[B, T, 2]`` (window word spans).

        Marker mode also needs ``hidden_l`` (from :meth:`window_states`), the attention mask, ``word_pos``
        and ``trig_sub`` (the triggers' subword spans, ``[B, T, 2]``; empty spans are padding).
        """
        layer_l = self.config.role_marker_layer
        if layer_l is None:
            return self.role_head(words, trig_spans)
        return marked_role_logits(self, words, trig_spans, hidden_l, attention_mask, word_pos, trig_sub, chunk)

    def marked_words(self, hidden_l, attention_mask, trig_sub, word_pos):
        """Trigger-aware word vectors ``[N, W, H]``, one sequence per trigger (see :func:`run_marked_layers`)."""
        layers = self.encoder.encoder.layer[self.config.role_marker_layer :]
        return run_marked_layers(self, layers, hidden_l, attention_mask, trig_sub, word_pos)

    def forward(self, input_ids, attention_mask, word_pos, ner_labels=None, trig_spans=None,
                role_labels=None, trig_sub=None, **_):
        words, hidden_l = self.window_states(input_ids, attention_mask, word_pos)
        b, w, _ = words.shape
        ner_logits = self.ner_head(words).view(b, w, self.config.num_layers, self.n_ner).transpose(1, 2)
        out = {"ner_logits": ner_logits}
        loss = None
        if ner_labels is not None:
            loss = layered_loss(ner_logits, ner_labels)
        if self.role_head is not None and trig_spans is not None and trig_spans.size(1) > 0:
            role_logits = self.role_logits(words, trig_spans, hidden_l, attention_mask, word_pos, trig_sub)
            out["role_logits"] = role_logits
            if role_labels is not None and (role_labels != -100).any():
                role_loss = F.cross_entropy(role_logits.reshape(-1, role_logits.size(-1)).float(),
                                            role_labels.reshape(-1), ignore_index=-100)
                weight = self.config.role_loss_weight
                loss = role_loss * weight if loss is None else loss + role_loss * weight
        if loss is not None:
            out["loss"] = loss
        return out
