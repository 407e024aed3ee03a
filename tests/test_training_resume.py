"""Interrupted training: SIGKILL mid-epoch (while a checkpoint is half-written), ``--resume``, same result.

The reference and the interrupted run are ``python -m diplomat_ie.cli train`` subprocesses on the tiny
backbone, run side by side; the resume goes through ``cli.main`` in the test process. The interrupted
run is started through a small wrapper that sends itself SIGKILL inside the Trainer's checkpoint save
at step ``KILL_SAVE_STEP`` (after ``model.safetensors``, before the RNG state and ``trainer_state.json``):
a deterministic ``kill -9`` at the worst moment, mid-epoch, leaving a half-written checkpoint that
``--resume`` must skip.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from diplomat_ie.cli import main
from diplomat_ie.config import load_config

ROOT = Path(__file__).resolve().parents[1]
BRAT = ROOT / "tests" / "fixtures" / "brat"

KILL_WRAPPER = '''
import os, signal, sys
from diplomat_ie.training import trainer as T

step = int(os.environ.get("KILL_SAVE_STEP", "0"))
orig = T.DiplomatTrainer._save_rng_state

def _save_rng_state(self, output_dir):
    if self.state.global_step == step:  # model.safetensors is written, the rest is not
        os.kill(os.getpid(), signal.SIGKILL)
    return orig(self, output_dir)

T.DiplomatTrainer._save_rng_state = _save_rng_state
from diplomat_ie.cli import main
sys.exit(main(sys.argv[1:]))
'''

# 20 training documents -> 30 windows of <= 16 subwords -> 30 steps per epoch at batch size 1; 2 epochs.
# A checkpoint every 10 steps; the kill hits the save at step 50 (epoch 2, step 20 of 30), so --resume
# restarts from checkpoint-40 in the middle of the second epoch (the case where data order matters).
EVAL_EVERY, KILL_SAVE_STEP, TOTAL_STEPS = 10, 50, 60


def _corpus(root: Path) -> Path:
    train, dev = root / "corpus" / "train", root / "corpus" / "dev"
    train.mkdir(parents=True)
    dev.mkdir()
    for copy in range(5):
        for p in (BRAT / "train").iterdir():
            shutil.copy(p, train / f"c{copy}_{p.name}")
    for p in (BRAT / "train").iterdir():  # dev = the training documents: the metrics move within 60 steps
        shutil.copy(p, dev / p.name)
    return root / "corpus"


def _train_args(corpus: Path, backbone: Path) -> list[str]:
    return ["train", "--config", "default", "--name", "resume",
            "--data.corpus", str(corpus), "--model.backbone", str(backbone), "--model.word_vectors", "null",
            "--model.max_length", "16", "--model.overlap", "4", "--model.num_layers", "2",
            "--model.freeze_word_embeddings", "false", "--training.output_dir", "model",
            "--training.epochs", "2", "--training.batch_size", "1", "--training.eval_every", str(EVAL_EVERY),
            "--training.head_lr", "1.0e-2", "--training.encoder_lr", "1.0e-3", "--training.warmup_ratio", "0",
            "--training.patience", "100", "--training.logging_steps", "1", "--training.save_total_limit", "2",
            "--training.threads", "1", "--training.report_dir", "report"]


def _popen(args: list[str], cwd: Path, wrapper: Path | None = None, env_extra: dict | None = None):
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), TOKENIZERS_PARALLELISM="false", **(env_extra or {}))
    env.pop("TENSORBOARD_LOGGING_DIR", None)
    cmd = [sys.executable, str(wrapper)] if wrapper else [sys.executable, "-m", "diplomat_ie.cli"]
    log = open(cwd / f"log-{len(list(cwd.glob('log-*')))}.txt", "w")  # noqa: SIM115 - closed by the caller
    return subprocess.Popen(cmd + args, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT), log


def _finish(proc, log, timeout=240) -> int:
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()  # never leave a training process behind
        proc.wait()
        raise
    finally:
        log.close()


def _summary(run: Path) -> dict:
    return json.loads((run / "runs" / "resume" / "train_summary.json").read_text(encoding="utf-8"))


def _weights(path: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(path))


def _max_diff(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max(float((a[k].double() - b[k].double()).abs().max()) for k in a)


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tiny_backbone):
    """The reference run and the killed run (in parallel), then ``--resume`` of the killed one."""
    base = tmp_path_factory.mktemp("resume")
    corpus = _corpus(base)
    wrapper = base / "kill_wrapper.py"
    wrapper.write_text(KILL_WRAPPER, encoding="utf-8")
    ref, cut = base / "reference", base / "interrupted"
    ref.mkdir()
    cut.mkdir()
    args = _train_args(corpus, tiny_backbone)
    p_ref, log_ref = _popen(args, ref)
    p_cut, log_cut = _popen(args, cut, wrapper, {"KILL_SAVE_STEP": str(KILL_SAVE_STEP)})
    rc_cut, rc_ref = _finish(p_cut, log_cut), _finish(p_ref, log_ref)
    killed_state = {
        "rc": rc_cut,
        "checkpoints": sorted(p.name for p in (cut / "runs/resume/checkpoints").iterdir()),
        "half_written": sorted(p.name for p in (cut / f"runs/resume/checkpoints/checkpoint-{KILL_SAVE_STEP}").iterdir()),
        "model_saved": (cut / "model").exists(),
        "clock": _clock_record(cut / f"runs/resume/checkpoints/checkpoint-{KILL_SAVE_STEP - EVAL_EVERY}"),
    }
    assert rc_ref == 0, (ref / "log-0.txt").read_text()[-3000:]
    assert rc_cut == -signal.SIGKILL, (cut / "log-0.txt").read_text()[-3000:]
    resume_log = _resume_in_process(args, cut)
    return {"ref": ref, "cut": cut, "killed": killed_state, "resume_log": resume_log}


def _clock_record(checkpoint: Path) -> dict:
    state = json.loads((checkpoint / "trainer_state.json").read_text(encoding="utf-8"))
    return state["stateful_callbacks"]["WallClock"]["args"]


def _resume_in_process(args: list[str], cwd: Path) -> str:
    """``diplomat-ie train ... --resume`` through ``cli.main`` in this process (saves a Python start-up)."""
    import io
    import logging

    import torch

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    train_log = logging.getLogger("diplomat_ie.training.train")
    train_log.addHandler(handler)
    threads, env = torch.get_num_threads(), os.environ.get("TENSORBOARD_LOGGING_DIR")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(cwd)
        mp.delenv("TENSORBOARD_LOGGING_DIR", raising=False)
        try:
            rc = main(args + ["--resume"])
        finally:
            train_log.removeHandler(handler)
            torch.set_num_threads(threads)
    if env is not None:
        os.environ["TENSORBOARD_LOGGING_DIR"] = env
    assert rc == 0, stream.getvalue()[-3000:]
    return stream.getvalue()


def test_the_run_was_killed_mid_epoch_with_a_half_written_checkpoint(runs):
    k = runs["killed"]
    assert k["rc"] == -signal.SIGKILL
    assert f"checkpoint-{KILL_SAVE_STEP - EVAL_EVERY}" in k["checkpoints"]
    assert f"checkpoint-{KILL_SAVE_STEP}" in k["checkpoints"]
    assert "model.safetensors" in k["half_written"]
    assert "trainer_state.json" not in k["half_written"] and "rng_state.pth" not in k["half_written"]
    assert not k["model_saved"]
    assert KILL_SAVE_STEP % 30 != 0  # not at an epoch boundary


def test_resume_skips_the_half_written_checkpoint(runs):
    summary = _summary(runs["cut"])
    assert summary["resumed_from"].endswith(f"checkpoint-{KILL_SAVE_STEP - EVAL_EVERY}")
    assert "skipping incomplete checkpoint" in runs["resume_log"]


def test_resumed_run_reaches_the_same_result_as_the_uninterrupted_one(runs):
    ref, res = _summary(runs["ref"]), _summary(runs["cut"])
    # every training step after the resume point saw the same batch and the same dropout: same losses
    losses = [{h["step"]: h["loss"] for h in s["log_history"] if "loss" in h} for s in (ref, res)]
    assert sorted(losses[0]) == sorted(losses[1]) == list(range(1, TOTAL_STEPS + 1))
    assert max(abs(losses[0][k] - losses[1][k]) for k in losses[0]) < 1e-6
    # same dev metrics at every evaluation (including those before the kill), same best, same final weights
    keep = ("step", "eval_nested_f1", "eval_nested_macro_f1", "eval_roles_gold_f1", "eval_roles_e2e_f1")
    hist = [[{k: h[k] for k in keep} for h in s["dev_history"]] for s in (ref, res)]
    assert [h["step"] for h in hist[0]] == list(range(EVAL_EVERY, TOTAL_STEPS + 1, EVAL_EVERY))
    assert hist[0] == hist[1]
    assert ref["best_dev"]["eval_nested_f1"] == res["best_dev"]["eval_nested_f1"] > 0
    assert ref["best_dev"]["step"] == res["best_dev"]["step"]
    assert _max_diff(_weights(runs["ref"] / "model/model.safetensors"),
                     _weights(runs["cut"] / "model/model.safetensors")) < 1e-6
    last = f"runs/resume/checkpoints/checkpoint-{TOTAL_STEPS}/model.safetensors"
    assert _max_diff(_weights(runs["ref"] / last), _weights(runs["cut"] / last)) < 1e-6


def _log_rows(run: Path) -> list[tuple[int, str]]:
    import csv

    with open(run / "runs" / "resume" / "log.csv", newline="", encoding="utf-8") as fh:
        return [(int(r[0]), r[2]) for r in list(csv.reader(fh))[1:]]


def test_resumed_log_csv_has_each_step_once(runs):
    ref, res = _log_rows(runs["ref"]), _log_rows(runs["cut"])
    assert len(res) == len(set(res))  # the steps after checkpoint-40 that the killed run logged are gone
    assert res == ref  # same (step, key) rows in the same order as the uninterrupted run
    assert sorted({s for s, k in res if k == "loss"}) == list(range(1, TOTAL_STEPS + 1))


def test_log_csv_is_cut_back_to_the_step_training_starts_from(tmp_path):
    from types import SimpleNamespace

    from diplomat_ie.training.train import CsvLogCallback

    path = tmp_path / "log.csv"
    cb = CsvLogCallback(path)
    for step in (1, 2, 3):
        cb.on_log(None, SimpleNamespace(is_world_process_zero=True, global_step=step, epoch=step / 3),
                  None, logs={"loss": 1.0 / step})
    before = path.read_text()
    cb.on_train_begin(None, SimpleNamespace(is_world_process_zero=True, global_step=3), None)
    assert path.read_text() == before  # nothing after the resume point: untouched
    cb.on_train_begin(None, SimpleNamespace(is_world_process_zero=True, global_step=2), None)  # resume at 2
    cb.on_log(None, SimpleNamespace(is_world_process_zero=True, global_step=3, epoch=1.0), None,
              logs={"loss": 0.5})
    assert path.read_text().splitlines() == ["step,epoch,key,value", "1,0.3333333333333333,loss,1.0",
                                             "2,0.6666666666666666,loss,0.5", "3,1.0,loss,0.5"]
    cb.on_train_begin(None, SimpleNamespace(is_world_process_zero=True, global_step=0), None)  # fresh run
    assert path.read_text().splitlines() == ["step,epoch,key,value"]


def test_sampler_order_depends_only_on_seed_and_epoch():
    import torch

    from diplomat_ie.training.trainer import EpochSeededLengthGroupedSampler

    data = [{"input_ids": [0] * (1 + i % 7)} for i in range(200)]
    s = EpochSeededLengthGroupedSampler(4, data, seed=42)
    orders = []
    for epoch in (0, 1, 0):
        torch.manual_seed(epoch * 1000 + 7)  # the global RNG must not matter
        torch.rand(10)
        s.set_epoch(epoch)
        orders.append(list(s))
    assert orders[0] == orders[2] != orders[1]
    assert sorted(orders[0]) == sorted(orders[1]) == list(range(200))


def _write_checkpoint(folder: Path, step: int, skip: tuple = (), state: str | None = None) -> Path:
    ck = folder / f"checkpoint-{step}"
    ck.mkdir(parents=True)
    for name in ("model.safetensors", "optimizer.pt", "scheduler.pt", "rng_state.pth", "config.json"):
        if name not in skip:
            (ck / name).write_bytes(b"x")
    if "trainer_state.json" not in skip:
        (ck / "trainer_state.json").write_text(state if state is not None else json.dumps({"global_step": step}))
    return ck


def test_last_checkpoint_skips_incomplete_ones(tmp_path):
    from diplomat_ie.training.train import _last_checkpoint

    folder = tmp_path / "checkpoints"
    assert _last_checkpoint(folder) is None
    folder.mkdir()
    assert _last_checkpoint(folder) is None
    _write_checkpoint(folder, 5)
    _write_checkpoint(folder, 9)  # complete, but a larger complete one follows
    good = _write_checkpoint(folder, 10)
    _write_checkpoint(folder, 20, skip=("trainer_state.json",))
    _write_checkpoint(folder, 30, state='{"global_step": 3')  # killed while writing trainer_state.json
    _write_checkpoint(folder, 40, skip=("model.safetensors",))
    _write_checkpoint(folder, 50, skip=("rng_state.pth", "trainer_state.json"))
    _write_checkpoint(folder, 60, state="[]")
    (folder / "checkpoint-70.tmp").mkdir()
    (folder / "checkpoint-latest").mkdir()
    (folder / "checkpoint-80").write_text("a file")
    assert _last_checkpoint(folder) == good


def _cli_train(tmp_path, *extra) -> int:
    return main(["train", "--config", "default", "--name", "t",
                 "--data.corpus", str(BRAT), "--model.backbone", str(tmp_path / "no-backbone"),
                 "--model.word_vectors", "null", *extra])


def test_unwritable_output_dir_fails_at_start(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("not a folder")  # root ignores chmod; a path under a file never works
    assert _cli_train(tmp_path, "--training.output_dir", str(tmp_path / "afile" / "sub" / "model")) == 2
    err = capsys.readouterr().err
    assert "cannot write to" in err and "afile" in err
    assert _cli_train(tmp_path, "--training.output_dir", str(tmp_path / "afile")) == 2
    assert "is a file, not a directory" in capsys.readouterr().err
    assert not (tmp_path / "runs" / "t" / "checkpoints").exists()  # nothing started


def test_second_run_into_an_existing_model_dir_needs_overwrite(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text("{}")
    assert _cli_train(tmp_path, "--training.output_dir", str(tmp_path / "model")) == 2
    err = capsys.readouterr().err
    assert "already holds a run" in err and "--training.overwrite true" in err
    assert (tmp_path / "model" / "config.json").read_text() == "{}"  # untouched


def test_fresh_run_next_to_an_interrupted_ones_checkpoints_needs_resume_or_overwrite(tmp_path, monkeypatch,
                                                                                       capsys):
    from diplomat_ie.training.train import prepare_output

    monkeypatch.chdir(tmp_path)
    ck = _write_checkpoint(tmp_path / "runs" / "t" / "checkpoints", 7)
    assert _cli_train(tmp_path, "--training.output_dir", str(tmp_path / "model")) == 2
    assert "--resume to continue it" in capsys.readouterr().err and ck.exists()
    cfg = load_config(None, {"name": "t", "training.output_dir": str(tmp_path / "model")})
    prepare_output(cfg, resume=True)  # resuming is fine and keeps them
    assert ck.exists()
    cfg.training.overwrite = True
    prepare_output(cfg, resume=False)  # overwrite discards them
    assert not ck.exists()


@pytest.mark.parametrize(("config", "error"), [
    ({"format_version": 1}, "model format 1"),  # head keys renamed since: HF would load them non-strictly
    ({}, "model format None"),
    (None, "unreadable"),
])
def test_resume_refuses_a_checkpoint_of_another_model_format(tmp_path, config, error):
    from diplomat_ie.config import ConfigError
    from diplomat_ie.training.train import _check_checkpoint_format

    ck = tmp_path / "checkpoint-10"
    ck.mkdir()
    if config is not None:
        (ck / "config.json").write_text(json.dumps(config))
    with pytest.raises(ConfigError, match=error):
        _check_checkpoint_format(ck)


def test_resume_accepts_a_checkpoint_of_this_format(tmp_path):
    from diplomat_ie.modeling.configuration import FORMAT_VERSION
    from diplomat_ie.training.train import _check_checkpoint_format

    (tmp_path / "config.json").write_text(json.dumps({"format_version": FORMAT_VERSION}))
    assert _check_checkpoint_format(tmp_path) is None  # no error


def test_resumed_runs_training_time_adds_the_killed_parts_seconds(runs):
    before, res, ref = runs["killed"]["clock"], _summary(runs["cut"]), _summary(runs["ref"])
    assert before["known"] is True and before["seconds_before"] > 0  # checkpoint-40 recorded its seconds
    assert res["seconds_known_total"] is True
    assert res["seconds"] == pytest.approx(before["seconds_before"] + res["seconds_this_process"], abs=0.15)
    assert res["epochs_this_process"] == pytest.approx(TOTAL_STEPS / 30 - (KILL_SAVE_STEP - EVAL_EVERY) / 30, abs=1e-3)
    per_epoch = res["seconds_this_process"] / res["epochs_this_process"]
    # both seconds are stored to 0.1 s: the per-epoch rate carries that rounding over a fraction of an epoch
    slack = 0.05 + 0.05 / res["epochs_this_process"] + 1e-9
    assert res["seconds_per_epoch"] == pytest.approx(per_epoch, abs=slack)
    assert ref["resumed_from"] is None and ref["seconds"] == ref["seconds_this_process"] > 0
    assert ref["epochs_this_process"] == ref["epochs_run"] == 2


def test_resume_from_a_checkpoint_without_a_clock_record_counts_this_part_only(tmp_path):
    from types import SimpleNamespace

    from diplomat_ie.training.clock import WallClock

    (tmp_path / "trainer_state.json").write_text(json.dumps({"stateful_callbacks": {"TrainerControl": {}}}))
    clock = WallClock.resuming(tmp_path)
    assert clock.known is False and clock.seconds_before == 0
    state = SimpleNamespace(epoch=1.5, stateful_callbacks={"TrainerControl": {}})
    clock.on_train_begin(None, state, None)
    assert clock.start_epoch == 1.5 and state.stateful_callbacks["WallClock"]["args"]["known"] is False
    assert WallClock.resuming(None).known is True


@pytest.mark.parametrize(("facts", "label"), [
    ({"seconds": 10.0}, "training time (s)"),
    ({"seconds": 10.0, "resumed_from": "ck", "seconds_known_total": True}, "training time, all parts (s)"),
    ({"seconds": 10.0, "resumed_from": "ck"}, "training time of the last resumed part (s)"),
])
def test_report_says_what_the_training_time_covers(facts, label):
    from diplomat_ie.evaluation.report import _training_section

    text = _training_section(facts)
    assert f"| {label} | 10.00 |" in text
    assert ("| resumed from | ck (this part:" in text) == ("resumed_from" in facts)


def test_runs_started_side_by_side_probe_the_shared_folder_under_their_own_names(tmp_path, monkeypatch):
    """scripts/ablate.py --parallel starts runs at once into models/: a probe file with one fixed name
    (written by one run, deleted by the other) made the second run fail with "cannot write to"."""
    import threading

    from diplomat_ie.training.train import prepare_output

    monkeypatch.chdir(tmp_path)
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / ".write_test").mkdir()  # the old fixed probe name, taken: must not matter
    errors: list[Exception] = []

    def prepare(i: int) -> None:
        try:
            for _ in range(20):
                prepare_output(load_config(None, {"name": f"r{i}", "training.output_dir": f"models/r{i}"}),
                               resume=False)
        except Exception as exc:  # collected: the assertion below names it
            errors.append(exc)

    threads = [threading.Thread(target=prepare, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert [p.name for p in (tmp_path / "models").iterdir()] == [".write_test"]  # no probe left behind
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["r0", "r1", "r2", "r3"]
