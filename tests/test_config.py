"""``config.load_config`` and ``parse_overrides``: table-driven; every error names the offending key."""

from __future__ import annotations

from pathlib import Path

import pytest

from diplomat_ie.config import ConfigError, RunConfig, load_config, parse_overrides
from diplomat_ie.resources import resource_names

ROOT = Path(__file__).resolve().parents[1]


def _get(cfg: RunConfig, dotted: str):
    node = cfg
    for part in dotted.split("."):
        node = getattr(node, part)
    return node


# (overrides, key to read, expected value)
GOOD_OVERRIDES = [
    ({"training.batch_size": "8"}, "training.batch_size", 8),
    ({"training.head_lr": "1.0e-5"}, "training.head_lr", 1.0e-5),
    ({"training.head_lr": "1e-5"}, "training.head_lr", 1e-5),
    ({"training.encoder_lr": "0"}, "training.encoder_lr", 0.0),
    ({"training.epochs": "2"}, "training.epochs", 2.0),
    ({"training.epochs": "0.5"}, "training.epochs", 0.5),
    ({"model.dropout": "0"}, "model.dropout", 0.0),
    ({"training.overwrite": "true"}, "training.overwrite", True),
    ({"training.overwrite": "YES"}, "training.overwrite", True),
    ({"training.overwrite": "0"}, "training.overwrite", False),
    ({"roles.enabled": "false"}, "roles.enabled", False),
    ({"model.entity_types": "PERSON, ORG,,COUNTRY "}, "model.entity_types", ["PERSON", "ORG", "COUNTRY"]),
    ({"model.entity_types": "PERSON"}, "model.entity_types", ["PERSON"]),
    ({"model.entity_types": "[PERSON, ORG]"}, "model.entity_types", ["PERSON", "ORG"]),  # YAML flow style
    ({"model.word_lexicon": " [morph, places, train]"}, "model.word_lexicon", ["morph", "places", "train"]),
    ({"model.word_lexicon": "[]"}, "model.word_lexicon", []),
    ({"model.entity_types": "null"}, "model.entity_types", None),
    ({"model.entity_types": "None"}, "model.entity_types", None),
    ({"roles.trigger_types": "EVENT,ACTION"}, "roles.trigger_types", ["EVENT", "ACTION"]),
    ({"data.max_train_docs": "null"}, "data.max_train_docs", None),
    ({"data.max_train_docs": "5"}, "data.max_train_docs", 5),
    ({"data.root": "none"}, "data.root", None),
    ({"data.corpus": "tests/fixtures/brat"}, "data.corpus", "tests/fixtures/brat"),
    ({"training.eval_every": "epoch"}, "training.eval_every", "epoch"),
    ({"training.eval_every": "250"}, "training.eval_every", "250"),
    ({"training.max_steps": "-1"}, "training.max_steps", -1),
    ({"training.epochs": "0", "training.max_steps": "5"}, "training.max_steps", 5),
    ({"training.threads": "2"}, "training.threads", 2),
    ({"training.threads": "null"}, "training.threads", None),
    ({"name": "exp-1"}, "name", "exp-1"),
]


@pytest.mark.parametrize("overrides, key, value", GOOD_OVERRIDES, ids=[str(g[0]) for g in GOOD_OVERRIDES])
def test_good_overrides(overrides, key, value):
    cfg = load_config("default", overrides)
    got = _get(cfg, key)
    assert got == value and type(got) is type(value)


