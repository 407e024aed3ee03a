"""The joint model: one encoder pass per window feeds K nested-NER layers and the event-role head.

Role head (all triggers of a window in one encoder pass): for every trigger t and word w,
``z = gelu(A w + B t + (C w) * (D t) + E[dist(w, t)])`` and a linear layer tags ``w`` with the
BIO role it plays for ``t``. The trigger vector is the mean of its words' vectors.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from transformers import AutoModel, PreTrainedModel

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
            total = total + F.cross_entropy(logits[:, k].reshape(-1, logits.size(-1)), lab, ignore_index=-100)
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
        """words ``[B, W, H]``, trig_spans ``[B, T, 2]`` (word lo, hi) -> logits ``[B, T, W, L]``."""
        b, w, _ = words.shape
        idx = torch.arange(w, device=words.device)
        lo, hi = trig_spans[..., :1], trig_spans[..., 1:]
        inside = ((idx >= lo) & (idx < hi)).float()  # [B, T, W]
        trig_vec = inside @ words / inside.sum(-1, keepdim=True).clamp(min=1)  # [B, T, H]
        z = (self.word(words)[:, None] + self.trig(trig_vec)[:, :, None]
             + self.word_m(words)[:, None] * self.trig_m(trig_vec)[:, :, None]
             + self.dist(distance_buckets(idx, lo, hi, self.max_distance)))
        return self.out(self.drop(F.gelu(z)))


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
        self.post_init()

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

    def word_vectors(self, input_ids, attention_mask, word_pos):
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        idx = word_pos.clamp(min=0).unsqueeze(-1).expand(-1, -1, hidden.size(-1))
        return self.dropout(hidden.gather(1, idx))

    def forward(self, input_ids, attention_mask, word_pos, ner_labels=None, trig_spans=None,
                role_labels=None, **_):
        words = self.word_vectors(input_ids, attention_mask, word_pos)
        b, w, _ = words.shape
        ner_logits = self.ner_head(words).view(b, w, self.config.num_layers, self.n_ner).transpose(1, 2)
        out = {"ner_logits": ner_logits}
        loss = None
        if ner_labels is not None:
            loss = layered_loss(ner_logits, ner_labels)
        if self.role_head is not None and trig_spans is not None and trig_spans.size(1) > 0:
            role_logits = self.role_head(words, trig_spans)
            out["role_logits"] = role_logits
            if role_labels is not None and (role_labels != -100).any():
                role_loss = F.cross_entropy(role_logits.reshape(-1, role_logits.size(-1)),
                                            role_labels.reshape(-1), ignore_index=-100)
                weight = self.config.role_loss_weight
                loss = role_loss * weight if loss is None else loss + role_loss * weight
        if loss is not None:
            out["loss"] = loss
        return out
