"""Trim a sentencepiece-Unigram backbone's vocabulary to the pieces Russian news text can use.

Kept: the special tokens, every piece made only of characters of :data:`ALPHABET` (ASCII, Cyrillic,
common punctuation and symbols, the metaspace ``▁``), the lowest-scoring piece (the
tokenizer derives its ``<unk>`` penalty from the minimum score), and the pieces a given corpus uses
outside the alphabet. ``--keep corpus`` keeps only the pieces the corpus uses (a far smaller matrix,
but other text may segment differently).

Guarantee (``keep="alphabet"``): for any text whose *normalized* form (the tokenizer's normalizer, then
the metaspace pre-tokenizer) holds only characters of the alphabet, the trimmed tokenizer yields the
same pieces and offsets, and ids that map back to the same pieces. Why: the Unigram lattice of such a
text only holds pieces made of its characters, all kept, so Viterbi searches the same lattice with the
same scores and the same ``<unk>`` penalty. The alphabet is closed under the normalizer (a string of
alphabet characters normalizes to alphabet characters; no combining marks, which would compose), so raw
text made of alphabet characters qualifies (tested with random strings).
For text outside the alphabet, the corpus pieces keep that corpus's segmentation: the best path is
still in the (smaller) lattice, so it stays the best.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from .importer import BackboneImportError, _atomic_write, _json_bytes

log = logging.getLogger(__name__)

INFO_FILE = "trim_info.json"
EMBEDDING_KEY = "embeddings.word_embeddings.weight"
# (first, last) code points, inclusive
ALPHABET: tuple[tuple[int, int], ...] = (
    (0x0000, 0x007F),  # ASCII
    # Latin-1 punctuation and symbols (« » § ° ±), without the spacing accents ¨ ¯ ´ ¸ and µ: the
    # normalizer maps those to combining marks or Greek. Combining marks stay out too: after an ASCII
    # letter they compose into a Latin letter outside the alphabet (A + U+0300 -> À).
    (0x00A0, 0x00A7), (0x00A9, 0x00AE), (0x00B0, 0x00B3), (0x00B6, 0x00B7), (0x00B9, 0x00BF),
    (0x00D7, 0x00D7), (0x00F7, 0x00F7),  # × ÷
    (0x0400, 0x052F),  # Cyrillic + Cyrillic Supplement
    (0x2000, 0x2016), (0x2018, 0x203D), (0x203F, 0x206F),  # general punctuation, without ‗ ‾ (accents)
    (0x20A0, 0x20CF),  # currency symbols
    (0x2116, 0x2116), (0x2122, 0x2122),  # № ™
    (0x2581, 0x2581),  # ▁, the metaspace
)
DTYPES = ("float32", "bfloat16", "float16")
KEEP_MODES = ("alphabet", "corpus")


@dataclass(frozen=True)
class TrimInfo:
    """What :func:`trim_backbone` kept and wrote."""

    source: str
    out: str
    keep: str
    dtype: str
    vocab_before: int
    vocab_after: int
    alphabet_pieces: int
    corpus_pieces: int
    corpus_pieces_outside_alphabet: int
    embedding_rows_before: int
    dir_bytes_before: int
    dir_bytes_after: int
    params_before: int
    params_after: int


def alphabet_chars() -> frozenset[str]:
    return frozenset(chr(c) for lo, hi in ALPHABET for c in range(lo, hi + 1))


def in_alphabet(piece: str, chars: frozenset[str] | None = None) -> bool:
    chars = alphabet_chars() if chars is None else chars
    return all(c in chars for c in piece)


def used_piece_ids(tokenizer_json: Path, texts: Iterable[str]) -> set[int]:
    """Ids of the pieces ``texts`` use, tokenised whole and word by word (as the model's windows do)."""
    from tokenizers import Tokenizer

    from ..data.text import tokenize_document

    tok = Tokenizer.from_file(str(tokenizer_json))
    used: set[int] = set()
    for text in texts:
        used.update(tok.encode(text, add_special_tokens=False).ids)
        words = [w.text for w in tokenize_document(text)[0]]
        if words:
            used.update(tok.encode(words, is_pretokenized=True, add_special_tokens=False).ids)
    return used


def corpus_texts(corpora: Iterable[str], root: str | os.PathLike | None = None,
                 text_dirs: Iterable[str | os.PathLike] = ()) -> list[str]:
    """Every document text of the named corpora (all splits), plus the ``*.txt`` files of ``text_dirs``."""
    from ..data.corpora import load_split, split_names

    texts = []
    for corpus in corpora:
        for split in split_names(corpus) or [None]:
            texts += [d.text for d in load_split(corpus, split, root=root, lenient=True)]
    for folder in text_dirs:
        texts += [p.read_text(encoding="utf-8") for p in sorted(Path(folder).glob("*.txt"))]
    return texts


def select_pieces(vocab: list, special_ids: Iterable[int], used: set[int], keep: str) -> list[int]:
    """Old ids to keep, in their original order (see the module docstring)."""
    if keep not in KEEP_MODES:
        raise ValueError(f"keep must be one of {KEEP_MODES}, got {keep!r}")
    scores = [s for _, s in vocab]
    chosen = set(special_ids) | set(used) | {scores.index(min(scores))}
    if keep == "alphabet":
        chars = alphabet_chars()
        chosen |= {i for i, (piece, _) in enumerate(vocab) if in_alphabet(piece, chars)}
    return sorted(chosen)


def remap_tokenizer(tok: dict, kept: list[int]) -> dict:
    """A copy of a Unigram ``tokenizer.json`` dict holding only the ``kept`` old ids, renumbered."""
    model = tok["model"]
    if model.get("type") != "Unigram":
        raise BackboneImportError(f"only sentencepiece Unigram tokenizers can be trimmed, not {model.get('type')}")
    new_id = {old: new for new, old in enumerate(kept)}
    out = json.loads(json.dumps(tok))
    out["model"]["vocab"] = [model["vocab"][i] for i in kept]
    if model.get("unk_id") is not None:
        out["model"]["unk_id"] = new_id[model["unk_id"]]
    for added in out.get("added_tokens") or []:
        added["id"] = new_id[added["id"]]
    post = out.get("post_processor") or {}
    for proc in [post, *post.get("processors", [])]:
        for spec in (proc.get("special_tokens") or {}).values():
            spec["ids"] = [new_id[i] for i in spec["ids"]]
        for key in ("cls", "sep"):  # RobertaProcessing / BertProcessing: [token, id]
            if isinstance(proc.get(key), list):
                proc[key] = [proc[key][0], new_id[proc[key][1]]]
    return out


def _dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def trim_backbone(source: str | os.PathLike, out: str | os.PathLike, *, keep: str = "alphabet",
                  texts: Iterable[str] = (), dtype: str = "float32", force: bool = False) -> TrimInfo:
    """Write a copy of the backbone ``source`` with a trimmed vocabulary into ``out``.

    Args:
        source: a backbone directory (``tokenizer.json`` with a Unigram model, ``model.safetensors``).
        out: the new directory (written next to it, then renamed into place).
        keep: ``"alphabet"`` (all pieces of :data:`ALPHABET` + those ``texts`` use) or ``"corpus"``
            (only the pieces ``texts`` use).
        texts: the trimming corpus.
        dtype: storage dtype of the weights (``float32``, ``bfloat16``, ``float16``); training loads fp32.
        force: replace an existing ``out``.

    Returns:
        A :class:`TrimInfo` (also written to ``out/trim_info.json``).
    """
    src, dst = Path(source), Path(out)
    if dtype not in DTYPES:
        raise BackboneImportError(f"dtype must be one of {DTYPES}, got {dtype!r}")
    for name in ("tokenizer.json", "model.safetensors", "config.json"):
        if not (src / name).is_file():
            raise BackboneImportError(f"{src}: missing {name}; not a backbone directory")
    if dst.exists() and not force:
        raise BackboneImportError(f"{dst} already exists; pass force to replace it")
    tok = json.loads((src / "tokenizer.json").read_text(encoding="utf-8"))
    vocab = tok["model"]["vocab"]
    specials = [a["id"] for a in tok.get("added_tokens") or []]
    used = used_piece_ids(src / "tokenizer.json", texts)
    kept = select_pieces(vocab, specials, used, keep)
    tmp = dst.with_name(f".{dst.name}.trimming")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    rows, params = _write_weights(src, tmp, kept, dtype)
    _write_bytes(tmp / "tokenizer.json", _json_bytes(remap_tokenizer(tok, kept)))
    _copy_side_files(src, tmp, kept, dtype)
    chars = alphabet_chars()
    info = TrimInfo(
        source=str(src), out=str(dst), keep=keep, dtype=dtype, vocab_before=len(vocab), vocab_after=len(kept),
        alphabet_pieces=sum(in_alphabet(p, chars) for p, _ in vocab), corpus_pieces=len(used),
        corpus_pieces_outside_alphabet=sum(not in_alphabet(vocab[i][0], chars) for i in used),
        embedding_rows_before=rows, dir_bytes_before=_dir_bytes(src), dir_bytes_after=0,
        params_before=params[0], params_after=params[1])
    info = TrimInfo(**{**asdict(info), "dir_bytes_after": _dir_bytes(tmp)})
    _write_bytes(tmp / INFO_FILE, _json_bytes(asdict(info)))
    if dst.exists():
        shutil.rmtree(dst)
    os.replace(tmp, dst)
    log.info("trimmed %s: %d -> %d pieces, %d -> %d bytes", src, info.vocab_before, info.vocab_after,
             info.dir_bytes_before, info.dir_bytes_after)
    return info


def _write_bytes(path: Path, data: bytes) -> None:
    _atomic_write(path, lambda tmp: tmp.write_bytes(data))


def _write_weights(src: Path, dst: Path, kept: list[int], dtype: str) -> tuple[int, tuple[int, int]]:
    import torch
    from safetensors.torch import load_file, save_file

    state = load_file(str(src / "model.safetensors"))
    keys = [k for k in state if k.endswith(EMBEDDING_KEY)]
    if len(keys) != 1:
        raise BackboneImportError(f"{src}/model.safetensors: expected one {EMBEDDING_KEY}, found {keys}")
    emb = state[keys[0]]
    if emb.size(0) <= kept[-1]:
        raise BackboneImportError(f"{src}: embedding has {emb.size(0)} rows, tokenizer ids go to {kept[-1]}")
    before = sum(t.numel() for t in state.values())
    state[keys[0]] = emb[torch.tensor(kept)]
    target = getattr(torch, dtype)
    state = {k: (v.to(target) if v.is_floating_point() else v).contiguous() for k, v in state.items()}
    after = sum(t.numel() for t in state.values())
    _atomic_write(dst / "model.safetensors", lambda tmp: save_file(state, str(tmp), metadata={"format": "pt"}))
    return emb.size(0), (before, after)


def _copy_side_files(src: Path, dst: Path, kept: list[int], dtype: str) -> None:
    config = json.loads((src / "config.json").read_text(encoding="utf-8"))
    new_id = {old: new for new, old in enumerate(kept)}
    config["vocab_size"] = len(kept)
    config["dtype"] = dtype
    for key in ("pad_token_id", "bos_token_id", "eos_token_id"):
        if isinstance(config.get(key), int):
            config[key] = new_id.get(config[key], config[key])
    _write_bytes(dst / "config.json", _json_bytes(config))
    tok_cfg = src / "tokenizer_config.json"
    if tok_cfg.is_file():
        cfg = json.loads(tok_cfg.read_text(encoding="utf-8"))
        if isinstance(cfg.get("added_tokens_decoder"), dict):
            cfg["added_tokens_decoder"] = {str(new_id[int(k)]): v for k, v in cfg["added_tokens_decoder"].items()}
        _write_bytes(dst / "tokenizer_config.json", _json_bytes(cfg))
    for name in ("special_tokens_map.json", "NOTICE"):
        if (src / name).is_file():
            shutil.copyfile(src / name, dst / name)
    if (dst / "NOTICE").is_file():
        with open(dst / "NOTICE", "a", encoding="utf-8") as fh:
            fh.write(f"\nVocabulary trimmed by diplomat-ie (`diplomat-ie backbone trim`): {len(kept)} pieces "
                     f"kept, embedding rows sliced accordingly, weights stored as {dtype}.\n")
