"""The wheel works outside the checkout: configs, lexicon and keywords ship as package data.

Builds the wheel offline from a copy of the sources, installs it (no dependencies) into a fresh venv
that sees this interpreter's site-packages through a ``.pth`` line (so torch is not installed again),
then trains with ``--config quick`` and predicts with ``--trigger-lexicon default`` from a folder
outside the checkout.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

from diplomat_ie.resources import RESOURCES_DIR

ROOT = Path(__file__).resolve().parents[1]
TEXT = "Министр заявил о намерении посетить Казахстан. Визит пройдет весной."


def _run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: int = 120) -> str:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{cmd[:3]} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


def _build_wheel(tmp: Path) -> Path:
    """``pip wheel`` of a copy of the sources: the checkout gets no build/ or egg-info, and a stale
    build/ there cannot leak deleted files into the wheel."""
    src = tmp / "source"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    shutil.copytree(ROOT / "src", src / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    dist = tmp / "dist"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
          "-w", str(dist), str(src)], cwd=tmp)
    (wheel,) = dist.glob("diplomat_ie-*.whl")
    return wheel


def _fresh_venv(tmp: Path, wheel: Path) -> Path:
    venv = tmp / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=tmp)
    py = venv / "bin" / "python"
    # pip runs under the new interpreter and sees only its (empty) site-packages: nothing of this
    # environment is touched. The .pth comes after, so the wheel is installed alone.
    _run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "--no-index", "-q",
          str(wheel)], cwd=tmp)
    site = Path(_run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=tmp).strip())
    shared = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    (site / "_diplomat_shared_deps.pth").write_text("\n".join(shared) + "\n", encoding="utf-8")
    return venv


def test_wheel_ships_resources_and_runs_outside_checkout(tmp_path, tiny_backbone, brat_dir):
    wheel = _build_wheel(tmp_path)
    packaged = sorted(str(p.relative_to(RESOURCES_DIR.parent.parent)) for p in RESOURCES_DIR.rglob("*.yaml"))
    assert "diplomat_ie/resources/configs/quick.yaml" in packaged
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
    assert set(packaged) <= names, sorted(set(packaged) - names)
    assert "diplomat_ie/py.typed" in names

    venv = _fresh_venv(tmp_path, wheel)
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "DIPLOMAT_IE_DATA")}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    where = json.loads(_run([str(venv / "bin" / "python"), "-c",
                             "import json, sys, diplomat_ie; print(json.dumps([diplomat_ie.__file__, sys.path]))"],
                            cwd=work, env=env))
    assert Path(where[0]).is_relative_to(venv), where[0]  # the wheel's copy, not src/ (no editable .pth)
    assert str(ROOT / "src") not in where[1]

    cli = str(venv / "bin" / "diplomat-ie")
    _run([cli, "train", "--config", "quick", "--name", "wheel", "--data.corpus", str(brat_dir),
          "--model.backbone", str(tiny_backbone), "--model.max_length", "32", "--model.overlap", "8",
          "--training.max_steps", "2", "--training.batch_size", "2", "--training.threads", "1",
          "--training.output_dir", str(work / "model")], cwd=work, env=env)
    summary = json.loads((work / "runs" / "wheel" / "train_summary.json").read_text(encoding="utf-8"))
    assert summary["train_docs"] == 4
    assert summary["config"]["data"]["max_train_docs"] == 60  # from the packaged quick.yaml
    assert summary["config"]["training"]["encoder_lr"] == 8.0e-5
    assert (work / "model" / "model.safetensors").is_file()

    (work / "news.txt").write_text(TEXT, encoding="utf-8")
    _run([cli, "predict", "--model", str(work / "model"), "--input", "news.txt", "--output", "out.jsonl",
          "--trigger-lexicon", "default", "--no-progress", "--threads", "1"], cwd=work, env=env)
    (row,) = [json.loads(line) for line in (work / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    spans = [(ev["trigger"]["start"], ev["trigger"]["end"]) for ev in row["events"]]
    for word in ("посетить", "Визит"):  # the packaged lexicon's words, tagged by the model or the lexicon
        start = TEXT.index(word)
        assert any(a <= start < b for a, b in spans), (word, row["events"])
