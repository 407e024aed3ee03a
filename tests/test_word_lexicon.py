"""``model.word_lexicon``: morphology, place lookup and out-of-fold training lexicon (tiny lexicons built here)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import torch
from test_batch_predict import TEXTS, train_tiny_model

from diplomat_ie.config import ConfigError, load_config
from diplomat_ie.data.document import Document, Entity, Span
from diplomat_ie.inference import Extractor
from diplomat_ie.modeling import word_lexicon as wl
from diplomat_ie.modeling.io import ModelLoadError, load_heads, load_model_dir
from diplomat_ie.modeling.word_features import WordFeaturizer
from diplomat_ie.modeling.word_lexicon import (
    LEXICON_FILE,
    WordLexicon,
    analyse,
    build_lexicon,
    feature_bits,
    fold_of_docs,
    place_lexicon,
    train_lexicon,
)

NAMES = {"Южная Корея": ["COUNTRY"], "Берлин": ["CITY", "STATE_OR_PROVINCE"], "Мир": ["CITY"], "В": ["CITY"],
         "Абу-Даби": ["CITY"], "Республика Татарстан": ["STATE_OR_PROVINCE"], "Paris": ["CITY"]}


@pytest.mark.parametrize("groups, types, expected", [
    (["morph"], [], ["morph:Geox", "morph:Name", "morph:Surn", "morph:Patr", "morph:Orgn"]),
    (["places"], [], ["places:COUNTRY", "places:CITY", "places:STATE_OR_PROVINCE"]),
    (["train"], ["CITY", "PERSON"], ["train:CITY", "train:PERSON"]),
    (["train", "places"], ["CITY"], ["places:COUNTRY", "places:CITY", "places:STATE_OR_PROVINCE", "train:CITY"]),
    ([], ["CITY"], []),
])
def test_feature_bits_follow_the_group_order(groups, types, expected):
    assert feature_bits(groups, types) == expected


@pytest.mark.parametrize("word, lemma, grams", [
    ("Москве", "москва", {"Geox"}),
    ("Путин", "путин", {"Surn"}),
    ("Владимировичем", "владимирович", {"Patr"}),
    ("ООН", "оон", {"Orgn"}),
    ("Ёлке", "елка", set()),  # ё -> е in lemmas
    ("2010", "2010", set()),  # no letters: no analysis
    (",", ",", set()),
])
def test_analyse_gives_lower_case_lemmas_and_name_grammemes(word, lemma, grams):
    got_lemma, got = analyse(word)
    assert got_lemma == lemma and grams <= got and got <= set(wl.MORPH_BITS)


def test_place_lookup_by_lemma_sequence_and_common_word_towns_dropped():
    places = place_lexicon(NAMES)
    assert places["южный корея"] == ["COUNTRY"] and places["абу - даби"] == ["CITY"]
    assert places["республика татарстан"] == ["STATE_OR_PROVINCE"]
    assert "мир" not in places and "в" not in places  # towns named like common words
    lex = WordLexicon(["places"], feature_bits(["places"], []), places)
    words = ["В", "Южной", "Корее", "и", "в", "Берлине", "Абу", "-", "Даби"]
    rows = lex.word_bits(words)
    assert [r[0] for r in rows] == [0, 1, 1, 0, 0, 0, 0, 0, 0]  # COUNTRY: both words of «Южной Корее»
    assert [r[1] for r in rows] == [0, 0, 0, 0, 0, 1, 1, 1, 1]  # CITY
    assert [r[2] for r in rows] == [0, 0, 0, 0, 0, 1, 0, 0, 0]  # STATE_OR_PROVINCE


def _doc(doc_id: str, text: str, ents: list[tuple[str, str]]) -> Document:
    out = []
    for i, (word, typ) in enumerate(ents):
        start = text.index(word)
        out.append(Entity(f"T{i}", typ, [Span(start, start + len(word))], word))
    return Document(doc_id, text, entities=out)


def test_train_lexicon_takes_the_most_frequent_type_and_leaves_mostly_outside_lemmas_out():
    docs = [_doc("a", "Москва и Москве. Мир.", [("Москва", "CITY"), ("Москве", "STATE_OR_PROVINCE")]),
            _doc("b", "В Москве мир.", [("Москве", "CITY"), ("мир", "EVENT")]),
            _doc("c", "Мир и мир.", [])]
    lex = train_lexicon(docs, ["CITY", "STATE_OR_PROVINCE", "EVENT"])
    assert lex == {"москва": "CITY"}  # 2 CITY vs 1 STATE; «мир»: 1 EVENT vs 3 outside entities
    assert train_lexicon(docs, ["EVENT"]) == {}  # types the model does not tag are not counted


def _town(i: int) -> str:
    return f"Тау{chr(0x431 + i)}ск"  # made-up towns, one lemma each


def test_out_of_fold_lexicon_hides_a_documents_own_labels():
    docs = [_doc(f"d{i}", f"Визит в {_town(i)} прошел.", [(_town(i), "CITY")]) for i in range(12)]
    lexicon = build_lexicon(["train"], ["CITY"], docs, folds=3)
    featurizer = WordFeaturizer(lexicon=lexicon)
    folds = fold_of_docs(docs, 3)
    assert folds == fold_of_docs(list(reversed(docs)), 3) and set(folds.values()) == {0, 1, 2}
    for i, d in enumerate(docs):
        words = ["Визит", "в", _town(i), "прошел"]
        assert featurizer(words)[2] == [1]  # inference: the full lexicon knows every town
        assert featurizer.for_doc(d.id)(words)[2] == [0]  # training: its own fold never saw it
        assert featurizer.for_doc(d.id)(words)[0] == [0]
    # a town that also occurs in a document of another fold keeps its bit out of fold
    x_fold = fold_of_docs([_doc("x", "", [])], 3)["x"]
    i = next(i for i, d in enumerate(docs) if folds[d.id] != x_fold)
    docs.append(_doc("x", f"Визит в {_town(i)} прошел.", [(_town(i), "CITY")]))
    featurizer = WordFeaturizer(lexicon=build_lexicon(["train"], ["CITY"], docs, folds=3))
    assert featurizer.for_doc("x")(["в", _town(i)]) == [[0], [1]]


def test_saved_lexicon_drops_the_folds_and_keeps_the_full_lookup(tmp_path):
    docs = [_doc("a", "Визит в Москву.", [("Москву", "CITY")])]
    lex = build_lexicon(["morph", "places", "train"], ["CITY"], docs, folds=2, names=NAMES)
    lex.save(tmp_path)
    data = json.loads((tmp_path / LEXICON_FILE).read_text(encoding="utf-8"))
    assert set(data) == {"format", "groups", "bits", "places", "train"} and data["train"] == {"москва": "CITY"}

    class Cfg:
        word_lexicon = ["morph", "places", "train"]
        entity_types = ["CITY"]

    loaded = WordLexicon.load(tmp_path, Cfg)
    assert loaded.word_bits(["Москву", "Берлин"]) == lex.word_bits(["Москву", "Берлин"])
    assert loaded.fold_of("a") is None  # no folds after loading: every document gets the full lookup
    Cfg.entity_types = ["CITY", "PERSON"]
    with pytest.raises(wl.LexiconError, match="do not match"):
        WordLexicon.load(tmp_path, Cfg)


def test_unknown_group_is_a_config_error():
    with pytest.raises(ConfigError, match="model.word_lexicon: unknown groups \\['gazetteer'\\]"):
        load_config("default", {"model.word_lexicon": "morph,gazetteer"})


@pytest.fixture(scope="module")
def lex_model(tmp_path_factory, tiny_backbone, tiny_navec) -> Path:
    from diplomat_ie.cli import main

    tmp = tmp_path_factory.mktemp("lex")
    mp = pytest.MonkeyPatch()
    mp.setattr(wl, "place_names", lambda: NAMES)  # the real lookup takes a minute to build
    cwd = os.getcwd()
    os.chdir(tmp)
    try:
        model = train_tiny_model(tmp, tiny_backbone, **{"model.word_vectors": str(tiny_navec),
                                                        "model.word_lexicon": "morph,places,train"})
    finally:
        os.chdir(cwd)
        mp.undo()
    assert main(["export", "onnx", "--model", str(model)]) == 0
    return model


def test_lexicon_model_saves_loads_and_reads_its_columns(lex_model):
    cfg = json.loads((lex_model / "config.json").read_text())
    assert cfg["word_lexicon"] == ["morph", "places", "train"] and cfg["word_lexicon_size"] == 16
    model, _ = load_model_dir(lex_model)
    types = cfg["entity_types"]
    assert model.heads.word_features.n_bits == 5 + 3 + len(types)
    assert model.ner_head.in_features == 32 + 64 + 16
    rows = model.featurizer(["в", "Берлине", "Москвы"])
    assert all(len(r) == 1 + 8 + len(types) for r in rows)
    assert rows[1][1 + 5 + 1] == 1  # places:CITY of «Берлине»
    train = json.loads((lex_model / LEXICON_FILE).read_text(encoding="utf-8"))["train"]
    assert train and all(t in types for t in train.values())
    card = (lex_model / "README.md").read_text(encoding="utf-8")
    assert "pymorphy3" in card and "GeoNames" in card and "navec" in card


def test_lexicon_bits_reach_the_heads_and_onnx_matches_torch(lex_model):
    model, _ = load_model_dir(lex_model)
    feats = torch.tensor([model.featurizer(["в", "Берлине", "Москвы"])])
    off = feats.clone()
    off[..., 1:] = 0
    words = torch.zeros((1, 3, 32))
    assert not torch.allclose(model.heads.add_word_features(words, feats), model.heads.add_word_features(words, off))
    ref = Extractor.from_pretrained(lex_model)(TEXTS)
    got = Extractor.from_pretrained(lex_model, backend="onnx")(TEXTS)
    assert [r.to_dict() for r in got] == [r.to_dict() for r in ref]
    assert load_heads(lex_model).featurizer.lexicon.bits == model.featurizer.lexicon.bits


def test_lexicon_file_missing_is_a_clear_error(lex_model, tmp_path):
    copy = shutil.copytree(lex_model, tmp_path / "copy")
    (copy / LEXICON_FILE).unlink()
    with pytest.raises(ModelLoadError, match=f"missing {LEXICON_FILE}"):
        load_model_dir(copy)
