"""Untrusted model directories: every defect is a clear ``ModelLoadError``; weights only from safetensors."""

from __future__ import annotations

import ast
import json
import pickle
import re
import shutil
from pathlib import Path

import pytest

from diplomat_ie.inference.extractor import Extractor
from diplomat_ie.modeling.configuration import FORMAT_VERSION, DiplomatConfig
from diplomat_ie.modeling.io import (
    ModelLoadError,
    build_model,
    check_model_dir,
    load_model_dir,
    save_model_dir,
)

SRC = Path(__file__).resolve().parents[1] / "src" / "diplomat_ie"


@pytest.fixture(scope="module")
def saved(tmp_path_factory, tiny_backbone) -> Path:
    import torch

    torch.manual_seed(0)
    model, tok = build_model(DiplomatConfig(backbone_name=str(tiny_backbone), entity_types=["PERSON", "COUNTRY", "EVENT"],
                                            roles=["agent", "place"], trigger_types=["EVENT"], num_layers=2,
                                            window_length=32, overlap=8))
    return save_model_dir(model, tok, tmp_path_factory.mktemp("saved") / "model")


@pytest.fixture()
def model_copy(saved, tmp_path) -> Path:
    out = tmp_path / "model"
    shutil.copytree(saved, out)
    return out


def _edit_config(key_path: tuple, value=None, delete: bool = False):
    def mutate(d: Path) -> None:
        cfg = json.loads((d / "config.json").read_text(encoding="utf-8"))
        node = cfg
        for k in key_path[:-1]:
            node = node[k]
        if delete:
            del node[key_path[-1]]
        elif callable(value):
            node[key_path[-1]] = value(node[key_path[-1]])
        else:
            node[key_path[-1]] = value
        (d / "config.json").write_text(json.dumps(cfg), encoding="utf-8")
    return mutate


def _truncate(name: str, keep: float | int):
    def mutate(d: Path) -> None:
        data = (d / name).read_bytes()
        n = keep if isinstance(keep, int) else int(len(data) * keep)
        (d / name).write_bytes(data[:n])
    return mutate


def _write(name: str, content: bytes):
    return lambda d: (d / name).write_bytes(content)


def _unlink(name: str):
    return lambda d: (d / name).unlink()


def _drop_tensor(name: str):
    def mutate(d: Path) -> None:
        from safetensors.torch import load_file, save_file

        state = load_file(str(d / "model.safetensors"))
        del state[name]
        save_file(state, str(d / "model.safetensors"), metadata={"format": "pt"})
    return mutate


CASES = {
    "missing config.json": (_unlink("config.json"), r"missing config\.json"),
    "missing model.safetensors": (_unlink("model.safetensors"), r"missing model\.safetensors"),
    "missing tokenizer.json": (_unlink("tokenizer.json"), r"missing tokenizer\.json"),
    "missing tokenizer_config.json": (_unlink("tokenizer_config.json"), r"CLS/BOS.*tokenizer_config\.json"),
    "safetensors truncated to half": (_truncate("model.safetensors", 0.5), r"cannot load weights.*Safetensor"),
    "safetensors truncated to 100 bytes": (_truncate("model.safetensors", 100), r"cannot load weights"),
    "safetensors empty": (_write("model.safetensors", b""), r"cannot load weights"),
    "safetensors garbage": (_write("model.safetensors", b"\x80\x04garbage" * 100), r"cannot load weights"),
    "safetensors lacks a tensor": (_drop_tensor("heads.ner_head.bias"), r"does not match config\.json.*missing keys: "
                                                                        r"heads\.ner_head\.bias"),
    "config.json not JSON": (_write("config.json", b"{not json"), r"config\.json: unreadable"),
    "config.json truncated": (_truncate("config.json", 0.5), r"config\.json: unreadable"),
    "config.json not UTF-8": (_write("config.json", b"\xff\xfe{\x00"), r"config\.json: unreadable"),
    "config.json a list": (_write("config.json", b"[1, 2]"), r"config\.json: expected a JSON object"),
    "config.json empty": (_write("config.json", b""), r"config\.json: unreadable"),
    "not a diplomat model": (_edit_config(("model_type",), "bert"), r"model_type 'bert' is not a diplomat-ie"),
    "entity type added": (_edit_config(("entity_types",), lambda v: v + ["NEW"]),
                          r"does not match config\.json.*heads\.ner_head\.weight \[14, 32\] in the file, \[18, 32\]"),
    "entity type removed": (_edit_config(("entity_types",), lambda v: v[:-1]),
                            r"does not match config\.json.*ner_head\.(bias|weight)"),
    "num_layers changed": (_edit_config(("num_layers",), 3), r"does not match config\.json.*ner_head"),
    "roles removed": (_edit_config(("roles",), []), r"does not match config\.json.*unexpected keys: heads\.role_head"),
    "role added": (_edit_config(("roles",), lambda v: v + ["time"]), r"does not match config\.json.*role_head\.out"),
    "encoder hidden size changed": (_edit_config(("encoder", "hidden_size"), 64), r"does not match config\.json"),
    "encoder model_type removed": (_edit_config(("encoder", "model_type"), delete=True), r"lacks 'model_type'"),
    "newer format_version": (_edit_config(("format_version",), FORMAT_VERSION + 1),
                             rf"format version {FORMAT_VERSION + 1} is newer .*upgrade diplomat-ie"),
    "format_version missing": (_edit_config(("format_version",), delete=True), r"format_version is missing"),
    "format_version a string": (_edit_config(("format_version",), "1"), r"format_version is missing or invalid"),
    "format_version a bool": (_edit_config(("format_version",), True), r"format_version is missing or invalid"),
    "tokenizer.json corrupt": (_write("tokenizer.json", b"{bad"), r"cannot load .*tokenizer|cannot load .*model"),
    "tokenizer.json empty object": (_write("tokenizer.json", b"{}"), r"cannot load .*model"),
}


