"""ONNX Runtime backend: export the encoder + NER head, optionally quantise it, and run it.

Design: the ONNX graph maps a padded batch of windows ``(input_ids, attention_mask, word_pos)`` to
``(words [B, W, H], ner_logits [B, W, K * L])``, i.e. everything up to the NER logits. The role head
stays in torch and runs on the ONNX word vectors: it takes a variable number of triggers per
window that are only known after NER decoding, it is tiny next to the encoder, and keeping it in
torch means one code path (``modeling.predict.Predictor``) decodes both backends. Loading the ONNX
backend reads only the head weights into the same :class:`~diplomat_ie.modeling.heads.DiplomatHeads`
the torch model uses (:func:`~diplomat_ie.modeling.io.load_heads`), so the torch encoder is never
materialised (lower memory).

Files: ``DIR/onnx/model.onnx`` + ``model.onnx.data`` (fp32; the weights are stored as external data so
that onnxruntime memory-maps them), ``DIR/onnx/model.int8.onnx`` (int8 weights and activations, see
:mod:`.quantize`) and ``DIR/onnx/export.json`` (what was exported from
what, and the measured fp32 difference to torch).

Role-marker models (``role_marker_layer = L``) export a third output, ``hidden_l`` (the hidden states
entering encoder layer L) and the per-trigger pass goes to ``role.onnx``
(:meth:`~diplomat_ie.modeling.heads.DiplomatHeads.marked_words`; without that file the heads re-run their
own copy of encoder layers ``L..`` in torch).

Models with word features (``model.word_vectors`` / ``model.word_lexicon``) take a fourth input,
``word_feats`` ``[B, W, C]`` (the featurizer's rows, computed in Python as for torch); the feature module
(navec's quantised table included) is part of the exported graph, so ``words`` and ``ner_logits`` come out
exactly as the torch model's. The per-trigger ``role.onnx`` pass gives the word vectors before the
features, which the torch heads then concatenate.
"""

from __future__ import annotations

import json
import logging
import os
import time
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn
from transformers import PreTrainedTokenizerFast

from ..modeling.heads import DiplomatHeads
from ..modeling.io import ModelLoadError, check_model_dir, load_heads, load_model_dir, load_tokenizer
from ..modeling.model import DiplomatModel
from ..modeling.runners import WindowOutputs
from ..utils import atomic_write_text
from .quantize import DEFAULT_INT8_SCHEME, quantize_int8

__all__ = ["OnnxWindowRunner", "RoleRunner", "export_onnx", "load_heads", "load_onnx"]

log = logging.getLogger(__name__)

ONNX_DIR = "onnx"
FILES = {"onnx": "model.onnx", "onnx-int8": "model.int8.onnx"}
INPUTS = ("input_ids", "attention_mask", "word_pos")
FEATS_INPUT = "word_feats"  # models with word features only
OUTPUTS = ("words", "ner_logits")
MARKER_OUTPUT = "hidden_l"
ROLE_FILES = {"onnx": "role.onnx", "onnx-int8": "role.int8.onnx"}  # role-marker models only
ROLE_INPUTS = ("hidden_l", "attention_mask", "trig_sub", "word_pos")
FUSABLE = ("bert", "roberta", "xlm-roberta")  # encoders onnxruntime's "bert" optimizer knows


class WindowGraph(nn.Module):
    """What is exported: encoder + first-subword gather + NER head (dropout is off in eval mode)."""

    def __init__(self, model: DiplomatModel):
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, word_pos: torch.Tensor,
                word_feats: torch.Tensor | None = None) -> tuple[torch.Tensor, ...]:
        words, hidden_l = self.model.window_states(input_ids, attention_mask, word_pos, word_feats)
        if hidden_l is None:
            return words, self.model.heads.ner_logits(words)
        return words, self.model.heads.ner_logits(words), hidden_l


class MarkedGraph(nn.Module):
    """A role-marker model's per-trigger pass: encoder layers ``L..`` on marked hidden states -> words."""

    def __init__(self, model: DiplomatModel):
        super().__init__()
        self.model = model

    def forward(self, hidden_l: torch.Tensor, attention_mask: torch.Tensor, trig_sub: torch.Tensor,
                word_pos: torch.Tensor) -> torch.Tensor:
        return self.model.heads.marked_states(hidden_l, attention_mask, trig_sub, word_pos)


