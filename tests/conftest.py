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


def make_tiny_backbone(out: Path, hidden: int = 32, layers: int = 2, max_pos: int = 128) -> Path:
    """Save a random BertModel and a WordPiece tokenizer trained on the fixtures into ``out``."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=False)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(vocab_size=400, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]",
                                                                        "[MASK]"])
    tok.train_from_iterator(fixture_texts() * 3, trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]",
                                   cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]",
                                   model_max_length=max_pos)
    fast.save_pretrained(str(out))
    cfg = BertConfig(vocab_size=tok.get_vocab_size(), hidden_size=hidden, num_hidden_layers=layers,
                     num_attention_heads=2, intermediate_size=hidden * 2, max_position_embeddings=max_pos,
                     pad_token_id=0)
    BertModel(cfg, add_pooling_layer=False).save_pretrained(str(out))
    return out


@pytest.fixture(scope="session")
def tiny_backbone(tmp_path_factory) -> Path:
    import torch

    torch.manual_seed(0)
    return make_tiny_backbone(tmp_path_factory.mktemp("backbone"))


@pytest.fixture(scope="session")
def brat_dir() -> Path:
    return BRAT
