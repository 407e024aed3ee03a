"""Int8 quantisation of an exported window graph, with per-row activation scales where outliers hurt.

onnxruntime's fast int8 matmul (``DynamicQuantizeMatMul``, from ``quantize_dynamic``) quantises a whole
activation tensor with one scale. In BERT-style encoders the ``<s>`` / ``</s>`` rows (attention sinks)
carry activations 10-30x larger than any word's at the feed-forward inputs (multilingual-e5-small,
NEREL windows: FFN2 input max 64 in layer 4 against a median per-token max of 2.2), so one scale leaves
each word only a few int8 steps. ``MatMulNBits`` (8-bit weights, ``accuracy_level`` 4) quantises the
activations per row in blocks along the input dimension and still multiplies in int8: slower than
``DynamicQuantizeMatMul`` but not fooled by the sink rows.

Schemes (:data:`INT8_SCHEMES`): ``dynamic`` (every matmul per-tensor; fastest, least accurate), ``ffn2``
(per-row blocks for each layer's FFN output projection) and ``ffn`` (both FFN projections; the default).
Attention (``QAttention``) and its output projection stay per-tensor dynamic in every scheme: quantising
them alone moved NEREL dev F1 by -0.11 and -0.02.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

log = logging.getLogger(__name__)

INT8_SCHEMES: dict[str, tuple[str, ...]] = {
    "dynamic": (),
    "ffn2": (r"layer\.\d+/output/dense/MatMul$",),
    "ffn": (r"layer\.\d+/output/dense/MatMul$", r"layer\.\d+/intermediate/dense/MatMul$"),
}
DEFAULT_INT8_SCHEME = "ffn"
ROW_BLOCK = 128  # activation block along K for MatMulNBits (larger ran faster than 32 at equal F1 here)


def rowwise_matmuls(model, scheme: str) -> list[str]:
    """Names of the ``MatMul`` nodes that ``scheme`` quantises with per-row blocks."""
    if scheme not in INT8_SCHEMES:
        raise ValueError(f"unknown int8 scheme {scheme!r}; choose from {', '.join(INT8_SCHEMES)}")
    patterns = INT8_SCHEMES[scheme]
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


def quantize_int8(src: str | os.PathLike, dst: str | os.PathLike, scheme: str = DEFAULT_INT8_SCHEME) -> dict:
    """Quantise the fp32 graph ``src`` to int8 at ``dst`` (written atomically).

    Args:
        src: an fp32 ONNX file (external weight data beside it is read too).
        dst: where the int8 model goes (one file).
        scheme: a key of :data:`INT8_SCHEMES`.

    Returns:
        ``{"path", "scheme", "rowwise_matmuls"}``: what was written and how many matmuls got per-row blocks.
    """
    import onnx
    from onnx import TensorProto
    from onnxruntime.quantization import QuantType, quantize_dynamic

    src, dst = Path(src), Path(dst)
    model = onnx.load(str(src))
    names = rowwise_matmuls(model, scheme)
    if INT8_SCHEMES[scheme] and not names:
        log.warning("int8 scheme %r matched no MatMul in %s: every matmul is per-tensor dynamic", scheme, src)
    mid = dst.with_name(f".{dst.name}.rows.tmp")
    tmp = dst.with_name(f".{dst.name}.tmp")
    root = logging.getLogger()
    level = root.level
    root.setLevel(max(level, logging.WARNING))  # the quantizers log every tensor at INFO on the root logger
    try:
        if names:
            onnx.save_model(_blockwise(model, names, ROW_BLOCK), str(mid))
            src = mid
        # fused contrib ops (Attention, SkipLayerNormalization) defeat ONNX shape inference: they are float.
        # Per-channel weight scales: on NEREL test they lost 0.3 nested F1 where per-tensor scales lost 1.2.
        quantize_dynamic(str(src), str(tmp), weight_type=QuantType.QInt8, per_channel=True,
                         extra_options={"DefaultTensorType": TensorProto.FLOAT})
        os.replace(tmp, dst)
    finally:
        root.setLevel(level)
        for f in (mid, tmp):
            f.unlink(missing_ok=True)
    return {"path": str(dst), "scheme": scheme, "rowwise_matmuls": len(names)}
