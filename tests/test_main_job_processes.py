"""scripts/main_job.sh with ``DIPLOMAT_IE_PROCESSES``: how it launches training, with stand-in executables.

``DIPLOMAT_IE_BIN`` points the job at a folder whose ``python`` runs the real interpreter except for
``-m torch.distributed.run`` and whose ``diplomat-ie`` only records its arguments, so no model is trained.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from diplomat_ie.training.launch import main as launch_main
from diplomat_ie.training.launch import per_process_batch

ROOT = Path(__file__).resolve().parents[1]

PYTHON_SHIM = f'''#!/usr/bin/env bash
if [ "$1" = "-m" ] && [ "$2" = "torch.distributed.run" ]; then echo "python $*" >> "$CALLS"; exit 0; fi
exec {sys.executable} "$@"
'''
BIN_SHIM = '''#!/usr/bin/env bash
echo "diplomat-ie $*" >> "$CALLS"
'''


@pytest.mark.parametrize(("batch", "processes", "per"), [(16, 1, 16), (16, 2, 8), (16, 4, 4), (6, 3, 2)])
def test_per_process_batch(batch, processes, per):
    assert per_process_batch(batch, processes) == per


@pytest.mark.parametrize(("batch", "processes", "words"), [(16, 3, "not divisible"), (16, 0, "positive")])
def test_per_process_batch_errors(batch, processes, words):
    with pytest.raises(ValueError, match=words):
        per_process_batch(batch, processes)


def test_launch_reads_the_config_with_its_overrides(capsys):
    assert launch_main(["per-process-batch", "--config", "default", "--processes", "2", "--",
                        "--training.batch_size", "12"]) == 0
    assert capsys.readouterr().out.strip() == "6"
    assert launch_main(["per-process-batch", "--config", "default", "--processes", "two"]) == 2
    assert "DIPLOMAT_IE_PROCESSES='two'" in capsys.readouterr().err


def _job(tmp_path: Path, processes: str | None, *args: str) -> tuple[subprocess.CompletedProcess, list[str]]:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for name, text in (("python", PYTHON_SHIM), ("diplomat-ie", BIN_SHIM)):
        (bindir / name).write_text(text, encoding="utf-8")
        (bindir / name).chmod((bindir / name).stat().st_mode | stat.S_IEXEC)
    data = tmp_path / "data"
    (data / "nerel" / "train").mkdir(parents=True)
    calls = tmp_path / "calls.txt"
    env = {k: v for k, v in os.environ.items() if k != "DIPLOMAT_IE_PROCESSES"}
    env.update(DIPLOMAT_IE_BIN=str(bindir / "diplomat-ie"), DIPLOMAT_IE_DATA=str(data), CALLS=str(calls),
               DIPLOMAT_IE_ALLOCATOR="system", PYTHONPATH=str(ROOT / "src"))
    if processes is not None:
        env["DIPLOMAT_IE_PROCESSES"] = processes
    out = subprocess.run(["bash", str(ROOT / "scripts" / "main_job.sh"), "default", "job", *args], cwd=tmp_path,
                         env=env, capture_output=True, text=True, check=False)
    lines = calls.read_text(encoding="utf-8").splitlines() if calls.exists() else []
    return out, lines


def test_one_process_by_default(tmp_path):
    out, calls = _job(tmp_path, None, "--model.freeze_layers", "4")
    assert out.returncode == 0, out.stderr
    assert calls == ["diplomat-ie train --config default --name job --model.freeze_layers 4",
                     "diplomat-ie report --model models/job --output reports/job --run-dir runs/job"]


def test_two_processes_split_the_batch(tmp_path):
    out, calls = _job(tmp_path, "2", "--training.batch_size", "32")
    assert out.returncode == 0, out.stderr
    assert calls[0] == ("python -m torch.distributed.run --standalone --nproc_per_node 2 -m diplomat_ie.cli train "
                        "--config default --name job --training.batch_size 32 --training.batch_size 16")
    assert calls[1].startswith("diplomat-ie report --model models/job")
    assert "training in 2 processes, 16 windows per process and step" in out.stdout


def test_a_bad_process_count_stops_before_training(tmp_path):
    out, calls = _job(tmp_path, "3")
    assert out.returncode == 2
    assert "not divisible by DIPLOMAT_IE_PROCESSES=3" in out.stderr
    assert calls == []