# (overrides, regex the ConfigError must match: it names the key)
BAD_OVERRIDES = [
    ({"model.word_lexicon": "[morph, places"}, "model.word_lexicon: not a YAML list"),
    ({"model.word_lexicon": "[morph, [places]]"}, "model.word_lexicon"),
    ({"foo.bar": "1"}, r"--foo\.bar: expected --section\.key"),
    ({"training": "1"}, r"--training: expected --section\.key"),
    ({".batch_size": "1"}, r"--\.batch_size: expected --section\.key"),
    ({"training.bogus": "1"}, r"training: unknown key\(s\) \['bogus'\]"),
    ({"model.Max_Length": "64"}, r"model: unknown key\(s\) \['Max_Length'\]"),
    ({"training.batch_size": "abc"}, r"training\.batch_size: expected int, got 'abc'"),
    ({"training.batch_size": "8.5"}, r"training\.batch_size: expected int"),
    ({"training.batch_size": "8.0"}, r"training\.batch_size: expected int"),
    ({"training.batch_size": ""}, r"training\.batch_size: expected int"),
    ({"training.batch_size": "null"}, r"training\.batch_size: expected int, got 'null'"),
    ({"training.head_lr": "fast"}, r"training\.head_lr: expected float"),
    ({"training.head_lr": "inf"}, r"training\.head_lr: expected float"),
    ({"training.epochs": "nan"}, r"training\.epochs: expected float"),
    ({"training.overwrite": "maybe"}, r"training\.overwrite: expected bool, got 'maybe'"),
    ({"training.overwrite": "2"}, r"training\.overwrite: expected bool"),
    ({"roles.trigger_types": ""}, r"roles\.trigger_types: needs at least one type"),
    ({"roles.trigger_types": " , "}, r"roles\.trigger_types: needs at least one type"),
    ({"model.max_length": "8"}, r"model\.max_length: must be >= 16, got 8"),
    ({"model.overlap": "80"}, r"model\.overlap: must be in \[0, max_length/2\)"),
    ({"model.overlap": "-1"}, r"model\.overlap"),
    ({"model.num_layers": "0"}, r"model\.num_layers"),
    ({"model.ner_head": "crf"}, r"model\.ner_head: must be one of layered, span, got 'crf'"),
    ({"model.max_span_width": "0"}, r"model\.max_span_width: must be in 1\.\.64, got 0"),
    ({"model.span_none_weight": "0"}, r"model\.span_none_weight: must be positive"),
    ({"model.span_loss_scale": "tokens"}, r"model\.span_loss_scale: must be one of cells, words, got 'tokens'"),
    ({"model.dropout": "1.0"}, r"model\.dropout: must be in \[0, 1\)"),
    ({"model.scalar_mix": "1"}, r"model\.scalar_mix: must be 0 \(off\) or in 2\.\.64, got 1"),
    ({"model.ner_decoding": "beam"}, r"model\.ner_decoding: must be one of argmax, viterbi, got 'beam'"),
    ({"training.layer_lr_decay": "0"}, r"training\.layer_lr_decay: must be in \(0, 1\], got 0"),
    ({"training.layer_lr_decay": "1.5"}, r"training\.layer_lr_decay: must be in \(0, 1\]"),
    ({"roles.hidden_size": "0"}, r"roles\.hidden_size: must be positive"),
    ({"roles.max_distance": "1"}, r"roles\.max_distance"),
    ({"roles.loss_weight": "-0.5"}, r"roles\.loss_weight"),
    ({"roles.class_balance": "2"}, r"roles\.class_balance: must be in \[0, 1\], got 2"),
    ({"roles.none_bias": "nan"}, r"roles\.none_bias: expected float, got 'nan'"),  # the parser: finite only
    ({"data.max_train_docs": "0"}, r"data\.max_train_docs: must be positive"),
    ({"data.max_eval_docs": "-3"}, r"data\.max_eval_docs: must be positive"),
    ({"training.epochs": "0"}, r"training\.epochs: must be > 0"),
    ({"training.batch_size": "0"}, r"training\.batch_size: must be positive"),
    ({"training.eval_batch_size": "-1"}, r"training\.eval_batch_size: must be positive"),
    ({"training.head_lr": "0"}, r"training\.\*_lr: must be positive"),
    ({"training.warmup_ratio": "1"}, r"training\.warmup_ratio"),
    ({"training.weight_decay": "-0.1"}, r"training\.weight_decay: must be >= 0"),
    ({"training.eval_every": "0"}, r"training\.eval_every: must be 'epoch' or a positive step count"),
    ({"training.eval_every": "-5"}, r"training\.eval_every"),
    ({"training.eval_every": "often"}, r"training\.eval_every.*'often'"),
    ({"training.patience": "0"}, r"training\.patience: must be >= 1"),
    ({"training.logging_steps": "0"}, r"training\.logging_steps: must be >= 1"),
    ({"training.save_total_limit": "0"}, r"training\.save_total_limit: must be >= 1"),
    ({"training.threads": "0"}, r"training\.threads: must be a positive number"),
    ({"training.threads": "-2"}, r"training\.threads"),
]


