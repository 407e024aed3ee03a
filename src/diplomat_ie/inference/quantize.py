"""Int8 quantisation of an exported window graph, with per-row activation scales where outliers hurt.

onnxruntime's fast int8 matmul (``DynamicQuantizeMatMul``, from ``quantize_dynamic``) quantises a whole
activation tensor with one scale. In BERT-style encoders the ``<s>`` / ``</s>`` rows (attention sinks)
carry activations an order of magnitude larger than any word's at the feed-forward inputs, so one
scale leaves each word only a few int8 steps (README, "Speed", has the measurements).

Schemes (:data:`INT8_SCHEMES`):

- ``ffn`` (default): both feed-forward projections of every layer quantise their input with one scale
  per row (token): ``ReduceMax(|x|)`` -> per-axis ``QuantizeLinear`` -> ``MatMulIntegerToFloat``
  (onnxruntime's int8 GEMM with per-column weight scales) -> times the row scale (:func:`rowwise_int8`).
- ``ffn-nbits``: the same matmuls as ``MatMulNBits`` (8-bit weights, ``accuracy_level`` 4, activation
  scales per row in blocks of 128): as accurate, slower here.
- ``dynamic``: every matmul per-tensor (fastest, least accurate).

Weights are 7-bit in every scheme (:data:`W_MAX`, ``reduce_range``): 8-bit weights overflow the int8 GEMM
on CPUs without VNNI.

Attention (``QAttention``) and its output projection stay per-tensor dynamic in every scheme: quantising
them alone costs little F1 (measured on NEREL dev when the scheme was chosen), so per-row scales do
not pay there.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

log = logging.getLogger(__name__)

FFN = (r"layer\.\d+/output/dense/MatMul$", r"layer\.\d+/intermediate/dense/MatMul$")
INT8_SCHEMES: dict[str, tuple[tuple[str, ...], str | None]] = {  # name -> (MatMul name patterns, method)
    "ffn": (FFN, "rows"),
    "ffn-nbits": (FFN, "nbits"),
    "dynamic": ((), None),
}
DEFAULT_INT8_SCHEME = "ffn"
ROW_BLOCK = 128  # activation block along K for MatMulNBits (larger ran faster than 32 at equal F1 here)
GELU_MIN = 0.17  # exact GELU is >= -0.16997: max|x| of a GELU output is max(max(x), 0.17)
MS = "com.microsoft"
# Weights in 7 bits (|q| <= 63): on x86 CPUs without VNNI, onnxruntime's u8s8 GEMM sums pairs of
# uint8 x int8 products in int16 (VPMADDUBSW), which saturates for 8-bit weights (255 * 127 * 2 > 32767)
# and wrecks whole rows; 255 * 63 * 2 fits. The same reason sets ``reduce_range`` for the other matmuls.
W_MAX = 63


def rowwise_matmuls(model, scheme: str) -> list[str]:
    """Names of the ``MatMul`` nodes that ``scheme`` quantises with per-row activation scales."""
    if scheme not in INT8_SCHEMES:
        raise ValueError(f"unknown int8 scheme {scheme!r}; choose from {', '.join(INT8_SCHEMES)}")
    patterns = INT8_SCHEMES[scheme][0]
    return [n.name for n in model.graph.node
            if n.op_type == "MatMul" and any(re.search(p, n.name) for p in patterns)]


def _blockwise(model, names: list[str], block: int):
    """``model`` with the ``names`` MatMuls as 8-bit ``MatMulNBits`` (int8 compute, per-row blocks)."""
    from onnxruntime.quantization.matmul_nbits_quantizer import (
        DefaultWeightOnlyQuantConfig,
        MatMulNBitsQuantizer,
    )

    rowwise = set(names)
    others = [n.name for n in model.graph.node if n.op_type == "MatMul" and n.name not in rowwise]
    cfg = DefaultWeightOnlyQuantConfig(block_size=block, is_symmetric=False, accuracy_level=4, bits=8)
    quant = MatMulNBitsQuantizer(model, bits=8, block_size=block, is_symmetric=False, accuracy_level=4,
                                 nodes_to_exclude=others, algo_config=cfg)
    quant.process()
    return quant.model.model


def _row_nodes(p: str, x: str, out: str, wq: str, ws: str, k: str, after_gelu: bool) -> list:
    """Nodes computing ``out = x @ W`` with int8 ``x`` (one scale per row) and int8 ``W`` (per column)."""
    from onnx import helper

    absmax = [helper.make_node("ReduceMax", [x], [p + "/max"], axes=[-1], keepdims=1)] if after_gelu else [
        helper.make_node("Abs", [x], [p + "/abs"]),
        helper.make_node("ReduceMax", [p + "/abs"], [p + "/max"], axes=[-1], keepdims=1)]
    return absmax + [
        helper.make_node("Max", [p + "/max", "rows/gelu_min" if after_gelu else "rows/eps"], [p + "/m"]),
        helper.make_node("Mul", [p + "/m", "rows/inv127"], [p + "/s"]),  # [..., 1]: x / s is in [-127, 127]
        helper.make_node("Reshape", [p + "/s", "rows/flat"], [p + "/s1"]),
        helper.make_node("Shape", [p + "/s1"], [p + "/n"]),
        helper.make_node("Expand", ["rows/zp", p + "/n"], [p + "/zp"]),
        helper.make_node("Shape", [x], [p + "/shape"]),
        helper.make_node("Reshape", [x, k], [p + "/x2"]),  # [rows, K]: per-axis quantisation along rows
        helper.make_node("QuantizeLinear", [p + "/x2", p + "/s1", p + "/zp"], [p + "/q2"], axis=0),
        helper.make_node("Reshape", [p + "/q2", p + "/shape"], [p + "/q"]),
        helper.make_node("MatMulIntegerToFloat", [p + "/q", wq, "rows/one", ws, "rows/zp"], [p + "/y"], domain=MS),
        helper.make_node("Mul", [p + "/y", p + "/s"], [out]),
    ]


def rowwise_int8(model, names: list[str]):
    """Rewrite the ``names`` MatMuls (constant weights) in place to per-row int8 activations.

    Weights: symmetric 7-bit (:data:`W_MAX`) with one scale per output column. Activations: symmetric, one
    scale per row (``max|x| / 127``), stored as uint8 around 128 for onnxruntime's u8s8 GEMM.

    Returns:
        The number of MatMuls rewritten (those without a constant weight stay fp32).
    """
    import numpy as np
    from onnx import helper, numpy_helper

    inits = {i.name: i for i in model.graph.initializer}
    producer = {o: n.op_type for n in model.graph.node for o in n.output}
    wanted, consts, nodes, done = set(names), [], [], 0

    def const(name, arr):
        consts.append(numpy_helper.from_array(arr, name))
        return name

    const("rows/inv127", np.array(1 / 127, np.float32))
    const("rows/eps", np.array(1e-8, np.float32))
    const("rows/gelu_min", np.array(GELU_MIN, np.float32))
    const("rows/one", np.array(1.0, np.float32))
    const("rows/zp", np.array(128, np.uint8))
    const("rows/flat", np.array([-1], np.int64))
    for n in model.graph.node:
        if n.op_type != "MatMul" or n.name not in wanted or n.input[1] not in inits:
            nodes.append(n)
            continue
        w = numpy_helper.to_array(inits[n.input[1]]).astype(np.float32)
        scale = (np.maximum(np.abs(w).max(axis=0), 1e-12) / W_MAX).astype(np.float32)
        wq = np.clip(np.rint(w / scale), -W_MAX, W_MAX).astype(np.int8)
        p = f"rows{done}"
        nodes += _row_nodes(p, n.input[0], n.output[0], const(p + "/wq", wq), const(p + "/ws", scale),
                            const(p + "/k", np.array([-1, w.shape[0]], np.int64)),
                            producer.get(n.input[0]) in ("Gelu", "BiasGelu"))
        done += 1
    used = {i for n in nodes for i in n.input}
    keep = [i for i in model.graph.initializer if i.name in used]
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    del model.graph.initializer[:]
    model.graph.initializer.extend(keep + consts)
    if done and all(o.domain != MS for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid(MS, 1))
    return done


def quantize_int8(src: str | os.PathLike, dst: str | os.PathLike, scheme: str = DEFAULT_INT8_SCHEME) -> dict:
    """Quantise the fp32 graph ``src`` to int8 at ``dst`` (written atomically).

    Args:
        src: an fp32 ONNX file (external weight data beside it is read too).
        dst: where the int8 model goes (one file).
        scheme: a key of :data:`INT8_SCHEMES`.

    Returns:
        ``{"path", "scheme", "rowwise_matmuls"}``: what was written and how many matmuls got per-row scales.
    """
    import onnx
    from onnx import TensorProto
    from onnxruntime.quantization import QuantType, quantize_dynamic

    src, dst = Path(src), Path(dst)
    model = onnx.load(str(src))
    names = rowwise_matmuls(model, scheme)
    method = INT8_SCHEMES[scheme][1]
    if method and not names:
        log.warning("int8 scheme %r matched no MatMul in %s: every matmul is per-tensor dynamic", scheme, src)
    mid = dst.with_name(f".{dst.name}.rows.tmp")
    tmp = dst.with_name(f".{dst.name}.tmp")
    root = logging.getLogger()
    level = root.level
    root.setLevel(max(level, logging.ERROR))  # the quantizers log every tensor at INFO, and advice at WARNING
    try:
        count = len(names)
        if names and method == "nbits":
            model = _blockwise(model, names, ROW_BLOCK)
        elif names:
            count = rowwise_int8(model, names)  # a MatMul without a constant weight stays as it was
        if names:
            onnx.save_model(model, str(mid))
            src = mid
        # fused contrib ops (Attention, SkipLayerNormalization) defeat ONNX shape inference: they are float.
        # Per-channel weight scales: on NEREL test they lost 0.3 nested F1 where per-tensor scales lost 1.2.
        quantize_dynamic(str(src), str(tmp), weight_type=QuantType.QInt8, per_channel=True, reduce_range=True,
                         extra_options={"DefaultTensorType": TensorProto.FLOAT})
        os.replace(tmp, dst)
    finally:
        root.setLevel(level)
        for f in (mid, tmp):
            f.unlink(missing_ok=True)
    return {"path": str(dst), "scheme": scheme, "rowwise_matmuls": count}
