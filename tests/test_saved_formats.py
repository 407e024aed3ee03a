"""Saved model directories of every format version load and predict identically.

``tests/fixtures/v1_models`` was written by the format-1 code (``tests/fixtures/make_v1_models.py``):
a plain and a role-marker tiny model with their logits and Extractor output at the time.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from diplomat_ie.inference import Extractor
from diplomat_ie.modeling.configuration import FORMAT_VERSION
from diplomat_ie.modeling.io import ModelLoadError, load_heads, load_model_dir, save_model_dir

V1_FILES = Path(__file__).parent / "fixtures" / "v1_models"
NAMES = ["plain", "marker"]
# The reference logits were computed on another CPU: AVX2 and AVX512 kernels sum in other orders, which
# moves fp32 logits by a few 1e-6 (4.8e-6 seen on an AVX512/AMX Xeon); a wrong or missing weight moves
# them by orders of magnitude more.
LOGIT_TOL = 1e-4


def _same_result(got, ref, path: str = "") -> None:
    """Extractor output equal to the reference: exact but for scores (4 decimals), which the other CPU's
    rounding may move by one unit in the last place."""
    if isinstance(ref, dict):
        assert isinstance(got, dict) and got.keys() == ref.keys(), path
        for k in ref:
            if k == "score":
                assert abs(got[k] - ref[k]) <= 2e-4, f"{path}.score: {got[k]} vs {ref[k]}"
            else:
                _same_result(got[k], ref[k], f"{path}.{k}")
    elif isinstance(ref, list):
        assert isinstance(got, list) and len(got) == len(ref), path
        for i, (g, r) in enumerate(zip(got, ref, strict=True)):
            _same_result(g, r, f"{path}[{i}]")
    else:
        assert got == ref, f"{path}: {got!r} vs {ref!r}"


def _reference(name: str) -> tuple[dict[str, torch.Tensor], dict]:
    ref = load_file(str(V1_FILES / f"{name}_reference.safetensors"))
    return ref, json.loads((V1_FILES / f"{name}_reference.json").read_text(encoding="utf-8"))


def _logits(model, ref: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    inputs = {k: ref[k] for k in ("input_ids", "attention_mask", "word_pos", "trig_spans", "trig_sub")}
    with torch.inference_mode():
        return model(**inputs)


def _max_diff(model, ref: dict[str, torch.Tensor], label: str) -> float:
    out = _logits(model, ref)
    diff = max(float((out[k] - ref[k]).abs().max()) for k in ("ner_logits", "role_logits"))
    print(f"{label}: max |logit diff| = {diff:.3g}")
    return diff


@pytest.mark.parametrize("name", NAMES)
def test_v1_directory_loads_and_predicts_identically(name, v1):
    assert json.loads((v1 / name / "config.json").read_text())["format_version"] == 1
    model, tok = load_model_dir(v1 / name)
    assert model.config.format_version == FORMAT_VERSION  # upgraded: saved again, it is a current directory
    ref, result = _reference(name)
    assert _max_diff(model, ref, f"v1 {name}") < LOGIT_TOL
    assert result["entities"] and result["events"]  # the comparison below is not vacuous
    _same_result(Extractor(model, tok)(result["text"]).to_dict(), result)
    if name == "marker":
        assert model.config.role_marker_layer == 1 and model.role_marker is not None
        assert model.role_marker.abs().sum() > 0


@pytest.mark.parametrize("name", NAMES)
def test_resaved_v1_directory_is_current_and_identical(name, tmp_path, v1):
    model, tok = load_model_dir(v1 / name)
    out = save_model_dir(model, tok, tmp_path / "model")
    assert json.loads((out / "config.json").read_text())["format_version"] == FORMAT_VERSION
    keys = set(load_file(str(out / "model.safetensors")))
    assert keys == set(model.state_dict())
    assert all(k.startswith(("encoder.", "heads.")) for k in keys)
    # marker mode: the top layers are the encoder's own, saved once (no heads.top.* copy)
    assert not any(k.startswith("heads.top") for k in keys)
    assert len(keys) == len({k for k in keys if k.startswith("encoder.")}) + len(model.heads.state_dict())
    again, _ = load_model_dir(out)
    ref, result = _reference(name)
    assert _max_diff(again, ref, f"v{FORMAT_VERSION} {name} (re-saved)") < LOGIT_TOL
    _same_result(Extractor(again, tok)(result["text"]).to_dict(), result)


@pytest.mark.parametrize("name", NAMES)
def test_heads_alone_compute_what_the_model_computes(name, tmp_path, v1):
    """``load_heads`` (the ONNX backend's torch side), from a v1 and a current directory."""
    model, tok = load_model_dir(v1 / name)
    current = save_model_dir(model, tok, tmp_path / "model")
    ref, _ = _reference(name)
    args = (ref["input_ids"], ref["attention_mask"], ref["word_pos"])
    with torch.inference_mode():
        words, hidden_l = model.window_states(*args)
        expected = model.role_logits(words, ref["trig_spans"], hidden_l, ref["attention_mask"], ref["word_pos"],
                                     ref["trig_sub"])
        for path in (v1 / name, current):
            heads = load_heads(path)
            assert not hasattr(heads, "encoder")
            if name == "marker":
                assert heads.top is not None and len(heads.top) == 1  # layer 1 of 2, owned by the heads
            got = heads.role_logits(words, ref["trig_spans"], hidden_l, ref["attention_mask"], ref["word_pos"],
                                    ref["trig_sub"])
            assert float((got - expected).abs().max()) == 0.0
            assert torch.equal(heads.ner_logits(words), model.heads.ner_logits(words))


def _copy_with(v1: Path, tmp_path: Path, name: str, mutate) -> Path:
    out = tmp_path / name
    shutil.copytree(v1 / name, out)
    mutate(out)
    return out


def _drop(key: str):
    def mutate(d: Path) -> None:
        state = load_file(str(d / "model.safetensors"))
        del state[key]
        save_file(state, str(d / "model.safetensors"), metadata={"format": "pt"})
    return mutate


def _add_entity_type(d: Path) -> None:
    cfg = json.loads((d / "config.json").read_text())
    cfg["entity_types"].append("NEW")
    (d / "config.json").write_text(json.dumps(cfg))


@pytest.mark.parametrize(("mutate", "match"), [
    (_drop("ner_head.bias"), r"does not match config\.json.*missing keys: heads\.ner_head\.bias"),
    (_drop("role_marker"), r"does not match config\.json.*missing keys: heads\.role_marker"),
    (_add_entity_type, r"does not match config\.json.*heads\.ner_head\.(bias|weight) \[18\S*\] in the file"),
])
def test_defective_v1_directory_is_a_clear_error(tmp_path, mutate, match, v1):
    path = _copy_with(v1, tmp_path, "marker", mutate)
    for load in (load_model_dir, load_heads):
        with pytest.raises(ModelLoadError, match=match):
            load(path)
