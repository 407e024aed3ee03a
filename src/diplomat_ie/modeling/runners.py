"""Window runners: what turns a padded batch of windows into word vectors and NER logits (torch, bf16,
memoised; ``inference.onnx_backend`` adds ONNX Runtime), and the length batching the Predictor feeds them."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, NamedTuple, Protocol

import torch

if TYPE_CHECKING:
    from .model import DiplomatModel


def length_batches(lengths: list[int], batch_size: int, max_padding: float | None = 0.1) -> list[list[int]]:
    """Group item indices into batches of similar length, shortest first.

    Items are sorted by length (stable) and a batch closes when it holds ``batch_size`` items or when
    padding every item to the batch's longest would add more than ``max_padding`` (a fraction of the
    batch's real tokens; ``None``: no limit). Padded positions cost a full encoder pass each and change
    nothing in the output, so bounding them is free speed.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    batches: list[list[int]] = []
    cur: list[int] = []
    real = 0
    for i in sorted(range(len(lengths)), key=lambda i: lengths[i]):
        n = lengths[i]
        over = max_padding is not None and n * (len(cur) + 1) - (real + n) > max_padding * (real + n)
        if cur and (len(cur) >= batch_size or over):
            batches.append(cur)
            cur, real = [], 0
        cur.append(i)
        real += n
    if cur:
        batches.append(cur)
    return batches


class WindowOutputs(NamedTuple):
    """What a window runner returns for a padded batch of windows."""

    words: torch.Tensor  # [B, W, H] first-subword vectors
    ner_logits: torch.Tensor  # [B, W, K * n_labels]
    hidden_l: torch.Tensor | None = None  # role-marker models: the hidden states entering layer L
    attention_mask: torch.Tensor | None = None  # the mask of hidden_l (the runner may have padded it)


class WindowRunner(Protocol):
    """``(input_ids, attention_mask, word_pos[, word_feats]) -> WindowOutputs`` over a padded batch of windows.

    ``pad_multiple``: the runner pads sequences to multiples of it (1: not at all); the Predictor groups
    windows by padded length. ``word_feats`` (``[B, W, C]``) is passed only for a model with word features.
    """

    pad_multiple: int

    def __call__(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                 word_pos: torch.Tensor, word_feats: torch.Tensor | None = None) -> WindowOutputs: ...


class TorchWindowRunner:
    """The torch :class:`WindowRunner` of a :class:`DiplomatModel` (``bf16``: under CPU bfloat16 autocast)."""

    def __init__(self, model: DiplomatModel, pad_multiple: int = 32, bf16: bool = False):
        self.model = model
        self.pad_multiple = pad_multiple
        self.bf16 = bf16

    def __call__(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                 word_pos: torch.Tensor, word_feats: torch.Tensor | None = None) -> WindowOutputs:
        dev = getattr(self.model, "device", None)  # a model the Trainer put on CUDA evaluates there
        if dev is not None and dev != input_ids.device:
            input_ids, attention_mask, word_pos = (x.to(dev) for x in (input_ids, attention_mask, word_pos))
            word_feats = None if word_feats is None else word_feats.to(dev)
        seq = input_ids.size(1)
        extra = min(-seq % self.pad_multiple, max(0, self.model.config.window_length - seq))
        if extra:
            input_ids = torch.nn.functional.pad(input_ids, (0, extra))
            attention_mask = torch.nn.functional.pad(attention_mask, (0, extra))
        if not self.bf16:
            return self._run(input_ids, attention_mask, word_pos, word_feats)
        with torch.autocast(input_ids.device.type, dtype=torch.bfloat16):
            out = self._run(input_ids, attention_mask, word_pos, word_feats)
        hidden_l = None if out.hidden_l is None else out.hidden_l.float()
        return WindowOutputs(out.words.float(), out.ner_logits.float(), hidden_l, out.attention_mask)

    def _run(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, word_pos: torch.Tensor,
             word_feats: torch.Tensor | None) -> WindowOutputs:
        words, hidden_l = self.model.window_states(input_ids, attention_mask, word_pos, word_feats)
        return WindowOutputs(words, self.model.heads.ner_logits(words), hidden_l,
                             None if hidden_l is None else attention_mask)


class MemoWindowRunner:
    """A :class:`WindowRunner` that keeps each batch's outputs by its inputs and gives them back on a repeat.

    Decoding settings (``model.ner_decoding``, ``roles.none_bias``) act after the runner, so scoring the
    same windows under several of them (``scripts/ablate_decoding.py``) needs one encoder pass, not one
    per setting. Holds every output it has returned: for a finite evaluation set only.
    """

    def __init__(self, inner: WindowRunner):
        self.inner = inner
        self.pad_multiple = inner.pad_multiple
        self._memo: dict[bytes, WindowOutputs] = {}

    def __call__(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, word_pos: torch.Tensor,
                 word_feats: torch.Tensor | None = None) -> WindowOutputs:
        args = [input_ids, attention_mask, word_pos] + ([] if word_feats is None else [word_feats])
        h = hashlib.blake2b(digest_size=16)
        for a in args:
            h.update(repr((a.dtype, tuple(a.shape))).encode())
            h.update(a.detach().cpu().contiguous().numpy().tobytes())
        key = h.digest()
        if key not in self._memo:
            self._memo[key] = WindowOutputs(*self.inner(*args))
        return self._memo[key]


def torch_window_outputs(model: DiplomatModel, pad_multiple: int = 32) -> TorchWindowRunner:
    """The default window runner: ``(input_ids, attention_mask, word_pos) -> WindowOutputs``.

    ``words`` is ``[B, W, H]`` (first-subword vectors), ``ner_logits`` ``[B, W, K * n_labels]``; in
    role-marker mode ``hidden_l`` and ``attention_mask`` are set for :meth:`DiplomatModel.role_logits`.
    Another runtime (``inference.onnx_backend``) can replace it; the role head then runs on its ``words``.
    Sequences are right-padded (masked) to a multiple of ``pad_multiple``: windows vary in length and
    torch's CPU kernels pay a large set-up cost for every new shape.
    """
    return TorchWindowRunner(model, pad_multiple)


def bf16_window_outputs(model: DiplomatModel, pad_multiple: int = 32) -> TorchWindowRunner:
    """:func:`torch_window_outputs` under CPU bfloat16 autocast; outputs come back as float32.

    Matmuls run in bfloat16 (LayerNorm and softmax stay float32 under autocast), twice the fp32 rate on
    CPUs with AVX512-BF16 or AMX; elsewhere it is correct but slower than fp32.
    """
    return TorchWindowRunner(model, pad_multiple, bf16=True)