def test_the_pristine_copy_loads(model_copy):
    model, tok = load_model_dir(model_copy)
    assert model.config.format_version == FORMAT_VERSION
    assert json.loads((model_copy / "config.json").read_text())["format_version"] == FORMAT_VERSION
    assert Extractor(model, tok)("Марко Рубио").text == "Марко Рубио"


@pytest.mark.parametrize("name", sorted(CASES))
def test_defective_model_directory_gives_a_clear_error(model_copy, name):
    mutate, message = CASES[name]
    mutate(model_copy)
    with pytest.raises(ModelLoadError, match=message) as info:
        load_model_dir(model_copy)
    assert str(model_copy) in str(info.value)  # says where
    with pytest.raises(ModelLoadError):
        Extractor.from_pretrained(model_copy)


def test_missing_directory(tmp_path):
    with pytest.raises(ModelLoadError, match="model directory not found"):
        load_model_dir(tmp_path / "nope")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ModelLoadError, match="model directory not found"):
        check_model_dir(tmp_path / "file")


class _Boom:
    """Unpickling this creates ``marker``: proof that a pickle was executed."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_pickle_weights_are_refused_and_never_unpickled(model_copy, tmp_path):
    marker = tmp_path / "unpickled"
    (model_copy / "pytorch_model.bin").write_bytes(pickle.dumps(_Boom(marker)))
    # next to valid safetensors: the pickle is ignored
    load_model_dir(model_copy)
    assert not marker.exists()
    # alone: refused
    (model_copy / "model.safetensors").unlink()
    with pytest.raises(ModelLoadError, match="only pickle weights.*safetensors only"):
        load_model_dir(model_copy)
    assert not marker.exists()


def _py_files():
    return sorted(SRC.rglob("*.py"))


def test_no_trust_remote_code_anywhere_in_src():
    hits = [f"{p.relative_to(SRC)}:{i}" for p in _py_files()
            for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if "trust_remote_code" in line]
    assert not hits, hits


def test_torch_load_only_with_weights_only_true_and_no_pickle_imports():
    bad = []
    for p in _py_files():
        src = p.read_text(encoding="utf-8")
        tree = ast.parse(src)
        calls = _torch_load_calls(tree)
        for node in ast.walk(tree):
            if node in calls and not _weights_only(node):
                bad.append(f"{p.relative_to(SRC)}:{node.lineno}: torch.load without weights_only=True")
            if isinstance(node, ast.ImportFrom) and node.module == "torch" and any(a.name == "load" for a in
                                                                                   node.names):
                bad.append(f"{p.relative_to(SRC)}:{node.lineno}: from torch import load")
            if isinstance(node, ast.Import | ast.ImportFrom):
                mods = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                bad += [f"{p.relative_to(SRC)}:{node.lineno}: imports {m}" for m in mods
                        if m.split(".")[0] in ("pickle", "dill", "joblib", "cloudpickle", "marshal")]
        # belt and braces for aliases (import torch as t; t.load(...)): plain text
        for i, line in enumerate(src.splitlines(), 1):
            if re.search(r"\btorch\.load\(", line) and "weights_only=True" not in line:
                bad.append(f"{p.relative_to(SRC)}:{i}: {line.strip()}")
    assert not bad, bad


def _torch_load_calls(tree) -> list[ast.Call]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
            and n.func.attr == "load" and getattr(n.func.value, "id", "") == "torch"]


def _weights_only(call: ast.Call) -> bool:
    kw = {k.arg: k.value for k in call.keywords}
    return isinstance(kw.get("weights_only"), ast.Constant) and kw["weights_only"].value is True


def test_transformers_trainer_resume_loads_checkpoint_files_with_weights_only():
    """HF Trainer's --resume reads optimizer/scheduler/scaler/RNG ``.pt``/``.pth`` files with torch.load: all
    with weights_only=True (checked in the installed transformers, so an upgrade that drops it fails here)."""
    import transformers.trainer as trainer_mod

    tree = ast.parse(Path(trainer_mod.__file__).read_text(encoding="utf-8"))
    calls = _torch_load_calls(tree)
    assert len(calls) >= 4  # optimizer, scheduler, RNG state, scaler
    assert [c.lineno for c in calls if not _weights_only(c)] == []