def _marked_example(hidden: int, seq: int = 24,
                    n_words: int = 10) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    h = torch.randn(2, seq, hidden, generator=gen)
    mask = torch.ones((2, seq), dtype=torch.long)
    mask[1, seq // 2 :] = 0
    sub = torch.tensor([[2, 4], [1, 2]])
    return h, mask, sub, torch.arange(1, n_words + 1).repeat(2, 1)


def _export_marked(model: DiplomatModel, out: Path, int8: bool, opset: int, scheme: str) -> dict[str, Any]:
    """Export the per-trigger pass to ``role.onnx`` (and ``role.int8.onnx``); returns its record."""
    graph = MarkedGraph(model).eval()
    dst = out / ROLE_FILES["onnx"]
    tmp = out / f".{dst.name}.tmp"
    example = _marked_example(model.config.encoder["hidden_size"])
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(graph, example, str(tmp), input_names=list(ROLE_INPUTS), output_names=["words"],
                          opset_version=opset, dynamo=False,
                          dynamic_axes={"hidden_l": {0: "n", 1: "seq"}, "attention_mask": {0: "n", 1: "seq"},
                                        "trig_sub": {0: "n"}, "word_pos": {0: "n", 1: "words"},
                                        "words": {0: "n", 1: "words"}})
    os.replace(tmp, dst)
    h, mask, sub, wp = _marked_example(model.config.encoder["hidden_size"], seq=31, n_words=13)
    with torch.inference_mode():
        ref = graph(h, mask, sub, wp)
    diff = float((RoleRunner(dst)(h, mask, sub, wp) - ref).abs().max())
    if diff > 1e-3:
        raise RuntimeError(f"{dst}: ONNX role pass differs from torch by {diff:.2g}")
    files = {"onnx": str(dst)}
    if int8:
        files["onnx-int8"] = quantize_int8(dst, out / ROLE_FILES["onnx-int8"], scheme)["path"]
    elif (out / ROLE_FILES["onnx-int8"]).exists():
        (out / ROLE_FILES["onnx-int8"]).unlink()
    return {"files": files, "max_abs_diff_fp32": diff}


def _example_inputs(vocab_size: int, seq: int = 24, n_words: int = 10,
                    model: DiplomatModel | None = None) -> tuple[torch.Tensor, ...]:
    """Two windows, the second padded: the traced graph must keep the attention-mask path.

    With a ``model`` that has word features, also their ``word_feats`` (known and OOV rows, random bits).
    """
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(5, max(6, vocab_size), (2, seq), generator=gen)
    mask = torch.ones_like(ids)
    mask[1, seq // 2 :] = 0
    word_pos = torch.arange(1, n_words + 1).repeat(2, 1)
    feats = model.heads.word_features if model is not None else None
    if feats is None:
        return ids, mask, word_pos
    cols = []
    if feats.proj is not None:
        cols.append(torch.randint(0, feats.codes.size(0) + 1, (2, n_words, 1), generator=gen))
    if feats.n_bits:
        cols.append(torch.randint(0, 2, (2, n_words, feats.n_bits), generator=gen))
    return ids, mask, word_pos, torch.cat(cols, -1)


def export_onnx(model_dir: str | os.PathLike, int8: bool = False, opset: int = 17, fuse: bool = True,
                int8_scheme: str = DEFAULT_INT8_SCHEME) -> dict[str, Any]:
    """Export ``model_dir`` to ``model_dir/onnx/model.onnx`` (and ``model.int8.onnx`` with ``int8``).

    Uses the TorchScript exporter (``dynamo=False``): it traces the HF encoder with dynamic batch,
    sequence and word axes reliably in torch 2.13 without onnxscript.

    Args:
        model_dir: a model directory written by ``diplomat-ie train``.
        int8: also write an int8-quantised copy.
        int8_scheme: which matmuls get per-row activation scales (:data:`~.quantize.INT8_SCHEMES`).
        opset: ONNX opset.
        fuse: for BERT-like encoders, trace the eager attention and fuse it with onnxruntime's
            transformer optimizer (one ``Attention`` op per layer, ``SkipLayerNormalization``, ``BiasGelu``).

    Returns:
        The ``export.json`` record: file paths, sizes, max |torch - onnx| on a check batch.
    """
    model_dir = Path(model_dir)
    model, _ = load_model_dir(model_dir)
    enc = model.config.encoder
    fuse = fuse and enc.get("model_type") in FUSABLE
    if fuse:
        model.encoder.set_attn_implementation("eager")  # the pattern the fusion recognises
    graph = WindowGraph(model).eval()
    marker = model.heads.marker_layer is not None
    outputs = [*OUTPUTS, MARKER_OUTPUT] if marker else list(OUTPUTS)
    inputs = [*INPUTS, FEATS_INPUT] if model.heads.word_features is not None else list(INPUTS)
    out = model_dir / ONNX_DIR
    out.mkdir(exist_ok=True)
    fp32 = out / FILES["onnx"]
    tmp = out / f".{fp32.name}.tmp"
    start = time.time()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer / legacy-exporter deprecation chatter
        torch.onnx.export(graph, _example_inputs(model.config.encoder.get("vocab_size", 100), model=model), str(tmp),
                          input_names=inputs, output_names=outputs, opset_version=opset,
                          dynamic_axes={"input_ids": {0: "batch", 1: "seq"},
                                        "attention_mask": {0: "batch", 1: "seq"},
                                        "word_pos": {0: "batch", 1: "words"},
                                        FEATS_INPUT: {0: "batch", 1: "words"},
                                        "words": {0: "batch", 1: "words"},
                                        "ner_logits": {0: "batch", 1: "words"},
                                        MARKER_OUTPUT: {0: "batch", 1: "seq"}},
                          dynamo=False)
    if fuse:
        _fuse(tmp, enc["num_attention_heads"], enc["hidden_size"])
    _externalise(tmp, fp32)
    record: dict[str, Any] = {"opset": opset, "fused": fuse, "torch": torch.__version__, "source": _source_stamp(model_dir),
              "export_seconds": round(time.time() - start, 1), "files": {"onnx": str(fp32)}}
    record["max_abs_diff_fp32"] = _check(graph, fp32, model.config.encoder.get("vocab_size", 100), model)
    if record["max_abs_diff_fp32"] > 1e-3:
        raise RuntimeError(f"{fp32}: ONNX output differs from torch by {record['max_abs_diff_fp32']:.2g}"
                           + ("; retry with --no-fuse" if fuse else ""))
    if marker:
        record["role_pass"] = _export_marked(model, out, int8, opset, int8_scheme)
    else:
        for name in ROLE_FILES.values():  # left from an earlier export of another model
            (out / name).unlink(missing_ok=True)
    if int8:
        q = quantize_int8(fp32, out / FILES["onnx-int8"], int8_scheme)
        record["files"]["onnx-int8"] = q["path"]
        record["int8"] = {"scheme": q["scheme"], "rowwise_matmuls": q["rowwise_matmuls"]}
    elif (out / FILES["onnx-int8"]).exists():
        (out / FILES["onnx-int8"]).unlink()  # it was quantised from the previous export
    record["sizes_mb"] = {k: round(sum(f.stat().st_size for f in (Path(p), Path(p + ".data")) if f.exists())
                                   / 2**20, 1) for k, p in record["files"].items()}
    atomic_write_text(out / "export.json", json.dumps(record, indent=2) + "\n")
    return record


def _fuse(path: Path, num_heads: int, hidden_size: int) -> None:
    from onnxruntime.transformers.optimizer import optimize_model

    opt = optimize_model(str(path), model_type="bert", num_heads=num_heads, hidden_size=hidden_size, opt_level=0)
    log.info("fused operators: %s", {k: v for k, v in opt.get_fused_operator_statistics().items() if v})
    opt.save_model_to_file(str(path))


def _externalise(tmp: Path, dst: Path) -> None:
    """Save ``tmp`` as ``dst`` + ``dst.data``: ORT memory-maps external weights instead of copying them.

    A single-file model is parsed and then copied into ORT's initializers (peak RSS ~2x the weights);
    with external data the session starts at a fraction of that and only touched pages count.
    """
    import onnx

    data = dst.with_name(dst.name + ".data")
    if data.exists():
        data.unlink()  # onnx appends to an existing data file
    model = onnx.load(str(tmp))
    onnx.save_model(model, str(tmp), save_as_external_data=True, all_tensors_to_one_file=True,
                    location=data.name, size_threshold=1024)
    data.chmod(0o644)
    os.replace(tmp, dst)


def _check(graph: nn.Module, path: Path, vocab_size: int, model: DiplomatModel | None = None) -> float:
    """Max |torch - onnx| over both outputs on a batch shaped unlike the export example."""
    example = [x.repeat(2, *([1] * (x.dim() - 1))) for x in _example_inputs(vocab_size, 37, 15, model)]
    example[1][2, 30:] = 0
    with torch.inference_mode():
        ref = graph(*example)
    got = OnnxWindowRunner(path).raw(*example)
    return max(float((a - b).abs().max()) for a, b in zip(ref, got, strict=True))


def _source_stamp(model_dir: Path) -> dict[str, int]:
    st = (model_dir / "model.safetensors").stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _cpu_session(path: str | os.PathLike, threads: int | None) -> Any:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])


