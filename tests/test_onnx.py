"""ONNX export and backends: fp32 parity with PyTorch, int8 loads and predicts, CLI (tiny model)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install 'diplomat-ie[onnx]')")
pytest.importorskip("onnx", reason="onnx is not installed (pip install 'diplomat-ie[onnx]')")

from test_batch_predict import TEXTS, predict, read_rows, train_tiny_model  # noqa: E402

from diplomat_ie.cli import main  # noqa: E402
from diplomat_ie.inference import Extractor  # noqa: E402
from diplomat_ie.modeling.io import ModelLoadError  # noqa: E402


def _train_and_export(tmp: Path, backbone: Path, **overrides: str) -> Path:
    cwd = os.getcwd()
    os.chdir(tmp)
    try:
        model = train_tiny_model(tmp, backbone, **overrides)
    finally:
        os.chdir(cwd)
    assert main(["export", "onnx", "--model", str(model), "--int8"]) == 0
    return model


@pytest.fixture(scope="module")
def exported(tmp_path_factory, tiny_backbone) -> Path:
    return _train_and_export(tmp_path_factory.mktemp("onnx"), tiny_backbone)


def _entities(results):
    return [[(e.start, e.end, e.type) for e in r.entities] for r in results]


def _events(results):
    return [[(ev.trigger["start"], ev.trigger["end"], [(a.role, a.start, a.end) for a in ev.arguments])
             for ev in r.events] for r in results]


def test_export_writes_both_files_and_a_record(exported):
    record = json.loads((exported / "onnx/export.json").read_text())
    assert (exported / "onnx/model.onnx").is_file() and (exported / "onnx/model.int8.onnx").is_file()
    assert record["max_abs_diff_fp32"] < 1e-4
    assert set(record["files"]) == {"onnx", "onnx-int8"}


def test_onnx_fp32_matches_pytorch(exported):
    ref = Extractor.from_pretrained(exported)(TEXTS)
    got = Extractor.from_pretrained(exported, backend="onnx")(TEXTS)
    assert sum(len(r.entities) for r in ref) > 0 and sum(len(r.events) for r in ref) > 0
    assert _entities(got) == _entities(ref)
    assert _events(got) == _events(ref)
    for r, g in zip(ref, got, strict=True):
        for a, b in zip(r.entities, g.entities, strict=True):
            assert abs(a.score - b.score) < 1e-4


def test_onnx_backend_never_builds_the_torch_encoder(exported):
    ex = Extractor.from_pretrained(exported, backend="onnx", threads=1)
    assert not hasattr(ex.model, "encoder") and ex.backend == "onnx"


def test_int8_predicts_with_exact_offsets(exported):
    results = Extractor.from_pretrained(exported, backend="onnx-int8")(TEXTS)
    assert len(results) == len(TEXTS)
    for r in results:
        for e in r.entities:
            assert r.text[e.start : e.end] == e.text


def test_predict_cli_with_onnx_backend(exported, tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"id": i, "text": t}, ensure_ascii=False) + "\n"
                           for i, t in enumerate(TEXTS)), encoding="utf-8")
    for backend in ("torch", "onnx"):
        assert predict(exported, "--input", str(src), "--output", str(tmp_path / f"{backend}.jsonl"),
                       "--backend", backend, "--threads", "1") == 0
    strip = lambda rows: [{k: r[k] for k in ("id", "entities")} for r in rows]  # noqa: E731
    torch_rows, onnx_rows = read_rows(tmp_path / "torch.jsonl"), read_rows(tmp_path / "onnx.jsonl")
    assert [[(e["start"], e["end"], e["type"]) for e in r["entities"]] for r in strip(onnx_rows)] == \
        [[(e["start"], e["end"], e["type"]) for e in r["entities"]] for r in strip(torch_rows)]


def test_missing_export_is_a_clear_error(tmp_path, exported):
    import shutil

    copy = tmp_path / "model"
    shutil.copytree(exported, copy, ignore=shutil.ignore_patterns("onnx"))
    with pytest.raises(ModelLoadError, match="export onnx"):
        Extractor.from_pretrained(copy, backend="onnx-int8")


@pytest.fixture(scope="module")
def exported_marker(tmp_path_factory, tiny_backbone) -> Path:
    return _train_and_export(tmp_path_factory.mktemp("onnx_marker"), tiny_backbone, **{"roles.marker_layer": "1"})


def test_role_marker_model_onnx_matches_pytorch(exported_marker):
    import onnx

    outputs = [o.name for o in onnx.load(str(exported_marker / "onnx/model.onnx"), load_external_data=False).graph.output]
    assert outputs == ["words", "ner_logits", "hidden_l"]
    ref = Extractor.from_pretrained(exported_marker)(TEXTS)
    got = Extractor.from_pretrained(exported_marker, backend="onnx")(TEXTS)
    assert ref[0].to_dict()["events"] and sum(len(ev.arguments) for r in ref for ev in r.events) > 0
    assert _entities(got) == _entities(ref) and _events(got) == _events(ref)
    assert Extractor.from_pretrained(exported_marker, backend="onnx").model.role_runner is not None
    record = json.loads((exported_marker / "onnx/export.json").read_text())
    assert record["role_pass"]["max_abs_diff_fp32"] < 1e-4 and set(record["role_pass"]["files"]) == {"onnx", "onnx-int8"}
    ex = Extractor.from_pretrained(exported_marker, backend="onnx-int8")
    assert not hasattr(ex.model, "encoder") and ex.model.role_runner is not None
    for r in ex(TEXTS):
        for ev in r.events:
            assert all(r.text[a.start:a.end] == a.text for a in ev.arguments)


def test_old_export_of_a_marker_model_is_a_clear_error(exported_marker, tmp_path):
    from diplomat_ie.inference.onnx_backend import load_heads

    ex = Extractor.from_pretrained(exported_marker, backend="onnx")
    runner = ex.predictor.window_fn
    ex.predictor.window_fn = lambda *a: runner(*a)[:2]  # what an export without hidden_l returns
    with pytest.raises(RuntimeError, match="re-run `diplomat-ie export onnx`"):
        ex(TEXTS)
    heads = load_heads(exported_marker)
    assert heads.role_marker.abs().sum() > 0 and len(heads.top) == 1  # layer 1 of 2: the torch fallback


def test_marker_model_without_role_graph_falls_back_to_torch(exported_marker, tmp_path):
    import shutil

    copy = tmp_path / "m"
    shutil.copytree(exported_marker, copy)
    ref = _events(Extractor.from_pretrained(copy, backend="onnx")(TEXTS))
    (copy / "onnx/role.onnx").unlink()
    ex = Extractor.from_pretrained(copy, backend="onnx")
    assert ex.model.role_runner is None
    assert _events(ex(TEXTS)) == ref
