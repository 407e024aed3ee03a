"""scripts/allocator.sh: which malloc library the main job preloads for training."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "allocator.sh"


def _pick(env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "DIPLOMAT_IE_ALLOCATOR")}
    return subprocess.run(["bash", "-c", f'source "{SCRIPT}"; diplomat_allocator'], env={**clean, **env},
                          capture_output=True, text=True, check=False)


@pytest.mark.parametrize("env", [{"DIPLOMAT_IE_ALLOCATOR": "system"}, {"LD_PRELOAD": "/some/other.so"}])
def test_nothing_is_preloaded_when_asked_not_to(env):
    out = _pick(env)
    assert (out.returncode, out.stdout) == (0, "")


def test_a_bad_allocator_name_is_an_error_naming_it():
    out = _pick({"DIPLOMAT_IE_ALLOCATOR": "jemallocc"})
    assert out.returncode == 2
    assert "DIPLOMAT_IE_ALLOCATOR" in out.stderr and "jemallocc" in out.stderr


def test_default_preloads_an_existing_tcmalloc_or_nothing():
    out = _pick({})
    assert out.returncode == 0
    path = out.stdout.strip()
    listed = subprocess.run(["bash", "-c", "ldconfig -p 2>/dev/null || /sbin/ldconfig -p"], capture_output=True,
                            text=True, check=False).stdout
    if "libtcmalloc_minimal.so.4 " in listed:
        assert Path(path).is_file() and "libtcmalloc_minimal" in Path(path).name
    else:
        assert path == ""
