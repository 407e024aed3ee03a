"""Packaged configs and word lists: found by name, a path still wins, one copy only."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from diplomat_ie.config import ConfigError, load_config
from diplomat_ie.data.document import CorpusError
from diplomat_ie.data.subset import load_keywords
from diplomat_ie.data.triggers import TriggerLexicon
from diplomat_ie.resources import (
    CONFIGS_DIR,
    RESOURCES_DIR,
    ResourceNotFoundError,
    resolve,
    resource_names,
    resource_path,
)

ROOT = Path(__file__).resolve().parents[1]


def test_packaged_names():
    assert {"default", "quick", "continue", "rubert-base-cased", "rubert-tiny2", "ruBert-base"} == set(
        resource_names("config"))
    assert resource_names("trigger_lexicon") == resource_names("keywords") == ["default"]
    with pytest.raises(ValueError, match="unknown resource kind"):
        resource_names("fonts")


@pytest.mark.parametrize(("value", "kind", "expected"), [
    ("quick", "config", CONFIGS_DIR / "quick.yaml"),
    ("quick.yaml", "config", CONFIGS_DIR / "quick.yaml"),
    ("default", "trigger_lexicon", RESOURCES_DIR / "trigger_lexicon.yaml"),
    ("default", "keywords", RESOURCES_DIR / "diplomatic_keywords.yaml"),
])
def test_resolve_by_name(value, kind, expected):
    assert resolve(value, kind) == expected and expected.is_file()


def test_an_existing_file_wins_over_a_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("quick").write_text("name: mine\n", encoding="utf-8")
    assert resolve("quick", "config") == Path("quick")
    assert load_config("quick").name == "mine"
    assert load_config(tmp_path / "quick").name == "mine"
    assert load_config("continue").name == "continued"  # the packaged one


@pytest.mark.parametrize("value", ["defualt", "configs/default.yaml", "trigger_lexicon"])
def test_unknown_config_names_the_packaged_ones(value):
    with pytest.raises(ConfigError, match=r"no such file.*packaged: continue, default, quick"):
        load_config(value)


def test_unknown_word_list_names_the_packaged_ones(tmp_path):
    with pytest.raises(CorpusError, match=r"'defualt'.*packaged: default"):
        TriggerLexicon.load("defualt")
    with pytest.raises(FileNotFoundError, match="packaged: default"):
        load_keywords(tmp_path / "absent.yaml")
    with pytest.raises(ResourceNotFoundError):
        resource_path("config", "nope")
    assert TriggerLexicon.load("default").matches("визит")


def test_one_source_of_truth():
    # configs/ in the checkout only points at the package; no second copy of any YAML
    assert sorted(p.name for p in (ROOT / "configs").iterdir()) == ["README.md"]
    readme = (ROOT / "configs" / "README.md").read_text(encoding="utf-8")
    for name in resource_names("config"):
        assert name in readme
    # every packaged file is declared as package data (the wheel test checks the wheel itself)
    globs = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"][
        "package-data"]["diplomat_ie"]
    pkg = RESOURCES_DIR.parent
    declared = {p for g in globs for p in pkg.glob(g)}
    assert {p for p in RESOURCES_DIR.rglob("*") if p.is_file() and p.suffix != ".py" and
            "__pycache__" not in p.parts} <= declared
