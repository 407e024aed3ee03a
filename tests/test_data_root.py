"""Where corpora are looked up: override, $DIPLOMAT_IE_DATA, ./data (once it holds a corpus), ../shared/datasets."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from diplomat_ie.data.corpora import load_split, split_dir
from diplomat_ie.utils import DATA_ROOT_ENV, DEFAULT_DATA_ROOT, data_root

REPO = Path(__file__).resolve().parents[1]

# (override, env, contents of ./data, expected root)
CASES = [
    (None, None, None, DEFAULT_DATA_ROOT),                 # nothing: the shared folder
    (None, None, [], DEFAULT_DATA_ROOT),                   # an empty data/
    (None, None, ["README.md"], DEFAULT_DATA_ROOT),        # the repository's data/ before a download
    (None, None, [".cache/"], DEFAULT_DATA_ROOT),          # hidden folders are no corpus
    (None, None, ["README.md", "nerel/"], "data"),         # data/ once it holds a corpus
    (None, None, ["factrueval-2016/"], "data"),
    (None, "env", ["nerel/"], "env"),                      # the environment wins over data/
    (None, "", ["nerel/"], "data"),                        # an empty variable counts as unset
    ("explicit", "env", ["nerel/"], "explicit"),           # an explicit root wins over everything
    ("", "env", None, "env"),                              # so does an empty override (--data.root=)
]


@pytest.mark.parametrize(("override", "env", "data", "expected"), CASES)
def test_lookup_order(tmp_path, monkeypatch, override, env, data, expected):
    monkeypatch.chdir(tmp_path)
    if env is None:
        monkeypatch.delenv(DATA_ROOT_ENV, raising=False)
    else:
        monkeypatch.setenv(DATA_ROOT_ENV, env)
    if data is not None:
        Path("data").mkdir()
        for name in data:
            if name.endswith("/"):
                Path("data", name).mkdir()
            else:
                Path("data", name).write_text("x", encoding="utf-8")
    assert data_root(override) == Path(expected)


def test_named_corpus_read_from_local_data(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(DATA_ROOT_ENV, raising=False)
    split = Path("data", "nerel", "dev")
    split.mkdir(parents=True)
    (split / "a.txt").write_text("Посол Франции.", encoding="utf-8")
    (split / "a.ann").write_text("T1\tPROFESSION 0 5\tПосол\n", encoding="utf-8")
    assert split_dir("nerel", "dev") == split
    (doc,) = load_split("nerel", "dev")
    assert doc.id == "a" and doc.entities[0].text == "Посол"


def test_repository_data_and_models_hold_only_their_readme():
    tracked = subprocess.run(["git", "ls-files", "data", "models"], cwd=REPO, capture_output=True, text=True,
                             check=True).stdout.split()
    assert tracked == ["data/README.md", "models/README.md"]
    ignored = subprocess.run(["git", "check-ignore", "data/nerel/train/x.txt", "models/default/model.safetensors",
                              "data/README.md"], cwd=REPO, capture_output=True, text=True).stdout.split()
    assert ignored == ["data/nerel/train/x.txt", "models/default/model.safetensors"]


def test_download_script_writes_to_data_by_default(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("download_data_root", REPO / "scripts" / "download_data.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["download_data_root"] = module  # dataclasses look their module up while it executes
    try:
        spec.loader.exec_module(module)
        monkeypatch.delenv(DATA_ROOT_ENV, raising=False)
        assert module.default_root() == Path("data")
        monkeypatch.setenv(DATA_ROOT_ENV, str(tmp_path))
        assert module.default_root() == tmp_path
    finally:
        del sys.modules["download_data_root"]
