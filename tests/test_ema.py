"""training.ema_decay: the weight average (unit), and a tiny run that scores, keeps and resumes it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from safetensors.torch import load_file

from diplomat_ie.cli import main
from diplomat_ie.config import ConfigError, TrainingConfig
from diplomat_ie.training.ema import EMA_FILE, EmaCallback

ROOT = Path(__file__).resolve().parents[1]
BRAT = ROOT / "tests" / "fixtures" / "brat"


def _toy() -> torch.nn.Module:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Linear(2, 1))
    model[1].bias.requires_grad_(False)  # frozen: not averaged
    return model


@pytest.mark.parametrize("decay", [0.0, 1.0, -0.5, 1.5])
def test_decay_outside_0_1_is_refused(decay):
    with pytest.raises(ValueError, match="training.ema_decay"):
        EmaCallback(_toy(), decay)


@pytest.mark.parametrize(("decay", "ok"), [(0.0, True), (0.999, True), (1.0, False), (-0.1, False)])
def test_config_checks_the_decay(decay, ok):
    if ok:
        assert TrainingConfig(ema_decay=decay).ema_decay == decay
    else:
        with pytest.raises(ConfigError, match=r"training.ema_decay: must be 0 \(off\) or in \(0, 1\)"):
            TrainingConfig(ema_decay=decay)


def test_the_average_follows_the_warmed_up_decay():
    model = _toy()
    ema = EmaCallback(model, 0.9)
    assert set(ema.shadow) == {"0.weight", "0.bias", "1.weight"}
    w = model[0].weight
    expected = w.detach().clone()
    for step in range(1, 30):
        with torch.no_grad():
            w.add_(0.1 * step)  # an "optimiser step"
        d = min(0.9, (1 + step) / (10 + step))
        expected = d * expected + (1 - d) * w.detach()
        ema.on_step_end(None, SimpleNamespace(global_step=step), None)
    assert torch.allclose(ema.shadow["0.weight"], expected, atol=1e-5)
    assert not torch.allclose(ema.shadow["0.weight"], w.detach())  # it lags behind the weights


def test_swapped_in_restores_the_weights_and_files_round_trip(tmp_path):
    model = _toy()
    ema = EmaCallback(model, 0.5)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    for n in ema.shadow:
        ema.shadow[n].fill_(7.0)
    with ema.swapped_in(model):
        assert float(model[0].weight.detach().min()) == float(model[0].weight.detach().max()) == 7.0
        assert torch.equal(model[1].bias, before["1.bias"])  # frozen: untouched
    assert all(torch.equal(p, before[n]) for n, p in model.named_parameters())
    ema.save(tmp_path / EMA_FILE)
    other = EmaCallback(model, 0.5)
    other.load(tmp_path / EMA_FILE)
    assert torch.equal(other.shadow["0.weight"], ema.shadow["0.weight"])
    small = EmaCallback(torch.nn.Linear(3, 2), 0.5)
    with pytest.raises(ValueError, match="does not match the model"):
        small.load(tmp_path / EMA_FILE)


# the fixture windows at batch size 1; 2 epochs, a dev evaluation and a checkpoint every 2 steps
ARGS = ["train", "--config", "default", "--name", "ema", "--data.corpus", str(BRAT), "--data.dev_split", "train",
        "--model.word_vectors", "null", "--model.type_lexicon", "null", "--model.max_length", "24",
        "--model.overlap", "4", "--model.num_layers", "2", "--model.freeze_word_embeddings", "false",
        "--training.output_dir", "model", "--training.epochs", "2", "--training.batch_size", "1",
        "--training.eval_every", "2", "--training.head_lr", "1.0e-2", "--training.encoder_lr", "1.0e-3",
        "--training.patience", "100", "--training.save_total_limit", "2", "--training.threads", "1",
        "--training.save_dtype", "float32", "--training.save_embeddings", "same", "--training.ema_decay", "0.6"]


@pytest.fixture(scope="module")
def run(tmp_path_factory, tiny_backbone):
    base = tmp_path_factory.mktemp("ema")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(base)
        mp.delenv("TENSORBOARD_LOGGING_DIR", raising=False)
        assert main(ARGS + ["--model.backbone", str(tiny_backbone)]) == 0
    return base, tiny_backbone


def _summary(base: Path) -> dict:
    return json.loads((base / "runs" / "ema" / "train_summary.json").read_text(encoding="utf-8"))


def test_both_weight_sets_are_scored_and_the_average_is_kept(run):
    base, _ = run
    s = _summary(base)
    hist = s["dev_history"]
    assert len(hist) >= 3 and all("eval_nested_f1" in h and "eval_raw_nested_f1" in h for h in hist)
    assert s["best_dev"]["eval_nested_f1"] == max(h["eval_nested_f1"] for h in hist)  # chosen on the average
    cks = sorted((base / "runs" / "ema" / "checkpoints").glob("checkpoint-*"))
    assert cks and all((ck / EMA_FILE).is_file() for ck in cks)
    state = json.loads((cks[-1] / "trainer_state.json").read_text(encoding="utf-8"))
    chosen = Path(state["best_model_checkpoint"]).name
    averaged = load_file(str(base / "runs" / "ema" / "checkpoints" / chosen / EMA_FILE))
    raw = load_file(str(base / "runs" / "ema" / "checkpoints" / chosen / "model.safetensors"))
    saved = load_file(str(base / "model" / "model.safetensors"))
    names = [n for n in averaged if n in saved]
    assert len(names) == len(averaged)  # every averaged weight is in the model directory...
    assert all(torch.equal(saved[n], averaged[n]) for n in names)  # ...as the chosen checkpoint's average
    assert any(not torch.equal(raw[n], averaged[n]) for n in names if n in raw)  # which is not the raw weights


def test_resume_continues_the_average(run, tmp_path):
    base, backbone = run
    ref = load_file(str(base / "model" / "model.safetensors"))
    work = tmp_path / "resumed"
    shutil.copytree(base / "runs", work / "runs")
    cks = sorted((work / "runs" / "ema" / "checkpoints").glob("checkpoint-*"), key=lambda p: int(p.name[11:]))
    shutil.rmtree(cks[-1])  # the run "died" after the one before the last checkpoint
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(work)
        mp.delenv("TENSORBOARD_LOGGING_DIR", raising=False)
        assert main(ARGS + ["--model.backbone", str(backbone), "--resume"]) == 0
    assert _summary(work)["resumed_from"].endswith(cks[-2].name)  # the average came from that checkpoint
    got = load_file(str(work / "model" / "model.safetensors"))
    assert got.keys() == ref.keys()
    assert max(float((got[k].double() - ref[k].double()).abs().max()) for k in ref) < 1e-6
