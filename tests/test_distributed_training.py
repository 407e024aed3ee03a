"""``python -m torch.distributed.run --nproc_per_node 2`` training (gloo on CPU) on the tiny backbone.

The 2-process run and a 1-process reference run side by side, both through a small wrapper around
``diplomat_ie.cli.main`` that records, per rank, which training windows the rank fetched, which run files
it wrote and the dev metrics it saw. 4 documents -> 6 windows of <= 16 subwords; batch size 1, 2 epochs:
6 steps per epoch alone, 3 per epoch with 2 processes.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BRAT = ROOT / "tests" / "fixtures" / "brat"
WINDOWS, EPOCHS = 6, 2

TRACE_WRAPPER = '''
import importlib, json, os, sys
T, TR, W = (importlib.import_module(f"diplomat_ie.training.{m}") for m in ("train", "trainer", "windows"))

rank = int(os.environ.get("RANK", "0"))
trace = {"fetched": [], "writes": [], "dev": []}

get = W.WindowRows.__getitem__
def getitem(self, i):
    trace["fetched"].append(int(i))
    return get(self, i)
W.WindowRows.__getitem__ = getitem

for name in ("atomic_write_json", "save_model_dir"):
    def wrap(fn, name=name):
        def logged(*args, **kwargs):
            trace["writes"].append([name, str(args[0] if name == "atomic_write_json" else args[2])])
            return fn(*args, **kwargs)
        return logged
    setattr(T, name, wrap(getattr(T, name)))

evaluate = TR.DiplomatTrainer.evaluate
def logged_evaluate(self, *args, **kwargs):
    metrics = evaluate(self, *args, **kwargs)
    trace["dev"].append({k: v for k, v in metrics.items() if k != "eval_runtime"})
    return metrics
TR.DiplomatTrainer.evaluate = logged_evaluate

from diplomat_ie.cli import main
rc = main(sys.argv[1:])
trace["rc"] = rc
with open(f"trace-{rank}.json", "w") as fh:
    json.dump(trace, fh)
sys.exit(rc)
'''


def _args(corpus: Path, backbone: Path) -> list[str]:
    return ["train", "--config", "default", "--name", "dist",
            "--data.corpus", str(corpus), "--model.backbone", str(backbone), "--model.word_vectors", "null",
            "--model.max_length", "16", "--model.overlap", "4", "--model.num_layers", "2",
            "--model.freeze_word_embeddings", "false", "--training.output_dir", "model",
            "--training.epochs", str(EPOCHS), "--training.batch_size", "1", "--training.logging_steps", "1",
            "--training.warmup_ratio", "0", "--training.threads", "1", "--training.report_dir", "report"]


def _start(cmd: list[str], cwd: Path):
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), TOKENIZERS_PARALLELISM="false", OMP_NUM_THREADS="1")
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT",
                "TENSORBOARD_LOGGING_DIR"):
        env.pop(key, None)
    log = open(cwd / "log.txt", "w")  # noqa: SIM115 - closed in _wait
    return subprocess.Popen(cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT), log


def _wait(proc, log, cwd: Path, timeout: int = 180) -> None:
    try:
        rc = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()  # never leave a training process (or its workers) behind
        proc.wait()
        raise
    finally:
        log.close()
    assert rc == 0, (cwd / "log.txt").read_text(encoding="utf-8")[-4000:]


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tiny_backbone):
    base = tmp_path_factory.mktemp("dist")
    corpus = base / "corpus"
    for split in ("train", "dev"):  # dev = the training documents
        shutil.copytree(BRAT / "train", corpus / split)
    wrapper = base / "trace_wrapper.py"
    wrapper.write_text(TRACE_WRAPPER, encoding="utf-8")
    two, one = base / "two", base / "one"
    two.mkdir()
    one.mkdir()
    args = _args(corpus, tiny_backbone)
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    jobs = [(_start([*torchrun, str(wrapper), *args], two), two), (_start([sys.executable, str(wrapper), *args], one),
                                                                   one)]
    for (proc, log), cwd in jobs:
        _wait(proc, log, cwd)
    return {"two": two, "one": one}


def _trace(run: Path, rank: int) -> dict:
    return json.loads((run / f"trace-{rank}.json").read_text(encoding="utf-8"))


def _summary(run: Path) -> dict:
    return json.loads((run / "runs" / "dist" / "train_summary.json").read_text(encoding="utf-8"))


def test_both_ranks_exit_0_and_only_rank_0_writes(runs):
    two = runs["two"]
    traces = [_trace(two, r) for r in (0, 1)]
    assert [t["rc"] for t in traces] == [0, 0]
    assert sorted(name for name, _ in traces[0]["writes"]) == ["atomic_write_json", "save_model_dir"]
    assert {Path(p).name for _, p in traces[0]["writes"]} == {"train_summary.json", "model"}
    assert traces[1]["writes"] == []
    models = [p.parent.relative_to(two) for p in two.rglob("model.safetensors") if "checkpoints" not in p.parts]
    assert models == [Path("model")]
    assert not (two / "report").exists() and not (two / "reports").exists()  # reports: `diplomat-ie report`
    assert (two / "log.txt").read_text(encoding="utf-8").count("model saved to model") == 1

    from diplomat_ie.modeling.io import load_model_dir

    model, _ = load_model_dir(two / "model")
    assert model.config.training_summary["train_windows"] == WINDOWS


def test_the_two_ranks_split_every_epoch_between_them(runs):
    fetched = [_trace(runs["two"], r)["fetched"] for r in (0, 1)]
    per_epoch = WINDOWS // 2
    assert [len(f) for f in fetched] == [EPOCHS * per_epoch] * 2
    for e in range(EPOCHS):
        a, b = (f[e * per_epoch:(e + 1) * per_epoch] for f in fetched)
        assert all(x != y for x, y in zip(a, b, strict=True))  # different windows in every step
        assert sorted(a + b) == list(range(WINDOWS))  # together: every window of the epoch once
    alone = _trace(runs["one"], 0)["fetched"]
    assert sorted(alone[:WINDOWS]) == sorted(alone[WINDOWS:]) == list(range(WINDOWS))


def test_global_steps_reflect_the_two_way_split(runs):
    two, one = _summary(runs["two"]), _summary(runs["one"])
    assert two["world_size"] == 2 and one["world_size"] == 1
    assert two["train_windows"] == one["train_windows"] == WINDOWS
    steps = [max(h["step"] for h in s["log_history"]) for s in (two, one)]
    assert steps == [EPOCHS * WINDOWS // 2, EPOCHS * WINDOWS]
    assert [h["step"] for h in two["dev_history"]] == [WINDOWS // 2 * e for e in range(1, EPOCHS + 1)]


def test_every_rank_sees_the_same_dev_metrics_and_best_model(runs):
    dev = [_trace(runs["two"], r)["dev"] for r in (0, 1)]
    assert len(dev[0]) == EPOCHS and dev[0] == dev[1]
    summary = _summary(runs["two"])
    best = max(dev[0], key=lambda m: m["eval_nested_f1"])
    assert summary["best_dev"]["eval_nested_f1"] == best["eval_nested_f1"]


def test_log_csv_has_each_row_once(runs):
    with open(runs["two"] / "runs" / "dist" / "log.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))[1:]
    counts = Counter((r[0], r[2]) for r in rows)
    assert counts and max(counts.values()) == 1
    assert sorted(int(s) for s, key in counts if key == "loss") == list(range(1, EPOCHS * WINDOWS // 2 + 1))
