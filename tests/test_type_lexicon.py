"""``model.type_lexicon``: decoding-time type correction by the training-set name lexicon + place lookup."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from test_batch_predict import TEXTS, train_tiny_model
from test_word_lexicon import _doc

from diplomat_ie.config import ConfigError, load_config
from diplomat_ie.inference import Extractor
from diplomat_ie.modeling.io import ModelLoadError, load_heads, load_model_dir
from diplomat_ie.modeling.predictions import SpanPred
from diplomat_ie.modeling.type_lexicon import (
    TYPE_LEXICON_FILE,
    TypeLexicon,
    build_type_lexicon,
    resolve_types,
    retype_entities,
    train_span_counts,
)
from diplomat_ie.modeling.word_lexicon import LexiconError, lemma_key

PLACES = frozenset({"CITY", "COUNTRY", "STATE_OR_PROVINCE"})
LEX = TypeLexicon(
    train={"нью - йорк": {"CITY": 8, "STATE_OR_PROVINCE": 2}, "вашингтон": {"CITY": 6, "PERSON": 1},
           "джорджия": {"COUNTRY": 3, "STATE_OR_PROVINCE": 3}, "берлин": {"CITY": 1},
           "москва": {"CITY": 2, "ORGANIZATION": 7}},
    places={"берлин": ["STATE_OR_PROVINCE"], "татарстан": ["STATE_OR_PROVINCE"],
            "париж": ["CITY"], "люксембург": ["CITY", "COUNTRY"]})


@pytest.mark.parametrize("key, predicted, types, kwargs, expected", [
    ("нью - йорк", "STATE_OR_PROVINCE", PLACES, {}, "CITY"),  # 8 of 10: above 0.7
    ("нью - йорк", "STATE_OR_PROVINCE", PLACES, {"min_share": 0.9}, "STATE_OR_PROVINCE"),
    ("вашингтон", "COUNTRY", PLACES, {}, "CITY"),  # 6 of 7 (the PERSON counts in the share)
    ("вашингтон", "PERSON", PLACES, {}, "PERSON"),  # a type outside the set is never corrected
    ("джорджия", "CITY", PLACES, {}, "CITY"),  # a tie at 0.5: below the share
    ("москва", "CITY", PLACES, {}, "CITY"),  # mostly ORGANIZATION, which is outside the set
    ("москва", "CITY", PLACES | {"ORGANIZATION"}, {}, "ORGANIZATION"),
    ("берлин", "CITY", PLACES, {}, "STATE_OR_PROVINCE"),  # seen once (< min count 2): the place lookup
    ("берлин", "COUNTRY", PLACES, {"min_count": 1}, "CITY"),  # once is enough now: the training type
    ("берлин", "CITY", PLACES, {"use_places": False}, "CITY"),
    ("татарстан", "CITY", PLACES, {}, "STATE_OR_PROVINCE"),
    ("татарстан", "CITY", frozenset({"CITY", "COUNTRY"}), {}, "CITY"),  # the lookup's type is outside
    ("люксембург", "CITY", PLACES, {}, "CITY"),  # the lookup is ambiguous
    ("сочи", "COUNTRY", PLACES, {}, "COUNTRY"),  # unknown name
])
def test_type_of(key, predicted, types, kwargs, expected):
    assert LEX.type_of(key, predicted, types, **kwargs) == expected


def test_train_counts_are_keyed_by_lemmas_of_the_whole_name():
    docs = [_doc("a", "В Нью-Йорке и в Москве.", [("Нью-Йорке", "CITY"), ("Москве", "CITY")]),
            _doc("b", "Штат Нью-Йорк; Москва решила.", [("Нью-Йорк", "STATE_OR_PROVINCE"), ("Москва", "ORGANIZATION"),
                                                        ("Штат Нью-Йорк", "STATE_OR_PROVINCE")])]
    counts = train_span_counts(docs)
    york = lemma_key(["Нью", "-", "Йорке"])
    assert counts[york] == {"CITY": 1, "STATE_OR_PROVINCE": 1}
    assert counts["москва"] == {"CITY": 1, "ORGANIZATION": 1}
    assert counts[lemma_key(["Штат", "Нью", "-", "Йорк"])] == {"STATE_OR_PROVINCE": 1}


class _Cfg:
    type_lexicon = ["CITY", "COUNTRY", "STATE_OR_PROVINCE"]
    entity_types = ["CITY", "COUNTRY", "PERSON", "STATE_OR_PROVINCE"]
    type_lexicon_min_count, type_lexicon_min_share, type_lexicon_places = 2, 0.7, True


def test_retyped_entities_rewrite_their_layer_tags_and_merge_duplicates():
    words = ["Штат", "Нью", "-", "Йорк", "и", "Татарстан"]
    ents = [SpanPred(1, 4, "STATE_OR_PROVINCE", 0.6), SpanPred(1, 4, "CITY", 0.9), SpanPred(5, 6, "CITY", 0.5),
            SpanPred(0, 1, "PERSON", 0.4)]
    tags = [["B-PERSON", "B-CITY", "I-CITY", "I-CITY", "O", "B-CITY"],
            ["O", "B-STATE_OR_PROVINCE", "I-STATE_OR_PROVINCE", "I-STATE_OR_PROVINCE", "O", "O"]]
    out = retype_entities(ents, words, tags, LEX, _Cfg())
    assert [(e.lo, e.hi, e.type, e.score) for e in out] == [
        (1, 4, "CITY", 0.9), (5, 6, "STATE_OR_PROVINCE", 0.5), (0, 1, "PERSON", 0.4)]
    assert tags[0] == ["B-PERSON", "B-CITY", "I-CITY", "I-CITY", "O", "B-STATE_OR_PROVINCE"]
    assert tags[1][1:4] == ["B-CITY", "I-CITY", "I-CITY"]  # the layer of the retyped duplicate


def test_saved_lexicon_loads_and_bad_files_are_clear_errors(tmp_path):
    LEX.save(tmp_path)
    back = TypeLexicon.load(tmp_path)
    assert back.train == LEX.train and back.places == LEX.places
    (tmp_path / TYPE_LEXICON_FILE).write_text("{not json", encoding="utf-8")
    with pytest.raises(LexiconError, match="not a JSON file"):
        TypeLexicon.load(tmp_path)
    (tmp_path / TYPE_LEXICON_FILE).write_text(json.dumps({"format": 9, "train": {}}), encoding="utf-8")
    with pytest.raises(LexiconError, match="not a type lexicon of format 1"):
        TypeLexicon.load(tmp_path)
    with pytest.raises(LexiconError, match=f"missing {TYPE_LEXICON_FILE}"):
        TypeLexicon.load(tmp_path / "nowhere")


def test_the_place_lookup_is_built_once_into_the_user_cache(place_cache, monkeypatch, tmp_path):
    docs = [_doc("a", "В Москве.", [("Москве", "CITY")])]
    assert build_type_lexicon(docs).places["татарстан"] == ["STATE_OR_PROVINCE"]  # conftest's seeded file
    from diplomat_ie.modeling import word_lexicon as wl

    calls = []
    monkeypatch.setattr(wl, "place_names", lambda: calls.append(1) or {"Париж": ["CITY"]})
    monkeypatch.setenv("DIPLOMAT_IE_CACHE", str(tmp_path))
    assert build_type_lexicon(docs).places == {"париж": ["CITY"]}
    assert build_type_lexicon(docs).places == {"париж": ["CITY"]} and calls == [1]  # the second: cached
    assert list((tmp_path / "places").glob("places-*.json"))


def test_build_uses_the_given_place_names():
    docs = [_doc("a", "В Москве.", [("Москве", "CITY")])]
    lex = build_type_lexicon(docs, names={"Татарстан": ["STATE_OR_PROVINCE"]})
    assert lex.train == {"москва": {"CITY": 1}} and lex.places == {"татарстан": ["STATE_OR_PROVINCE"]}
    assert build_type_lexicon(docs, places=False).places == {}


@pytest.mark.parametrize("key, value, message", [
    ("model.type_lexicon_min_count", "0", "model.type_lexicon_min_count: must be >= 1, got 0"),
    ("model.type_lexicon_min_share", "0", r"model.type_lexicon_min_share: must be in \(0, 1\], got 0.0"),
    ("model.type_lexicon_min_share", "1.5", r"model.type_lexicon_min_share: must be in \(0, 1\], got 1.5"),
])
def test_bad_settings_are_config_errors(key, value, message):
    with pytest.raises(ConfigError, match=message):
        load_config("default", {key: value})


# ---------------------------------------------------------------- a trained tiny model


@pytest.fixture(scope="module")
def typed_model(tmp_path_factory, tiny_backbone) -> Path:
    tmp = tmp_path_factory.mktemp("typelex")
    cwd = os.getcwd()
    os.chdir(tmp)
    try:  # the place lookup: conftest's PLACE_NAMES, from the seeded user cache
        model = train_tiny_model(tmp, tiny_backbone, **{"model.type_lexicon": "CITY,COUNTRY,PERSON"})
    finally:
        os.chdir(cwd)
    _every_word_a_city(model)
    return model


def _every_word_a_city(model: Path) -> None:
    """Bias the first nesting layer to B-CITY on every word and the others to O, so the test knows what is
    predicted."""
    from safetensors.torch import load_file, save_file

    cfg = json.loads((model / "config.json").read_text())
    labels = ["O"] + [f"{p}-{t}" for t in cfg["entity_types"] for p in "BI"]
    state = load_file(str(model / "model.safetensors"))
    state["heads.ner_head.bias"][labels.index("B-CITY")] += 50.0
    for layer in range(1, cfg["num_layers"]):
        state["heads.ner_head.bias"][layer * len(labels)] += 50.0
    save_file(state, str(model / "model.safetensors"), metadata={"format": "pt"})


def test_training_builds_saves_and_loads_the_lexicon(typed_model):
    cfg = json.loads((typed_model / "config.json").read_text())
    assert cfg["type_lexicon"] == ["CITY", "COUNTRY", "PERSON"] and cfg["type_lexicon_min_count"] == 1  # default.yaml
    saved = json.loads((typed_model / TYPE_LEXICON_FILE).read_text(encoding="utf-8"))
    assert saved["train"]["казахстан"] == {"COUNTRY": 1}
    assert saved["places"] == {"вашингтон": ["CITY"], "казахстан": ["COUNTRY"], "татарстан": ["STATE_OR_PROVINCE"]}
    model, _ = load_model_dir(typed_model)
    assert model.type_lexicon.train == saved["train"]
    assert load_heads(typed_model).type_lexicon.places == saved["places"]
    card = (typed_model / "README.md").read_text(encoding="utf-8")
    assert "pymorphy3" in card and "GeoNames" in card


def test_predictions_take_the_lexicon_types_and_onnx_agrees(typed_model, tmp_path):
    from diplomat_ie.cli import main

    text = "Марко Рубио посетит Казахстан и Вашингтон."
    model, tokenizer = load_model_dir(typed_model)
    model.type_lexicon.train = {"марк рубио": {"PERSON": 3}, "казахстан": {"COUNTRY": 2}}  # вашингтон: places
    model.type_lexicon.places = {"вашингтон": ["COUNTRY"]}
    model.type_lexicon.save(typed_model)
    got = {(e.text, e.type) for e in Extractor.from_pretrained(typed_model)(text).entities}
    assert {("Казахстан", "COUNTRY"), ("Вашингтон", "COUNTRY"), ("посетит", "CITY")} <= got
    # «Марко» and «Рубио» are one-word CITY entities here: no key of two words matches them
    assert ("Марко", "CITY") in got
    off = tmp_path / "off"
    shutil.copytree(typed_model, off)
    cfg = json.loads((off / "config.json").read_text())
    cfg["type_lexicon"] = None
    (off / "config.json").write_text(json.dumps(cfg))
    plain = {(e.text, e.type) for e in Extractor.from_pretrained(off)(text).entities}
    assert ("Казахстан", "CITY") in plain and {t for _, t in plain} == {"CITY"}
    assert ("Казахстан", "CITY") not in got
    assert main(["export", "onnx", "--model", str(typed_model)]) == 0
    onnx = Extractor.from_pretrained(typed_model, backend="onnx")(TEXTS)
    assert [r.to_dict() for r in onnx] == [r.to_dict() for r in Extractor.from_pretrained(typed_model)(TEXTS)]


def test_missing_lexicon_file_is_a_clear_error(typed_model, tmp_path):
    copy = shutil.copytree(typed_model, tmp_path / "copy")
    (copy / TYPE_LEXICON_FILE).unlink()
    with pytest.raises(ModelLoadError, match=f"missing {TYPE_LEXICON_FILE}"):
        load_model_dir(copy)


def test_unknown_types_are_a_config_error(tmp_path, tiny_backbone):
    with pytest.raises(ConfigError, match=r"model.type_lexicon: \['SHIP'\] are not entity types of the model"):
        train_tiny_model(tmp_path, tiny_backbone, **{"model.type_lexicon": "CITY,SHIP"})


@pytest.mark.parametrize("spec, expected", [
    (["CITY", "COUNTRY"], ["CITY", "COUNTRY"]),
    (["COUNTRY", "CITY"], ["CITY", "COUNTRY"]),  # the model's order
    (["all"], ["CITY", "COUNTRY", "NATIONALITY", "PERSON"]),
    (["all", "-NATIONALITY"], ["CITY", "COUNTRY", "PERSON"]),
    (["all", "-SHIP"], ["CITY", "COUNTRY", "NATIONALITY", "PERSON"]),  # excluding an absent type is harmless
    (["CITY", "-CITY"], []),
    (None, []),
])
def test_resolve_types(spec, expected):
    assert resolve_types(spec, ["CITY", "COUNTRY", "NATIONALITY", "PERSON"]) == expected


def test_resolve_types_names_an_unknown_type():
    with pytest.raises(ValueError, match=r"\['SHIP'\] are not entity types"):
        resolve_types(["all", "SHIP"], ["CITY"])


def test_the_default_config_corrects_every_type_but_nationality(typed_model, tmp_path, tiny_backbone):
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        model = train_tiny_model(tmp_path, tiny_backbone)
    finally:
        os.chdir(cwd)
    cfg = json.loads((model / "config.json").read_text())
    assert cfg["type_lexicon"] == [t for t in cfg["entity_types"] if t != "NATIONALITY"]
    assert cfg["type_lexicon_min_count"] == 1 and (model / TYPE_LEXICON_FILE).is_file()


def test_trigger_types_are_never_corrected_nor_corrected_to():
    class Cfg(_Cfg):
        type_lexicon = ["all"]
        entity_types = ["EVENT", "PROFESSION"]
        trigger_types = ["EVENT"]
        type_lexicon_min_count = 1

    lex = TypeLexicon({"визит": {"PROFESSION": 5}, "посол": {"EVENT": 5}})
    ents = [SpanPred(0, 1, "EVENT", 0.9), SpanPred(1, 2, "PROFESSION", 0.9)]
    out = retype_entities(ents, ["визит", "посол"], [["B-EVENT", "B-PROFESSION"]], lex, Cfg())
    assert [e.type for e in out] == ["EVENT", "PROFESSION"]
