"""``model.word_vectors``: navec vectors concatenated before the heads (tiny navec tables built here)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import torch
from conftest import make_tiny_navec
from test_batch_predict import TEXTS, predict, read_rows, train_tiny_model

from diplomat_ie.inference import Extractor
from diplomat_ie.modeling.configuration import DiplomatConfig
from diplomat_ie.modeling.io import ModelLoadError, load_heads, load_model_dir
from diplomat_ie.modeling.word_features import WordFeatures
from diplomat_ie.modeling.word_vectors import VOCAB_FILE, WordIndex, navec_path, read_navec


@pytest.mark.parametrize("word, expected", [
    ("москва", 0), ("Москва", 0), ("МОСКВА", 0),  # lower-cased
    ("ёлка", 1), ("Ёлка", 1),  # the table has ё
    ("ещё", 2),  # the table only has е: ё -> е
    ("еще", 2),
    ("елка", 3),  # no е -> ё the other way
    ("париж", 3), ("", 3), ("<unk>", 3),  # OOV: one past the table
])
def test_word_index_lower_cases_then_tries_e_for_yo(word, expected):
    assert WordIndex(["москва", "ёлка", "еще"])(word) == expected


def test_read_navec_drops_navecs_specials_and_keeps_its_vectors(tmp_path):
    from navec import Navec

    path = make_tiny_navec(tmp_path / "t.tar", ["мир", "дом"], qdim=2, sub_dim=3, centroids=5)
    table = read_navec(path)
    assert table.words == ["мир", "дом"] and table.dim == 6
    assert table.codes.shape == (2, 2) and table.centroids.shape == (2, 5, 3)
    nv = Navec.load(str(path))
    cfg = DiplomatConfig(word_vectors=str(path), word_vectors_table=table.shape(), word_feature_dropout=0.0)
    feats = WordFeatures(cfg)
    feats.set_table(table)
    vec = feats.vectors(torch.tensor([[0, 1, 2]]))
    assert torch.allclose(vec[0, 0, :6], torch.from_numpy(nv["мир"].copy()))
    assert torch.allclose(vec[0, 1, :6], torch.from_numpy(nv["дом"].copy()))
    assert vec[0, :, 6].tolist() == [0.0, 0.0, 1.0]  # the OOV flag
    with torch.no_grad():
        feats.oov.fill_(0.5)
    assert feats.vectors(torch.tensor([[2]]))[0, 0, :6].tolist() == [0.5] * 6  # the learned OOV vector


@pytest.mark.parametrize("bad", ["missing.tar", "not-a-tar"])
def test_unreadable_vector_file_is_a_clear_error(tmp_path, bad):
    from diplomat_ie.modeling.word_vectors import WordVectorsError

    path = tmp_path / bad
    if bad == "not-a-tar":
        path.write_text("hello")
    with pytest.raises(WordVectorsError, match=f"model.word_vectors: {path}"):
        read_navec(path)


def _features(p: float, rows: int = 10) -> WordFeatures:
    table = {"rows": rows, "subspaces": 2, "centroids": 4, "sub_dim": 2}
    return WordFeatures(DiplomatConfig(word_vectors="x.tar", word_vectors_table=table, word_feature_dropout=p))


def test_feature_dropout_makes_words_oov_in_training_only():
    torch.manual_seed(0)
    feats = _features(0.3)
    ids = torch.randint(0, 10, (8, 500, 1))
    feats.train()
    dropped = feats._dropped(ids)
    share = (dropped[..., 0] == 10).float().mean().item()
    assert 0.25 < share < 0.35
    kept = dropped[..., 0] != 10
    assert torch.equal(dropped[..., 0][kept], ids[..., 0][kept])  # the others are untouched
    feats.eval()
    assert torch.equal(feats._dropped(ids), ids)
    off = _features(0.0).train()
    assert torch.equal(off._dropped(ids), ids)


def test_real_navec_file_reads_fast():
    path = navec_path("navec")
    table = read_navec(path)  # about a second on an idle CPU (no wall-clock assert: CI machines are shared)
    index = WordIndex(table.words)
    assert len(table.words) == 250_000 and table.dim == 300 and table.codes.dtype.name == "uint8"
    assert index("Москва") != index.oov and index("МИД") != index.oov and index("ёжик-зюзик") == index.oov


def test_default_model_has_no_word_features():
    cfg = DiplomatConfig(encoder={"model_type": "bert", "hidden_size": 32, "num_hidden_layers": 1,
                                  "num_attention_heads": 2, "intermediate_size": 64, "vocab_size": 50},
                         entity_types=["PERSON"], roles=["agent"])
    from diplomat_ie.modeling.model import DiplomatModel

    model = DiplomatModel(cfg)
    assert cfg.word_vectors is None and cfg.word_lexicon is None
    assert model.heads.word_features is None and model.featurizer is None
    assert model.ner_head.in_features == 32 and model.role_head.word.in_features == 32
    assert not any("word_features" in k for k in model.state_dict())


def _train(tmp: Path, backbone: Path, navec: Path, **overrides: str) -> Path:
    cwd = os.getcwd()
    os.chdir(tmp)
    try:
        return train_tiny_model(tmp, backbone, **{"model.word_vectors": str(navec), **overrides})
    finally:
        os.chdir(cwd)


@pytest.fixture(scope="module")
def vec_model(tmp_path_factory, tiny_backbone, tiny_navec) -> Path:
    from diplomat_ie.cli import main

    model = _train(tmp_path_factory.mktemp("wv"), tiny_backbone, tiny_navec, **{"model.word_vectors_size": "8"})
    assert main(["export", "onnx", "--model", str(model), "--int8"]) == 0
    return model


def test_saved_model_carries_the_table_the_word_list_and_the_licence(vec_model, tiny_navec):
    cfg = json.loads((vec_model / "config.json").read_text())
    table = read_navec(tiny_navec)
    assert cfg["word_vectors"] == str(tiny_navec) and cfg["word_vectors_size"] == 8
    assert cfg["word_vectors_table"]["rows"] == len(table.words) and len(cfg["word_vectors_table"]["sha256"]) == 64
    assert (vec_model / VOCAB_FILE).read_text(encoding="utf-8").splitlines() == table.words
    model, _ = load_model_dir(vec_model)
    wf = model.heads.word_features
    assert wf is not None and wf.codes.dtype == torch.uint8
    assert torch.equal(wf.codes, torch.from_numpy(table.codes))
    # training.save_dtype float16 stores the centroids in half precision
    assert torch.allclose(wf.centroids, torch.from_numpy(table.centroids), rtol=1e-3, atol=1e-3)
    # the default config's pair role head reads [mean; first; last] of the same word vectors
    assert model.ner_head.in_features == 32 + 8 and model.role_head.trig.in_features == 3 * (32 + 8)
    assert model.featurizer.index.words == table.words
    assert "navec news embeddings (natasha project, MIT)" in (vec_model / "README.md").read_text(encoding="utf-8")
    assert "| word vectors | `model.word_vectors` |" in (vec_model / "README.md").read_text(encoding="utf-8")


def test_word_vectors_reach_the_heads(vec_model):
    model, tok = load_model_dir(vec_model)
    from diplomat_ie.modeling.predict import Predictor

    predictor = Predictor(model, tok)
    enc = predictor.encode(TEXTS[0])
    win = enc.windows[0]
    ids = torch.tensor([win.input_ids])
    mask = torch.ones_like(ids)
    pos = torch.tensor([win.word_pos])
    rows = torch.tensor([model.featurizer([w.text for w in enc.words[win.lo : win.hi]])])
    assert (rows[..., 0] < model.featurizer.index.oov).any() and (rows[..., 0] == model.featurizer.index.oov).any()
    with torch.no_grad():
        a = model(ids, mask, pos, word_feats=rows)["ner_logits"]
        b = model(ids, mask, pos, word_feats=torch.full_like(rows, model.featurizer.index.oov))["ner_logits"]
    assert not torch.allclose(a, b)
    with pytest.raises(ValueError, match="pass word_feats"):
        model(ids, mask, pos)


def test_onnx_backend_matches_torch_with_word_vectors(vec_model):
    import onnx

    graph = onnx.load(str(vec_model / "onnx/model.onnx"), load_external_data=False).graph
    assert [i.name for i in graph.input] == ["input_ids", "attention_mask", "word_pos", "word_feats"]
    record = json.loads((vec_model / "onnx/export.json").read_text())
    assert record["max_abs_diff_fp32"] < 1e-4
    ref = Extractor.from_pretrained(vec_model)(TEXTS)
    got = Extractor.from_pretrained(vec_model, backend="onnx")(TEXTS)
    assert sum(len(r.entities) for r in ref) > 0
    assert [r.to_dict() for r in got] == [r.to_dict() for r in ref]
    heads = load_heads(vec_model)
    assert heads.featurizer is not None and heads.word_features is not None
    for r in Extractor.from_pretrained(vec_model, backend="onnx-int8")(TEXTS):
        assert all(r.text[e.start : e.end] == e.text for e in r.entities)


def test_batch_predict_feeds_the_word_features(vec_model, tmp_path):
    docs = tmp_path / "docs.jsonl"
    docs.write_text("".join(json.dumps({"id": i, "text": t}, ensure_ascii=False) + "\n" for i, t in enumerate(TEXTS)),
                    encoding="utf-8")
    expected = [r.to_dict() for r in Extractor.from_pretrained(vec_model)(TEXTS)]
    for backend in ("torch", "onnx"):
        out = tmp_path / f"{backend}.jsonl"
        assert predict(vec_model, "--input", str(docs), "--output", str(out), "--backend", backend) == 0
        assert [{k: r[k] for k in ("text", "entities", "events")} for r in read_rows(out)] == expected


@pytest.mark.parametrize("damage", ["missing", "edited"])
def test_word_list_that_does_not_belong_to_the_model_is_refused(vec_model, tmp_path, damage):
    copy = shutil.copytree(vec_model, tmp_path / "copy")
    if damage == "missing":
        (copy / VOCAB_FILE).unlink()
    else:
        (copy / VOCAB_FILE).write_text("другое\n", encoding="utf-8")
    message = f"missing {VOCAB_FILE}" if damage == "missing" else "checksum differs"
    with pytest.raises(ModelLoadError, match=message):
        load_model_dir(copy)
    with pytest.raises(ModelLoadError, match=message):
        load_heads(copy)


def test_marker_model_with_word_vectors_matches_onnx(tmp_path, tiny_backbone, tiny_navec):
    from diplomat_ie.cli import main

    model = _train(tmp_path, tiny_backbone, tiny_navec, **{"roles.head": "bio", "roles.marker_layer": "1",
                                                      "model.scalar_mix": "0", "training.epochs": "1"})
    assert main(["export", "onnx", "--model", str(model)]) == 0
    ref = Extractor.from_pretrained(model)(TEXTS)
    got = Extractor.from_pretrained(model, backend="onnx")(TEXTS)
    assert Extractor.from_pretrained(model, backend="onnx").model.role_runner is not None
    assert [r.to_dict() for r in got] == [r.to_dict() for r in ref]
    loaded, _ = load_model_dir(model)
    assert loaded.role_marker.shape == (32,) and loaded.role_head.word.in_features == 32 + 64
