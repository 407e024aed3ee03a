"""scripts/gpu_job.sh on the CPU (GPU_JOB_CPU=1) with a tiny bundle: tiny backbone, fixture corpus."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _bundle(tmp: Path, backbone: Path, brat: Path) -> Path:
    bundle = tmp / "bundle"
    shutil.copytree(backbone, bundle / "backbone")
    (bundle / "wheels").mkdir()  # the node lacks nothing here
    stage = tmp / "stage"
    shutil.copytree(brat, stage / "datasets" / "nerel")
    (stage / "seeds").mkdir()
    (stage / "seeds" / "a.txt").write_text("Лавров встретился с Блинкеном в Москве.", encoding="utf-8")
    with tarfile.open(bundle / "datasets.tgz", "w:gz") as tar:
        tar.add(stage / "datasets", "datasets")
        tar.add(stage / "seeds", "seeds")
    return bundle


def test_gpu_job_runs_on_cpu_with_a_tiny_bundle(tmp_path, tiny_backbone, brat_dir):
    bundle = _bundle(tmp_path, tiny_backbone, brat_dir)
    work, out = tmp_path / "work", tmp_path / "out"
    work.mkdir()
    env = dict(os.environ, GPU_JOB_CPU="1", GPU_JOB_BUNDLE=str(bundle), GPU_JOB_EPOCHS="1", OUT=str(out),
               PYTHON=sys.executable, GPU_JOB_REPORT_ARGS="--no-factrueval --max-docs 2 --no-card",
               TOKENIZERS_PARALLELISM="false")
    env.pop("TENSORBOARD_LOGGING_DIR", None)
    proc = subprocess.run(["bash", str(ROOT / "scripts/gpu_job.sh"), "run", "--model.max_length", "32",
                           "--model.overlap", "8", "--model.num_layers", "2", "--training.max_steps", "2",
                           "--training.batch_size", "2", "--training.threads", "1"],
                          cwd=work, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert "gpu job: trained in" in proc.stdout
    assert {p.name for p in out.iterdir()} == {"report.md", "metrics.json", "train_summary.json"}
    summary = json.loads((out / "train_summary.json").read_text(encoding="utf-8"))
    assert summary["config"]["model"]["backbone"] == str(bundle / "backbone")
    assert summary["config"]["training"]["bf16"] == "auto"
    assert (work / "models/gpu/model.safetensors").is_file()


def test_gpu_job_refuses_to_run_without_cuda_unless_asked(tmp_path):
    import pytest
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present: there is nothing to refuse")
    env = dict(os.environ, GPU_JOB_BUNDLE=str(tmp_path), PYTHON=sys.executable)
    env.pop("GPU_JOB_CPU", None)
    proc = subprocess.run(["bash", str(ROOT / "scripts/gpu_job.sh"), "run"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "no CUDA device" in proc.stderr
