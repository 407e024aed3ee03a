"""scripts/benchmark_train.py --allocator: which library each configuration's process preloads."""

from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "benchmark_train.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("benchmark_train", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _ldconfig(stdout: str):
    return lambda *a, **k: subprocess.CompletedProcess(a, 0, stdout=stdout, stderr="")


def test_system_preloads_nothing(bench):
    assert bench.allocator_env("system") == {}


def test_the_listed_library_is_preloaded(bench, monkeypatch):
    listing = ("\tlibtcmalloc_minimal.so.4 (libc6,x86-64) => /lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4\n"
               "\tlibjemalloc.so.2 (libc6,x86-64) => /usr/lib/libjemalloc.so.2\n")
    monkeypatch.setattr(bench.subprocess, "run", _ldconfig(listing))
    assert bench.allocator_env("tcmalloc") == {"LD_PRELOAD": "/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4"}
    assert bench.allocator_env("jemalloc") == {"LD_PRELOAD": "/usr/lib/libjemalloc.so.2"}


def test_a_missing_library_is_an_error_naming_it(bench, monkeypatch):
    monkeypatch.setattr(bench.subprocess, "run", _ldconfig("\tlibc.so.6 (libc6,x86-64) => /lib/libc.so.6\n"))
    with pytest.raises(SystemExit, match="libjemalloc.so.2"):
        bench.allocator_env("jemalloc")


def test_the_option_is_parsed(bench):
    assert bench.parse_args(["--allocator", "tcmalloc"]).allocator == "tcmalloc"
    assert bench.parse_args([]).allocator == "system"


def test_machine_record_says_what_bf16_auto_resolves_to(bench, monkeypatch):
    import diplomat_ie.training.train as train_mod

    monkeypatch.setattr(train_mod, "cpu_vendor", lambda cpuinfo="": "AuthenticAMD")
    machine = bench._machine()
    assert machine["vendor"] == "AuthenticAMD" and machine["bf16_auto"] == train_mod.bf16_supported()
    meta = {"steps": 3, "batch_size": 16, "windows": 10, "machine": machine}
    assert f"CPUs (AuthenticAMD), AVX512-BF16 {machine['avx512_bf16']}" in bench.markdown([], meta)
    old = dict(meta, machine={k: v for k, v in machine.items() if k not in ("vendor", "bf16_auto")})
    assert "CPUs (?)" in bench.markdown([], old)  # a record from before the vendor was written
