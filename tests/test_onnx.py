"""ONNX export and backends: fp32 parity with PyTorch, int8 loads and predicts, CLI (tiny model)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import TINY_LAYERS

pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install 'diplomat-ie[onnx]')")
pytest.importorskip("onnx", reason="onnx is not installed (pip install 'diplomat-ie[onnx]')")

from test_batch_predict import ROOT, TEXTS, predict, read_rows, train_tiny_model  # noqa: E402

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
    assert json.loads((exported / "config.json").read_text())["scalar_mix"] == 4  # the default config's mix


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


def test_type_biases_apply_to_the_onnx_backends_too(exported, tmp_path):
    """model.type_biases shifts the logits after the window runner, so every backend decodes the same shift."""
    import shutil

    ref = Extractor.from_pretrained(exported)(TEXTS)
    top = max({e.type for r in ref for e in r.entities}, key=lambda t: sum(e.type == t for r in ref for e in r.entities))
    copy = tmp_path / "model"
    shutil.copytree(exported, copy)
    cfg = json.loads((copy / "config.json").read_text(encoding="utf-8"))
    cfg["type_biases"] = {top: -4.0}
    (copy / "config.json").write_text(json.dumps(cfg), encoding="utf-8")
    torch_out = Extractor.from_pretrained(copy)(TEXTS)
    assert sum(e.type == top for r in torch_out for e in r.entities) < sum(e.type == top for r in ref for e in r.entities)
    assert _entities(Extractor.from_pretrained(copy, backend="onnx")(TEXTS)) == _entities(torch_out)
    assert len(Extractor.from_pretrained(copy, backend="onnx-int8")(TEXTS)) == len(TEXTS)


@pytest.fixture(scope="module")
def exported_marker(tmp_path_factory, tiny_backbone) -> Path:
    return _train_and_export(tmp_path_factory.mktemp("onnx_marker"), tiny_backbone, **{"roles.marker_layer": "1",
                                                                                          "model.scalar_mix": "0"})


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


@pytest.fixture(scope="module")
def exported_pair(tmp_path_factory, tiny_backbone) -> Path:
    return _train_and_export(tmp_path_factory.mktemp("onnx_pair"), tiny_backbone, **{"roles.head": "pair"})


def test_pair_head_model_onnx_matches_pytorch(exported_pair):
    from diplomat_ie.modeling.pair_roles import PairRoleHead

    saved = json.loads((exported_pair / "config.json").read_text(encoding="utf-8"))
    # the default config's decoding settings act in both backends (Predictor decodes for both)
    assert saved["role_single_roles"] and saved["role_cross_sentence_bias"] > 0
    ref = Extractor.from_pretrained(exported_pair)(TEXTS)
    got = Extractor.from_pretrained(exported_pair, backend="onnx")(TEXTS)
    assert sum(len(ev.arguments) for r in ref for ev in r.events) > 0  # the forced agent bias gives some
    assert _entities(got) == _entities(ref) and _events(got) == _events(ref)
    for r, g in zip(ref, got, strict=True):
        for a, b in zip(r.events, g.events, strict=True):
            assert all(abs(x.score - y.score) < 1e-4 for x, y in zip(a.arguments, b.arguments, strict=True))
    ex = Extractor.from_pretrained(exported_pair, backend="onnx-int8")
    assert not hasattr(ex.model, "encoder") and isinstance(ex.model.role_head, PairRoleHead)
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
    assert heads.role_marker.abs().sum() > 0 and len(heads.top) == TINY_LAYERS - 1  # above layer 1: torch fallback


def test_marker_model_without_role_graph_falls_back_to_torch(exported_marker, tmp_path):
    import shutil

    copy = tmp_path / "m"
    shutil.copytree(exported_marker, copy)
    ref = _events(Extractor.from_pretrained(copy, backend="onnx")(TEXTS))
    (copy / "onnx/role.onnx").unlink()
    ex = Extractor.from_pretrained(copy, backend="onnx")
    assert ex.model.role_runner is None
    assert _events(ex(TEXTS)) == ref


def _op_counts(path: Path) -> dict[str, int]:
    import collections

    import onnx

    return collections.Counter(n.op_type for n in onnx.load(str(path), load_external_data=False).graph.node)


def test_default_int8_scheme_gives_the_ffn_matmuls_per_row_scales(exported):
    record = json.loads((exported / "onnx/export.json").read_text())
    layers = json.loads((exported / "config.json").read_text())["encoder"]["num_hidden_layers"]
    assert record["int8"] == {"scheme": "ffn", "rowwise_matmuls": 2 * layers}
    ops = _op_counts(exported / "onnx/model.int8.onnx")
    assert ops["MatMulIntegerToFloat"] == 2 * layers  # both feed-forward projections of every layer
    assert ops["QuantizeLinear"] == 2 * layers and "MatMulNBits" not in ops
    assert ops["QAttention"] == layers  # attention stays per-tensor dynamic int8


@pytest.mark.parametrize(("scheme", "op", "count"), [("dynamic", "MatMulIntegerToFloat", 0),
                                                     ("ffn-nbits", "MatMulNBits", 2)])
def test_other_int8_schemes_from_the_cli(exported, tmp_path, scheme, op, count):
    import shutil

    copy = tmp_path / "model"
    shutil.copytree(exported, copy)
    layers = json.loads((copy / "config.json").read_text())["encoder"]["num_hidden_layers"]
    assert main(["export", "onnx", "--model", str(copy), "--int8", "--int8-scheme", scheme]) == 0
    record = json.loads((copy / "onnx/export.json").read_text())["int8"]
    assert record == {"scheme": scheme, "rowwise_matmuls": count * layers}
    assert _op_counts(copy / "onnx/model.int8.onnx").get(op, 0) == count * layers
    assert sorted(p.name for p in (copy / "onnx").iterdir() if p.name.startswith(".")) == []  # no temp files left
    results = Extractor.from_pretrained(copy, backend="onnx-int8")(TEXTS)
    assert all(r.text[e.start : e.end] == e.text for r in results for e in r.entities)


def _run_rowwise(x, w, producer: str | None):
    """Run ``[producer ->] MatMul(x, w)`` after :func:`rowwise_int8`; returns (int8 output, fp32 output)."""
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    from diplomat_ie.inference.quantize import rowwise_int8

    nodes, inp = [], "x"
    if producer:
        nodes.append(helper.make_node(producer, ["x"], ["g"], domain="com.microsoft"))
        inp = "g"
    nodes.append(helper.make_node("MatMul", [inp, "w"], ["y"], name="/enc/layer.0/output/dense/MatMul"))
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, None, x.shape[-1]])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              initializer=[numpy_helper.from_array(w, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    ref = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    assert rowwise_int8(model, ["/enc/layer.0/output/dense/MatMul"]) == 1
    assert "MatMul" not in [n.op_type for n in model.graph.node] and "w" not in [i.name for i in model.graph.initializer]
    got = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    return got, ref


@pytest.mark.parametrize("producer", [None, "Gelu"])  # after a GELU only max(x) is taken: it is >= -0.17
def test_rowwise_int8_keeps_every_row_precise_next_to_an_outlier_row(producer):
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 7, 64)).astype(np.float32)
    x[0, 0] *= 100.0  # an attention-sink row, 100x larger than the words
    x[1, 3] = 0.0  # an all-zero row must not divide by zero
    w = rng.normal(size=(64, 48)).astype(np.float32)
    got, ref = _run_rowwise(x, w, producer)
    assert got.shape == ref.shape == (2, 7, 48)
    err = np.abs(got - ref).max(axis=-1) / (np.abs(ref).max(axis=-1) + 1e-6)
    assert err.max() < 0.03, err  # per row: a per-tensor scale would leave the word rows ~1 int8 step
    assert np.all(got[1, 3] == 0.0)


FFN_NAMES = ["/encoder/encoder/layer.0/intermediate/dense/MatMul", "/encoder/encoder/layer.0/output/dense/MatMul",
             "/encoder/encoder/layer.11/output/dense/MatMul"]


@pytest.mark.parametrize(("scheme", "expected"), [("dynamic", []), ("ffn", FFN_NAMES), ("ffn-nbits", FFN_NAMES)])
def test_rowwise_matmuls_by_scheme(scheme, expected):
    from onnx import helper

    from diplomat_ie.inference.quantize import rowwise_matmuls

    names = ["/encoder/encoder/layer.0/attention/output/dense/MatMul",  # attention output: never per-row
             "/encoder/encoder/layer.0/intermediate/dense/MatMul", "/encoder/encoder/layer.0/output/dense/MatMul",
             "/encoder/encoder/layer.11/output/dense/MatMul", "/ner_head/MatMul"]
    nodes = [helper.make_node("MatMul", ["x", f"w{i}"], [f"y{i}"], name=n) for i, n in enumerate(names)]
    nodes.append(helper.make_node("Add", ["x", "x"], ["z"], name="/encoder/encoder/layer.0/output/dense/Add"))
    graph = helper.make_graph(nodes, "g", [], [])
    assert rowwise_matmuls(helper.make_model(graph), scheme) == expected


def test_unknown_int8_scheme_is_a_clear_error():
    from onnx import helper

    from diplomat_ie.inference.quantize import rowwise_matmuls

    with pytest.raises(ValueError, match="unknown int8 scheme 'int4'.*ffn, ffn-nbits, dynamic"):
        rowwise_matmuls(helper.make_model(helper.make_graph([], "g", [], [])), "int4")


def test_cli_int8_scheme_choices_match_the_quantiser():
    from diplomat_ie.cli import INT8_SCHEME_CHOICES
    from diplomat_ie.inference.quantize import DEFAULT_INT8_SCHEME, INT8_SCHEMES

    assert INT8_SCHEME_CHOICES == list(INT8_SCHEMES) and INT8_SCHEME_CHOICES[0] == DEFAULT_INT8_SCHEME


@pytest.fixture(scope="module")
def exported_span(tmp_path_factory, tiny_backbone) -> Path:
    """A span-head model, biased towards EVENT spans (a few steps teach nothing) so that triggers and
    role arguments reach both runtimes, then exported (fp32 + int8)."""
    from test_span_head import force_events

    tmp = tmp_path_factory.mktemp("onnx_span")
    cwd = os.getcwd()
    os.chdir(tmp)
    try:
        trained = train_tiny_model(tmp, tiny_backbone, **{"model.ner_head": "span", "model.max_span_width": "4",
                                                          "training.epochs": "1"})
    finally:
        os.chdir(cwd)
    model = force_events(trained, tmp / "forced")
    assert main(["export", "onnx", "--model", str(model), "--int8"]) == 0
    return model


def test_span_head_model_onnx_matches_pytorch(exported_span):
    import onnx

    graph = onnx.load(str(exported_span / "onnx/model.onnx"), load_external_data=False).graph
    assert [o.name for o in graph.output] == ["words", "ner_logits"]  # the span logits, flattened
    assert json.loads((exported_span / "onnx/export.json").read_text())["max_abs_diff_fp32"] < 1e-4
    ref = Extractor.from_pretrained(exported_span)(TEXTS)
    got = Extractor.from_pretrained(exported_span, backend="onnx")(TEXTS)
    assert sum(len(r.entities) for r in ref) > 0 and sum(len(r.events) for r in ref) > 0
    assert _entities(got) == _entities(ref) and _events(got) == _events(ref)
    for r, g in zip(ref, got, strict=True):
        assert all(abs(a.score - b.score) < 1e-4 for a, b in zip(r.entities, g.entities, strict=True))
    for r in Extractor.from_pretrained(exported_span, backend="onnx-int8")(TEXTS):
        assert all(r.text[e.start : e.end] == e.text for e in r.entities)
        assert all(r.text[a.start : a.end] == a.text for ev in r.events for a in ev.arguments)


@pytest.fixture(scope="module")
def exported_extra(tmp_path_factory, tiny_backbone) -> Path:
    """A model with an extra NER head (``data.extra_corpora``), nudged towards B-PERSON so it finds entities."""
    from safetensors.torch import load_file, save_file

    tmp = tmp_path_factory.mktemp("onnx_extra")
    extra = f"[{{corpus: {ROOT / 'tests/fixtures/brat/dev'}, head: own, types: [PERSON, CITY, COUNTRY]}}]"
    cwd = os.getcwd()
    os.chdir(tmp)
    try:
        model = train_tiny_model(tmp, tiny_backbone, **{"data.extra_corpora": extra})
    finally:
        os.chdir(cwd)
    state = load_file(str(model / "model.safetensors"))
    state["heads.extra_ner.own.bias"][1] += 2.0  # B-PERSON of layer 0
    save_file(state, str(model / "model.safetensors"), metadata={"format": "pt"})
    assert main(["export", "onnx", "--model", str(model)]) == 0
    return model


def test_extra_head_onnx_matches_pytorch(exported_extra):
    ref = Extractor.from_pretrained(exported_extra, head="own")(TEXTS)
    got = Extractor.from_pretrained(exported_extra, backend="onnx", head="own")(TEXTS)
    assert sum(len(r.entities) for r in ref) > 0 and all(not r.events for r in ref)
    assert {e.type for r in ref for e in r.entities} <= {"PERSON", "CITY", "COUNTRY"}
    assert _entities(got) == _entities(ref) and _events(got) == _events(ref)
    for r, g in zip(ref, got, strict=True):
        for a, b in zip(r.entities, g.entities, strict=True):
            assert abs(a.score - b.score) < 1e-4
    # the main head is unchanged by the extra one, in both runtimes
    assert _entities(Extractor.from_pretrained(exported_extra, backend="onnx")(TEXTS)) == \
        _entities(Extractor.from_pretrained(exported_extra)(TEXTS))
    assert not hasattr(Extractor.from_pretrained(exported_extra, backend="onnx", head="own").model, "encoder")
