"""``training.save_embeddings: int8``: the saved model's word-embedding matrix as int8 rows + a scale each.

The matrix is most of a small encoder (e5-small trimmed to Russian: 44M of its 65M parameters), and the
default recipe never trains it (``model.freeze_word_embeddings``). Stored as symmetric per-row int8
(``round(w / s)``, ``s = max|row| / 127``) it takes a byte per weight instead of two; loading turns it
back into float32 (``w ~ q * s``, error at most ``s / 2`` per weight) before the model sees it.
"""

from __future__ import annotations

import torch

__all__ = ["EMBEDDING_KEY", "SCALE_SUFFIX", "dequantize_embeddings", "has_int8_embeddings", "quantize_rows"]

EMBEDDING_KEY = "encoder.embeddings.word_embeddings.weight"
SCALE_SUFFIX = ".int8_scale"  # the key of the per-row scales: EMBEDDING_KEY + this


def quantize_rows(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(q, scale)``: int8 ``[V, H]`` and float32 ``[V, 1]`` with ``q * scale ~ weight`` row by row."""
    w = weight.detach().float()
    scale = w.abs().amax(dim=1, keepdim=True) / 127.0
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))  # an all-zero row stays zero
    return torch.round(w / scale).clamp(-127, 127).to(torch.int8), scale


def has_int8_embeddings(keys) -> bool:
    """Whether a model file with these tensor names stores its embedding matrix as int8."""
    return EMBEDDING_KEY + SCALE_SUFFIX in set(keys)


def dequantize_embeddings(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``state`` with an int8 embedding matrix (and its scales) replaced by the float32 matrix."""
    scale_key = EMBEDDING_KEY + SCALE_SUFFIX
    if scale_key not in state:
        return state
    out = dict(state)
    q, scale = out.pop(EMBEDDING_KEY), out.pop(scale_key)
    if q.dtype != torch.int8 or q.dim() != 2 or scale.shape != (q.size(0), 1):
        raise ValueError(f"{EMBEDDING_KEY}: expected int8 [V, H] with {scale_key} [V, 1], got {q.dtype} "
                         f"{list(q.shape)} and {list(scale.shape)}")
    out[EMBEDDING_KEY] = q.float() * scale.float()
    return out
