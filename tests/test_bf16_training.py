"""bf16 autocast training on the CPU: finite fp32 loss, fp32 weights, role head under autocast, resume."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from diplomat_ie.cli import main
from diplomat_ie.config import ConfigError, load_config
from diplomat_ie.modeling.model import RoleHead

ROOT = Path(__file__).resolve().parents[1]


def _args(backbone: Path, corpus: Path, out: Path, max_steps: int) -> list[str]:
    return ["train", "--config", "default", "--name", "bf16",
            "--data.corpus", str(corpus), "--data.dev_split", "train", "--model.backbone", str(backbone), "--model.word_vectors", "null",
            "--model.max_length", "32", "--model.overlap", "8", "--model.num_layers", "2",
            "--model.freeze_word_embeddings", "false", "--training.bf16", "true",
            "--training.output_dir", str(out), "--training.max_steps", str(max_steps),
            "--training.batch_size", "2", "--training.eval_every", "2", "--training.logging_steps", "1",
            "--training.warmup_ratio", "0", "--training.threads", "1", "--training.overwrite", "true"]


def test_bf16_setting_is_validated():
    assert load_config(None, {"training.bf16": "True"}).training.bf16 == "true"
    assert load_config(None).training.bf16 == "auto"
    with pytest.raises(ConfigError, match="training.bf16"):
        load_config(None, {"training.bf16": "maybe"})


@pytest.mark.parametrize("amx, avx512_bf16, vendor, expected", [
    (True, True, "GenuineIntel", True),      # AMX: bf16 matmuls are fast
    (False, True, "GenuineIntel", False),    # Intel AVX512-BF16 alone measured slower than fp32 (README)
    (False, True, "AuthenticAMD", True),     # AMD AVX512-BF16 measured faster than fp32 (README)
    (False, False, "AuthenticAMD", False),   # AVX2 only: bf16 measured far slower (README)
    (False, True, "", False),                # no /proc/cpuinfo: stay on fp32
])
def test_bf16_auto_on_cpu(monkeypatch, amx, avx512_bf16, vendor, expected):
    import importlib

    train_mod = importlib.import_module("diplomat_ie.training.train")

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16)
    monkeypatch.setattr(train_mod, "cpu_vendor", lambda: vendor)
    assert train_mod.use_bf16("auto") is expected
    assert train_mod.use_bf16("true") is True
    assert train_mod.use_bf16("false") is False


@pytest.mark.parametrize("text, vendor", [
    ("processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t: avx512_bf16\n", "AuthenticAMD"),
    ("vendor_id : GenuineIntel\nvendor_id : GenuineIntel\n", "GenuineIntel"),
    ("processor : 0\nmodel name : something else\n", ""),  # e.g. an ARM cpuinfo
    (None, ""),                                             # no such file (not Linux)
])
def test_cpu_vendor_reads_cpuinfo(tmp_path, text, vendor):
    from diplomat_ie.training.train import cpu_vendor

    path = tmp_path / "cpuinfo"
    if text is not None:
        path.write_text(text, encoding="utf-8")
    assert cpu_vendor(str(path)) == vendor


def test_role_head_under_cpu_autocast_matches_dtypes():
    torch.manual_seed(0)
    head = RoleHead(hidden=8, inner=4, n_labels=3, max_distance=8, dropout=0.0)
    words = torch.randn(2, 5, 8)
    spans = torch.tensor([[[0, 1], [0, 0]], [[2, 4], [1, 2]]])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = head(words, spans)  # fp32 words, bf16 linear outputs: used to fail in the index put
    assert out.shape == (2, 2, 5, 3)
    assert out.dtype == torch.bfloat16
    assert torch.all(out[0, 1] == 0)  # the padding trigger
    ref = head(words, spans)
    assert ref.dtype == torch.float32
    assert torch.allclose(out.float(), ref, atol=0.05)


def test_bf16_training_step_and_resume(tmp_path, tiny_backbone, brat_dir, monkeypatch):
    # bf16 autocast runs on any CPU (slowly where there is no AVX512-BF16/AMX): no skip needed
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "model"
    assert main(_args(tiny_backbone, brat_dir, out, max_steps=2)) == 0
    summary = json.loads((tmp_path / "runs/bf16/train_summary.json").read_text(encoding="utf-8"))
    losses = [h["loss"] for h in summary["log_history"] if "loss" in h]
    assert losses and all(math.isfinite(x) for x in losses)
    from safetensors import safe_open

    # the checkpoint holds the master weights (the saved model is float16: training.save_dtype)
    with safe_open(str(tmp_path / "runs/bf16/checkpoints/checkpoint-2/model.safetensors"), "pt") as fh:
        dtypes = {fh.get_slice(k).get_dtype() for k in fh.keys()}
    assert dtypes == {"F32"}  # autocast keeps fp32 master weights
    opt = torch.load(tmp_path / "runs/bf16/checkpoints/checkpoint-2/optimizer.pt", weights_only=True)
    assert all(v.dtype == torch.float32 for st in opt["state"].values() for v in st.values()
               if torch.is_tensor(v) and v.is_floating_point())

    assert main(_args(tiny_backbone, brat_dir, out, max_steps=4) + ["--resume"]) == 0
    resumed = json.loads((tmp_path / "runs/bf16/train_summary.json").read_text(encoding="utf-8"))
    assert resumed["resumed_from"].endswith("checkpoint-2")
    steps = [h["step"] for h in resumed["log_history"] if "loss" in h]
    assert max(steps) == 4
    assert all(math.isfinite(h["loss"]) for h in resumed["log_history"] if "loss" in h)