class OnnxWindowRunner:
    """A :class:`~diplomat_ie.modeling.runners.WindowRunner` backed by an ORT session (``model.onnx``)."""

    pad_multiple = 1  # ORT does not pay torch's per-shape set-up cost: no padding

    def __init__(self, path: str | os.PathLike, threads: int | None = None):
        self.session = _cpu_session(path, threads)
        names = [o.name for o in self.session.get_outputs()]
        self.outputs = [*OUTPUTS, MARKER_OUTPUT] if MARKER_OUTPUT in names else list(OUTPUTS)
        self.takes_feats = FEATS_INPUT in [i.name for i in self.session.get_inputs()]

    def raw(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, word_pos: torch.Tensor,
            word_feats: torch.Tensor | None = None) -> list[torch.Tensor]:
        feeds = {"input_ids": input_ids.numpy(), "attention_mask": attention_mask.numpy(),
                 "word_pos": word_pos.numpy()}
        if self.takes_feats:
            if word_feats is None:
                raise ValueError("this ONNX export reads word features: pass word_feats")
            feeds[FEATS_INPUT] = word_feats.numpy()
        return [torch.from_numpy(x) for x in self.session.run(self.outputs, feeds)]

    def __call__(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, word_pos: torch.Tensor,
                 word_feats: torch.Tensor | None = None) -> WindowOutputs:
        out = self.raw(input_ids, attention_mask, word_pos, word_feats)
        if len(out) == 3:  # role-marker model: hidden states for the per-trigger pass
            return WindowOutputs(out[0], out[1], out[2], attention_mask)
        return WindowOutputs(out[0], out[1])