@pytest.mark.parametrize("overrides, message", BAD_OVERRIDES, ids=[str(b[0]) for b in BAD_OVERRIDES])
def test_bad_overrides_name_the_key(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_config("default", overrides)


# YAML documents: (text, key, expected value) — YAML types go through the same coercion
GOOD_YAML = [
    ("training:\n  head_lr: 1.0e-5\n", "training.head_lr", 1.0e-5),
    ("training:\n  head_lr: 1e-5\n", "training.head_lr", 1e-5),  # a str to YAML 1.1, still a float here
    ("training:\n  head_lr: 3\n", "training.head_lr", 3.0),
    ("training:\n  batch_size: 8.0\n", "training.batch_size", 8),
    ("training:\n  overwrite: yes\n", "training.overwrite", True),
    ("training:\n  overwrite: 0\n", "training.overwrite", False),
    ("training:\n  eval_every: 100\n", "training.eval_every", "100"),
    ("model:\n  entity_types: [PERSON, ORG]\n", "model.entity_types", ["PERSON", "ORG"]),
    ("model:\n  entity_types: PERSON, ORG\n", "model.entity_types", ["PERSON", "ORG"]),
    ("model:\n  entity_types: null\n", "model.entity_types", None),
    ("data:\n  max_train_docs: ~\n", "data.max_train_docs", None),
    ("data:\n", "data.corpus", "nerel"),  # an empty section keeps the defaults
    ("", "training.batch_size", 16),  # an empty file too
    ("name: quick\n", "name", "quick"),
]


@pytest.mark.parametrize("text, key, value", GOOD_YAML, ids=[g[0] for g in GOOD_YAML])
def test_good_yaml(tmp_path, text, key, value):
    path = tmp_path / "c.yaml"
    path.write_text(text, encoding="utf-8")
    got = _get(load_config(path), key)
    assert got == value and type(got) is type(value)


BAD_YAML = [
    ("bogus:\n  x: 1\n", r"unknown section\(s\) \['bogus'\]"),
    ("- a\n- b\n", r"top level must be a mapping"),
    ("training: 5\n", r"training: expected a mapping of keys, got int"),
    ("training: [a, b]\n", r"training: expected a mapping of keys, got list"),
    ("training:\n  batch_size: [8]\n", r"training\.batch_size: expected int"),
    ("training:\n  batch_size: true\n", r"training\.batch_size: expected int, got True"),
    ("training:\n  batch_size: 8.5\n", r"training\.batch_size: expected int"),
    ("training:\n  batch_size: null\n", r"training\.batch_size: may not be null"),
    ("training:\n  overwrite: 2\n", r"training\.overwrite: expected bool"),
    ("training:\n  head_lr: .inf\n", r"training\.head_lr: expected float"),
    ("data:\n  corpus: [a, b]\n", r"data\.corpus: expected str"),
    ("data:\n  corpus: {a: 1}\n", r"data\.corpus: expected str"),
    ("roles:\n  trigger_types: 5\n", r"roles\.trigger_types: expected a list"),
    ("roles:\n  trigger_types: []\n", r"roles\.trigger_types: needs at least one type"),
    ("model:\n  max_length: 8\n", r"model\.max_length: must be >= 16"),
    ("training: {batch_size: 8\n", r"cannot read config"),  # malformed YAML
]


@pytest.mark.parametrize("text, message", BAD_YAML, ids=[b[0] for b in BAD_YAML])
def test_bad_yaml_names_the_key(tmp_path, text, message):
    path = tmp_path / "c.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match=r"cannot read config .*nope\.yaml"):
        load_config(tmp_path / "nope.yaml")


def test_overrides_win_over_yaml(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("training:\n  batch_size: 4\n  epochs: 2\n", encoding="utf-8")
    cfg = load_config(path, {"training.batch_size": "32"})
    assert cfg.training.batch_size == 32 and cfg.training.epochs == 2.0


RUN_CONFIGS = resource_names("config")


@pytest.mark.parametrize("name", RUN_CONFIGS)
def test_shipped_run_configs_load(name):
    cfg = load_config(name)
    assert cfg.to_dict()["training"]["batch_size"] > 0


PARSE = [
    ([], {}),
    (["--training.batch_size", "8"], {"training.batch_size": "8"}),
    (["--model.dropout=0.2"], {"model.dropout": "0.2"}),
    (["--model.entity_types=A,B=C"], {"model.entity_types": "A,B=C"}),  # split at the first '=' only
    (["--training.max_steps", "-1"], {"training.max_steps": "-1"}),  # a negative number is a value
    (["--data.root="], {"data.root": ""}),
    (["--a.b", "1", "--a.b", "2"], {"a.b": "2"}),  # the last one wins
    (["--training.head_lr", "1.0e-5", "--name", "x"], None),  # --name has no dot: not an override
]


@pytest.mark.parametrize("args, expected", PARSE, ids=[" ".join(p[0]) or "empty" for p in PARSE])
def test_parse_overrides(args, expected):
    if expected is None:
        with pytest.raises(ConfigError, match="unexpected argument '--name'"):
            parse_overrides(args)
    else:
        assert parse_overrides(args) == expected


PARSE_BAD = [
    (["training.batch_size", "8"], r"unexpected argument 'training\.batch_size'"),
    (["-training.batch_size", "8"], r"unexpected argument"),
    (["--training.batch_size"], r"--training\.batch_size needs a value"),
    (["--training.batch_size", "--model.dropout", "0.2"], r"--training\.batch_size needs a value"),
    (["--verbose"], r"unexpected argument '--verbose'"),
    (["--training.batch_size", "8", "stray"], r"unexpected argument 'stray'"),
]


@pytest.mark.parametrize("args, message", PARSE_BAD, ids=[" ".join(p[0]) for p in PARSE_BAD])
def test_parse_overrides_errors(args, message):
    with pytest.raises(ConfigError, match=message):
        parse_overrides(args)


def test_cli_reports_config_errors_without_a_traceback(capsys, tmp_path, monkeypatch):
    from diplomat_ie.cli import main

    monkeypatch.chdir(tmp_path)
    rc = main(["train", "--config", "default", "--training.batch_size", "many"])
    assert rc == 2
    err = capsys.readouterr().err
    assert "training.batch_size: expected int, got 'many'" in err and "Traceback" not in err
    assert not (tmp_path / "runs").exists()


def _ablate_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("ablate", Path(__file__).parents[1] / "scripts" / "ablate.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _ablate_candidates() -> dict[str, list[str]]:
    return _ablate_module().CANDIDATES


@pytest.mark.parametrize("argv, candidates, extra", [
    (["scalar-mix"], ["scalar-mix"], []),
    (["--epochs", "2", "scalar-mix", "baseline", "--", "--model.ner_decoding", "argmax"],
     ["scalar-mix", "baseline"], ["--model.ner_decoding", "argmax"]),
    (["baseline", "--"], ["baseline"], []),
])
def test_ablate_takes_the_overrides_after_the_double_dash(argv, candidates, extra):
    a = _ablate_module().parse_args(argv)
    assert a.candidates == candidates and a.extra == extra
    cmd = _ablate_module().command(a, "baseline", 1)
    assert cmd[len(cmd) - len(extra):] == extra and "--" not in cmd


@pytest.mark.parametrize("history, epoch", [
    ([], None),
    ([{"epoch": 1.0, "eval_nested_f1": 70.0}, {"epoch": 2.0, "eval_nested_f1": 72.0}], 2.0),
    ([{"epoch": 1.0, "eval_nested_f1": 70.0}, {"epoch": 2.0, "eval_nested_f1": 77.3},
      {"epoch": 3.0, "eval_nested_f1": 76.7}, {"epoch": 4.0, "eval_nested_f1": 76.6}], 2.0),  # early stopping
    ([{"epoch": 1.0, "eval_nested_f1": 75.0}, {"epoch": 2.0, "eval_nested_f1": 75.0}], 1.0),  # a tie keeps the first
])
def test_ablate_rows_report_the_kept_epoch_not_the_last(history, epoch):
    assert _ablate_module().best_dev(history).get("epoch") == epoch


@pytest.mark.parametrize("name, args", list(_ablate_candidates().items()))
def test_every_ablation_candidate_is_a_valid_run_config(name, args):
    assert len(args) % 2 == 0, f"{name}: overrides come as --key value pairs"
    overrides = {k.removeprefix("--"): v for k, v in zip(args[::2], args[1::2], strict=True)}
    cfg = load_config("default", overrides)
    for key, value in overrides.items():
        section, field_name = key.split(".")
        assert cfg.is_given(key) and getattr(getattr(cfg, section), field_name) is not None, (name, key, value)


@pytest.mark.parametrize("bias", [float("nan"), float("inf"), -float("inf")])
def test_role_none_bias_must_be_finite(bias):
    from diplomat_ie.config import RolesConfig

    with pytest.raises(ConfigError, match="roles.none_bias: must be a finite number"):
        RolesConfig(none_bias=bias)
