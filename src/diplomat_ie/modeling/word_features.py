"""Per-word features concatenated to each word's first-subword state before the heads.

Two sources, each off unless its config key is set: ``model.word_vectors`` (navec vectors, projected to
``model.word_vectors_size``; :mod:`.word_vectors`) and ``model.word_lexicon`` (morphology / place-lexicon
bits, embedded by a small linear layer; :mod:`.word_lexicon`).

Data side, a :class:`WordFeaturizer` turns the words of a window into ``word_feats``: one row of ints per
word (column 0: the navec row, when enabled; then one 0/1 column per lexicon bit). It travels as an extra
``[B, W, C]`` long tensor next to ``word_pos`` through collate, the model, the window runners (torch and
ONNX) and the role head. Model side, :class:`WordFeatures` (part of
:class:`~diplomat_ie.modeling.heads.DiplomatHeads`) maps that tensor to the vectors that are concatenated.
Training drops features at random (``model.word_feature_dropout``): a dropped word is OOV for the vectors
and has no lexicon bits, so the heads cannot lean on the features alone.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from .word_vectors import VectorTable, WordIndex, WordVectorsError, navec_path, read_navec, vocab_sha256

if TYPE_CHECKING:
    from .word_lexicon import WordLexicon


class WordFeatures(nn.Module):
    """``word_feats`` ``[B, W, C]`` -> the vectors ``[B, W, size]`` concatenated to the word states.

    Args:
        config: the model config (``word_vectors``, ``word_vectors_table``, sizes, dropout).
    """

    codes: torch.Tensor  # [rows, Q] uint8 buffer (model.word_vectors)
    centroids: torch.Tensor  # [Q, C, S] float buffer

    def __init__(self, config):
        super().__init__()
        self.config = config
        self.size = 0
        self.proj: nn.Linear | None = None
        self.lex: nn.Linear | None = None
        if config.word_vectors:
            t = config.word_vectors_table or {}
            if not t:
                raise ValueError("model.word_vectors is set but config.word_vectors_table is empty (build the "
                                 "model with modeling.io.build_model, which reads the vector table)")
            self.register_buffer("codes", torch.zeros((t["rows"], t["subspaces"]), dtype=torch.uint8))
            self.register_buffer("centroids", torch.zeros((t["subspaces"], t["centroids"], t["sub_dim"])))
            dim = t["subspaces"] * t["sub_dim"]
            self.oov = nn.Parameter(torch.zeros(dim))
            self.proj = nn.Linear(dim + 1, config.word_vectors_size)  # + the OOV flag
            self.size += config.word_vectors_size
        self.n_bits = len(lexicon_bits(config))
        if self.n_bits:
            self.lex = nn.Linear(self.n_bits, config.word_lexicon_size)
            self.size += config.word_lexicon_size

    def set_table(self, table: VectorTable) -> None:
        """Copy a vector table into the (frozen) buffers."""
        self.codes.copy_(torch.from_numpy(table.codes))
        self.centroids.copy_(torch.from_numpy(table.centroids))

    def vectors(self, ids: torch.Tensor) -> torch.Tensor:
        """``[B, W]`` table rows (``rows`` = OOV) -> ``[B, W, D + 1]`` de-quantised vectors + OOV flag."""
        rows = self.codes.size(0)
        oov = ids >= rows
        codes = self.codes[ids.clamp(max=rows - 1)].long()  # [B, W, Q]
        n_q, n_c = self.centroids.shape[:2]
        flat = codes + torch.arange(n_q, device=ids.device) * n_c  # one plain gather (exports to ONNX as such)
        vec = self.centroids.flatten(0, 1)[flat].flatten(-2)  # [B, W, Q, S] -> [B, W, D]
        flag = oov.unsqueeze(-1).to(vec.dtype)
        vec = torch.where(oov.unsqueeze(-1), self.oov.to(vec.dtype), vec)
        return torch.cat([vec, flag], -1)

    def forward(self, word_feats: torch.Tensor) -> torch.Tensor:
        feats, parts, col = self._dropped(word_feats), [], 0
        if self.proj is not None:
            parts.append(self.proj(self.vectors(feats[..., 0])))
            col = 1
        if self.lex is not None:
            parts.append(self.lex(feats[..., col : col + self.n_bits].to(self.lex.weight.dtype)))
        return torch.cat(parts, -1)

    def _dropped(self, word_feats: torch.Tensor) -> torch.Tensor:
        p = float(self.config.word_feature_dropout)
        if not self.training or p <= 0:
            return word_feats
        drop = torch.rand(word_feats.shape[:2], device=word_feats.device) < p  # per word, every source
        out = torch.where(drop.unsqueeze(-1), torch.zeros_like(word_feats), word_feats)
        if self.proj is not None:
            out[..., 0] = torch.where(drop, torch.full_like(out[..., 0], self.codes.size(0)), word_feats[..., 0])
        return out


def lexicon_bits(config) -> list[str]:
    """Names of the lexicon columns of ``config`` (empty without ``word_lexicon``)."""
    if not getattr(config, "word_lexicon", None):
        return []
    from .word_lexicon import feature_bits

    return feature_bits(config.word_lexicon, config.entity_types)


def has_word_features(config) -> bool:
    return bool(getattr(config, "word_vectors", None) or getattr(config, "word_lexicon", None))


class WordFeaturizer:
    """Words of a window -> ``word_feats`` rows (see the module docstring).

    Args:
        index: navec word -> row (``model.word_vectors``), or None.
        lexicon: the lexicon features (``model.word_lexicon``), or None.
    """

    def __init__(self, index: WordIndex | None = None, lexicon: WordLexicon | None = None):
        self.index = index
        self.lexicon = lexicon

    @property
    def width(self) -> int:
        return (self.index is not None) + (len(self.lexicon.bits) if self.lexicon is not None else 0)

    def __call__(self, words: list[str], fold: int | None = None) -> list[list[int]]:
        """One row per word; ``fold``: the training fold whose out-of-fold lexicon to use (None: the full one)."""
        rows: list[list[int]] = [[self.index(w)] if self.index is not None else [] for w in words]
        if self.lexicon is not None:
            for row, bits in zip(rows, self.lexicon.word_bits(words, fold), strict=True):
                row.extend(bits)
        return rows

    def for_doc(self, doc_id: str) -> Callable[[list[str]], list[list[int]]]:
        """``words -> rows`` for the training document ``doc_id``: its lexicon is the out-of-fold one."""
        fold = self.lexicon.fold_of(doc_id) if self.lexicon is not None else None
        return lambda words: self(words, fold)

    def fingerprint(self) -> str:
        """Changes with anything the rows depend on, code included (training-window cache key)."""
        import inspect
        import sys

        h = hashlib.sha256()
        for name in ("word_features", "word_vectors", "word_lexicon"):
            module = sys.modules.get(f"{__package__}.{name}")
            if module is not None:
                h.update(inspect.getsource(module).encode("utf-8"))
        if self.index is not None:
            h.update(vocab_sha256(self.index.words).encode())
        if self.lexicon is not None:
            h.update(self.lexicon.fingerprint().encode())
        return h.hexdigest()

    def save(self, folder: str | os.PathLike) -> None:
        """Write the word list / lexicon files into a model directory."""
        if self.index is not None:
            self.index.save(Path(folder))
        if self.lexicon is not None:
            self.lexicon.save(Path(folder))


def load_featurizer(folder: str | os.PathLike, config) -> WordFeaturizer | None:
    """The featurizer saved in a model directory with ``config``; None for a model without word features.

    Raises:
        WordVectorsError: a file is missing or does not match ``config.json``.
    """
    if not has_word_features(config):
        return None
    folder = Path(folder)
    index = lexicon = None
    if config.word_vectors:
        index = WordIndex.load(folder, (config.word_vectors_table or {}).get("sha256"))
    if config.word_lexicon:
        from .word_lexicon import WordLexicon

        lexicon = WordLexicon.load(folder, config)
    return WordFeaturizer(index, lexicon)


def prepare_word_vectors(config) -> VectorTable | None:
    """Read ``config.word_vectors`` and record its table shape and checksum in ``config`` (a new model).

    Raises:
        WordVectorsError: the source cannot be read.
    """
    if not config.word_vectors:
        return None
    table = read_navec(navec_path(config.word_vectors))
    config.word_vectors_table = {**table.shape(), "sha256": vocab_sha256(table.words)}
    return table


__all__ = ["WordFeaturizer", "WordFeatures", "WordVectorsError", "has_word_features", "lexicon_bits",
           "load_featurizer", "prepare_word_vectors"]
