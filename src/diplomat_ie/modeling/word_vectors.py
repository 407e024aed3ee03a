"""Pretrained per-word vectors (``model.word_vectors``): navec's product-quantised news embeddings.

Storage choice: the model keeps navec's *quantised* table, not a dense one. navec stores each of its
250k words as 100 one-byte codes into 100 codebooks of 256 three-dimensional centroids; the codes
(``[N, 100]`` uint8, about 25 MB) and the codebooks (300 KB) are buffers of the model's heads, saved in
``model.safetensors`` like any weight, and the vector of a word is rebuilt on the fly (a gather). A dense
fp32 copy would be 300 MB; a path + checksum of the natasha file would make every saved model depend on
the ``baselines`` extra being installed where it runs. The vocabulary (the word of each row) is a text
file in the model directory (:data:`VOCAB_FILE`), checked against the sha256 kept in ``config.json``.

Words are looked up lower-cased, then with ``ё`` as ``е``; a word navec does not know gets the row
index ``N`` (one past the table): a learned OOV vector plus an OOV flag.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

NAVEC = "navec"  # model.word_vectors: navec_news_v1_1B_250K_300d_100q.tar of the natasha wheel
NAVEC_FILE = "navec_news_v1_1B_250K_300d_100q.tar"
VOCAB_FILE = "word_vectors.txt"
LICENCE = "navec news embeddings (natasha project, MIT)"
_SPECIAL = ("<unk>", "<pad>")  # navec's own rows for unknown/padding: our OOV row replaces both


class WordVectorsError(ValueError):
    """A word-vector source cannot be read (the message names the file)."""


def navec_path(source: str) -> Path:
    """The navec ``.tar`` of a ``model.word_vectors`` value: ``navec`` (natasha's file) or a path."""
    if source != NAVEC:
        return Path(source)
    try:
        import natasha
    except ImportError as exc:
        raise WordVectorsError("model.word_vectors: navec needs the natasha wheel (a dependency of "
                               "diplomat-ie: pip install natasha), or give the path of a navec .tar file") from exc
    return Path(natasha.__file__).parent / "data" / "emb" / NAVEC_FILE


@dataclass
class VectorTable:
    """A product-quantised vector table: row ``i`` is ``centroids[j, codes[i, j]]`` over subspaces ``j``."""

    words: list[str]
    codes: np.ndarray  # [N, Q] uint8
    centroids: np.ndarray  # [Q, C, D / Q] float32

    @property
    def dim(self) -> int:
        return int(self.centroids.shape[0] * self.centroids.shape[2])

    def shape(self) -> dict[str, int]:
        """The sizes a model allocates its buffers from (kept in ``config.json``)."""
        q, c, s = self.centroids.shape
        return {"rows": len(self.words), "subspaces": int(q), "centroids": int(c), "sub_dim": int(s)}


def read_navec(path: str | os.PathLike) -> VectorTable:
    """Read a navec ``.tar`` (meta.json, vocab.bin, pq.bin: raw arrays, no pickle) through ``navec``.

    Raises:
        WordVectorsError: the file is missing or not a navec archive.
    """
    path = Path(path)
    if not path.is_file():
        raise WordVectorsError(f"model.word_vectors: {path} not found")
    try:
        from navec import Navec

        nv = Navec.load(str(path))
    except Exception as exc:  # noqa: BLE001 - tarfile/numpy/navec errors alike: not a navec file
        raise WordVectorsError(f"model.word_vectors: {path} is not a navec archive ({type(exc).__name__}: "
                               f"{exc})") from exc
    keep = [i for i, w in enumerate(nv.vocab.words) if w not in _SPECIAL]
    words = [nv.vocab.words[i] for i in keep]
    codes = np.array(nv.pq.indexes[keep], dtype=np.uint8)  # copies: navec's arrays are read-only buffers
    return VectorTable(words, codes, np.array(nv.pq.codes, dtype=np.float32))


def vocab_text(words: list[str]) -> str:
    return "\n".join(words) + "\n"


def vocab_sha256(words: list[str]) -> str:
    return hashlib.sha256(vocab_text(words).encode("utf-8")).hexdigest()


class WordIndex:
    """Word -> row of the vector table (data side: the ids travel to the model as a tensor column).

    Args:
        words: the table's words in row order (navec's are lower-case).
    """

    def __init__(self, words: list[str]):
        self.words = words
        self.ids = {w: i for i, w in enumerate(words)}
        self.oov = len(words)

    def __call__(self, word: str) -> int:
        """Row of ``word``: lower-cased, then with ``ё`` -> ``е``; :attr:`oov` when navec lacks both."""
        low = word.lower()
        i = self.ids.get(low)
        if i is None and "ё" in low:
            i = self.ids.get(low.replace("ё", "е"))
        return self.oov if i is None else i

    def save(self, folder: Path) -> None:
        from ..utils import atomic_write_text

        atomic_write_text(folder / VOCAB_FILE, vocab_text(self.words))

    @classmethod
    def load(cls, folder: Path, sha256: str | None) -> WordIndex:
        """The index saved in ``folder``; a file that is not the one trained with is refused."""
        path = folder / VOCAB_FILE
        if not path.is_file():
            raise WordVectorsError(f"{folder}: missing {VOCAB_FILE} (the word list of model.word_vectors)")
        text = path.read_text(encoding="utf-8")
        if sha256 and hashlib.sha256(text.encode("utf-8")).hexdigest() != sha256:
            raise WordVectorsError(f"{path}: checksum differs from config.json's word_vectors_table; the "
                                   f"word list does not belong to this model")
        return cls(text.splitlines())
