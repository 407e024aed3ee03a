"""End to end on the tiny random BERT: train (CLI) -> save -> load -> predict -> evaluate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from diplomat_ie import Extractor
from diplomat_ie.cli import main
from diplomat_ie.data import read_brat_dir
from diplomat_ie.modeling.configuration import FORMAT_VERSION

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_backbone, brat_dir, monkeypatch_module):
    tmp = tmp_path_factory.mktemp("e2e")
    monkeypatch_module.chdir(tmp)  # runs/ and reports/ land in tmp
    rc = main(["train", "--config", "default", "--name", "tiny",
               "--data.corpus", str(brat_dir), "--model.backbone", str(tiny_backbone), "--model.word_vectors", "null",
               "--model.max_length", "32", "--model.overlap", "8", "--training.epochs", "25",
               "--training.batch_size", "2", "--training.head_lr", "1.0e-2", "--training.encoder_lr", "1.0e-2",
               "--training.warmup_ratio", "0.0",
               "--data.dev_split", "train",  # best checkpoint = the one that fits the fixtures
               "--model.freeze_word_embeddings", "false",
               "--training.output_dir", str(tmp / "model"), "--training.patience", "50",
               "--training.save_total_limit", "1", "--training.threads", "1"])
    assert rc == 0
    return tmp


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def test_model_directory_is_complete(trained):
    model = trained / "model"
    names = {p.name for p in model.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "README.md"} <= names
    assert not any(n.endswith(".bin") for n in names)
    cfg = json.loads((model / "config.json").read_text())
    assert cfg["model_type"] == "diplomat_ie" and cfg["format_version"] == FORMAT_VERSION
    assert "PERSON" in cfg["entity_types"] and "agent" in cfg["roles"]
    summary = json.loads((trained / "runs/tiny/train_summary.json").read_text())
    assert summary["best_dev"]["eval_nested_f1"] >= 0 and summary["train_docs"] == 4
    assert (trained / "runs/tiny/log.csv").read_text().startswith("step,epoch,key,value")


def test_extractor_offsets_round_trip_and_forgiving_api(trained, brat_dir):
    ex = Extractor.from_pretrained(trained / "model")
    docs = read_brat_dir(brat_dir / "train")
    texts = [d.text for d in docs]
    results = ex(texts)
    assert isinstance(results, list) and len(results) == len(texts)
    single = ex(texts[0])
    assert single.to_dict() == results[0].to_dict()
    found = 0
    for text, res in zip(texts, results, strict=True):
        d = res.to_dict()
        assert d["text"] == text and set(d) >= {"text", "entities", "events"}
        for e in d["entities"]:
            assert set(e) >= {"id", "type", "start", "end", "text", "score"}
            assert text[e["start"]:e["end"]] == e["text"] and 0 <= e["score"] <= 1
        for ev in d["events"]:
            t = ev["trigger"]
            assert text[t["start"]:t["end"]] == t["text"] and t["type"] == "EVENT"
            for a in ev["arguments"]:
                assert text[a["start"]:a["end"]] == a["text"] and a["role"]
        found += len(d["entities"])
    assert found > 0  # the model learned the training fixtures well enough to find entities
    gold = {(e.start, e.end, e.type) for e in docs[0].entities}
    pred = {(e["start"], e["end"], e["type"]) for e in results[0].to_dict()["entities"]}
    assert len(gold & pred) >= len(gold) // 2  # memorised at least half of a training document


def test_extractor_json_is_serialisable(trained):
    ex = Extractor.from_pretrained(trained / "model")
    out = json.dumps(ex("Посол Германии в Москве встретился с журналистами.").to_dict(), ensure_ascii=False)
    assert json.loads(out)["text"].startswith("Посол")


def test_continue_training_from_a_saved_model(trained, brat_dir):
    out = trained / "model2"
    rc = main(["train", "--config", "continue", "--name", "tiny2",
               "--data.corpus", str(brat_dir), "--model.init_from", str(trained / "model"),
               "--training.epochs", "1", "--training.batch_size", "2", "--training.output_dir", str(out),
               "--training.threads", "1", "--data.dev_split", "train"])
    assert rc == 0
    first = json.loads((trained / "model" / "config.json").read_text())
    second = json.loads((out / "config.json").read_text())
    assert first["entity_types"] == second["entity_types"] and first["roles"] == second["roles"]
    from safetensors.torch import load_file

    a, b = load_file(str(trained / "model" / "model.safetensors")), load_file(str(out / "model.safetensors"))
    assert a.keys() == b.keys()
    assert any(not (a[k] == b[k]).all() for k in a)  # training moved the weights


def test_predictions_do_not_depend_on_batching(trained):
    from diplomat_ie.modeling.predict import Predictor

    texts = ["Короткий текст о визите.", "Министр иностранных дел России Сергей Лавров прибыл в Минск. " * 12,
             "Переговоры прошли в Пекине 3 марта 2024 года.", "Саммит ШОС. " * 40]
    ex = Extractor.from_pretrained(trained / "model")

    def run(**kw):
        preds = Predictor(ex.model, ex.tokenizer, **kw).predict(texts)
        return [[(s.lo, s.hi, s.type, round(s.score, 4)) for s in p.entities] for p in preds], \
            [[(e.trigger.lo, [(a.lo, a.hi, a.type) for a in e.arguments]) for e in p.events] for p in preds]

    ref = run(batch_size=1)
    assert sum(len(e) for e in ref[0]) > 0
    assert run(batch_size=32, max_padding=None) == ref
    assert run(batch_size=32, max_padding=0.1) == ref
    assert run(batch_size=3, max_padding=0.0) == ref


def test_bf16_backend_predicts_close_to_fp32(trained, brat_dir):
    texts = [d.text for d in read_brat_dir(brat_dir / "train")]
    ref = Extractor.from_pretrained(trained / "model")(texts)
    got = Extractor.from_pretrained(trained / "model", backend="torch-bf16")(texts)
    assert got[0].to_dict().keys() == ref[0].to_dict().keys()
    pairs = [(e.start, e.end, e.type) for r in ref for e in r.entities]
    found = {(e.start, e.end, e.type) for r in got for e in r.entities}
    assert pairs and sum(p in found for p in pairs) >= 0.8 * len(pairs)  # bfloat16 matmuls: close, not identical
    for r in got:
        assert all(r.text[e.start : e.end] == e.text for e in r.entities)


def test_unknown_backend_is_a_clear_error(trained):
    with pytest.raises(ValueError, match="unknown backend 'tensorrt'; choose from torch, torch-bf16, onnx"):
        Extractor.from_pretrained(trained / "model", backend="tensorrt")
