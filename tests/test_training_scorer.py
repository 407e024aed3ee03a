"""Training gets its dev scorer passed in: the one given is used, none means no dev evaluation."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from diplomat_ie.config import load_config

ROOT = Path(__file__).resolve().parents[1]
BRAT = ROOT / "tests" / "fixtures" / "brat"


def _cfg(tmp_path: Path, backbone: Path):
    return load_config(None, {
        "name": "scorer", "data.corpus": str(BRAT), "model.backbone": str(backbone), "model.max_length": "32",
        "model.overlap": "8", "model.num_layers": "2", "training.output_dir": str(tmp_path / "model"),
        "training.report_dir": str(tmp_path / "report"), "training.epochs": "2", "training.batch_size": "4",
        "training.threads": "1", "training.logging_steps": "1"})


def _log_keys(tmp_path: Path) -> set[str]:
    with open(tmp_path / "runs" / "scorer" / "log.csv", newline="", encoding="utf-8") as fh:
        return {row[2] for row in list(csv.reader(fh))[1:]}


@pytest.fixture()
def in_tmp(tmp_path, monkeypatch):
    import torch

    monkeypatch.chdir(tmp_path)  # runs/ lands here
    threads = torch.get_num_threads()
    yield tmp_path
    torch.set_num_threads(threads)


def test_the_given_scorer_scores_dev_and_picks_the_best_model(in_tmp, tiny_backbone):
    from diplomat_ie.training.train import train

    calls = []

    def scorer(model, tokenizer, dev_docs, batch_size):
        calls.append((len(dev_docs), batch_size, tokenizer.is_fast))
        return {"nested_f1": [60.0, 40.0][len(calls) - 1], "roles_gold_f1": 1.0}  # epoch 1 is the best

    cfg = _cfg(in_tmp, tiny_backbone)
    summary = train(cfg, scorer=scorer)
    assert calls == [(2, cfg.training.eval_batch_size, True)] * 2  # once per epoch, on the 2 dev documents
    assert [h["eval_nested_f1"] for h in summary["dev_history"]] == [60.0, 40.0]
    assert summary["best_dev"]["eval_nested_f1"] == 60.0 and summary["best_dev"]["eval_roles_gold_f1"] == 1.0
    assert {"eval_nested_f1", "loss"} <= _log_keys(in_tmp)


def test_without_a_scorer_training_runs_without_dev_evaluation(in_tmp, tiny_backbone, caplog):
    from diplomat_ie.modeling.io import load_model_dir
    from diplomat_ie.training.train import train

    summary = train(_cfg(in_tmp, tiny_backbone))
    assert summary["best_dev"] == {} and summary["dev_history"] == [] and summary["epochs_run"] == 2
    assert "no dev scorer" in caplog.text
    assert not any(k.startswith("eval_") for k in _log_keys(in_tmp))
    model, _ = load_model_dir(in_tmp / "model")  # the last model is saved
    assert model.config.entity_types