class RoleRunner:
    """A :class:`~diplomat_ie.modeling.heads.MarkedRunner` backed by an ORT session (``role.onnx``)."""

    def __init__(self, path: str | os.PathLike, threads: int | None = None):
        self.session = _cpu_session(path, threads)

    def __call__(self, hidden_l: torch.Tensor, attention_mask: torch.Tensor, trig_sub: torch.Tensor,
                 word_pos: torch.Tensor) -> torch.Tensor:
        feeds = {"hidden_l": hidden_l.float().numpy(), "attention_mask": attention_mask.numpy(),
                 "trig_sub": trig_sub.numpy(), "word_pos": word_pos.numpy()}
        return torch.from_numpy(self.session.run(["words"], feeds)[0])


def load_onnx(model_dir: str | os.PathLike, backend: str = "onnx",
              threads: int | None = None) -> tuple[DiplomatHeads, PreTrainedTokenizerFast, OnnxWindowRunner]:
    """Load the ONNX backend of a model directory.

    Args:
        model_dir: a model directory with ``onnx/`` written by ``diplomat-ie export onnx``.
        backend: ``"onnx"`` (fp32) or ``"onnx-int8"``.
        threads: onnxruntime intra-op threads (default: its own choice).

    Returns:
        ``(heads_model, tokenizer, window_fn)`` for :class:`~diplomat_ie.inference.Extractor`.
    """
    if backend not in FILES:
        raise ValueError(f"unknown backend {backend!r} (torch, {', '.join(FILES)})")
    model_dir = Path(model_dir)
    check_model_dir(model_dir)
    path = model_dir / ONNX_DIR / FILES[backend]
    if not path.is_file():
        flag = " --int8" if backend == "onnx-int8" else ""
        raise ModelLoadError(f"{path} not found; run `diplomat-ie export onnx --model {model_dir}{flag}`")
    meta = model_dir / ONNX_DIR / "export.json"
    if meta.is_file():
        source = json.loads(meta.read_text(encoding="utf-8")).get("source", {})
        if source and source.get("size") != _source_stamp(model_dir)["size"]:
            log.warning("%s: model.safetensors changed since the ONNX export; re-run the export", model_dir)
    heads = load_heads(model_dir)
    if heads.marker_layer is not None:
        role_path = model_dir / ONNX_DIR / ROLE_FILES[backend]
        if role_path.is_file():
            heads.role_runner = RoleRunner(role_path, threads=threads)
        else:
            log.warning("%s not found: the per-trigger role pass runs in torch (re-export to speed it up)",
                        role_path)
    runner = OnnxWindowRunner(path, threads=threads)
    if heads.word_features is not None and not runner.takes_feats:
        raise ModelLoadError(f"{path} was exported without the word features this model reads; re-run "
                             f"`diplomat-ie export onnx --model {model_dir}`")
    return heads, load_tokenizer(model_dir), runner
