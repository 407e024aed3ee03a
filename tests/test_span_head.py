"""The span NER head (``model.ner_head: span``) end to end on the tiny BERT: gold span labels, a short
training run through ``cli.main``, save / load, prediction with the role head on top of span entities."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from diplomat_ie import Extractor
from diplomat_ie.cli import main
from diplomat_ie.data import read_brat_dir
from diplomat_ie.data.document import Document, Entity, Span
from diplomat_ie.modeling.configuration import DiplomatConfig
from diplomat_ie.modeling.encoding import encode_document
from diplomat_ie.modeling.features import IGNORE, FeatureStats, collate, window_features
from diplomat_ie.modeling.io import load_heads, load_model_dir, load_tokenizer, save_model_dir
from diplomat_ie.modeling.predict import Predictor, _events_on_entities
from diplomat_ie.modeling.predictions import EventPred, SpanPred

TEXT = "Министр иностранных дел России Сергей Лавров посетил Париж."
TYPES = ["COUNTRY", "EVENT", "ORGANIZATION", "PERSON", "PROFESSION"]


def _ent(eid: str, typ: str, frag: str) -> Entity:
    start = TEXT.index(frag)
    return Entity(eid, typ, [Span(start, start + len(frag))], frag)


def _doc() -> Document:
    return Document("d", TEXT, [_ent("T1", "PROFESSION", "Министр иностранных дел России"),
                                _ent("T2", "ORGANIZATION", "иностранных дел России"),
                                _ent("T3", "COUNTRY", "России"), _ent("T4", "PERSON", "Сергей Лавров"),
                                _ent("T5", "EVENT", "посетил")])


def test_span_labels_of_a_window(tiny_backbone):
    tok = load_tokenizer(tiny_backbone)
    cfg = DiplomatConfig(entity_types=TYPES, ner_head="span", max_span_width=3, window_length=64, roles=[])
    enc = encode_document(TEXT, tok, cfg.window_length, cfg.overlap)
    stats = FeatureStats()
    (feat,) = window_features(_doc(), enc, cfg, stats)
    grid = feat["span_labels"]
    assert feat["ner_labels"] == [] and len(grid) == len(enc.words) and len(grid[0]) == 3
    cls = {t: i for i, t in enumerate(cfg.span_labels)}
    assert cfg.span_labels[0] == "none"
    assert grid[1][2] == cls["ORGANIZATION"] and grid[3][0] == cls["COUNTRY"] and grid[4][1] == cls["PERSON"]
    assert grid[6][0] == cls["EVENT"] and grid[0][0] == 0  # «Министр» alone: no entity
    # the 4-word profession does not fit 3 words: not labelled, counted
    assert stats.counts["entities_beyond_span_width"] == 1 and sum(v > 0 for row in grid for v in row) == 4
    assert grid[-1][1] == IGNORE and grid[-2][2] == IGNORE  # past the last word
    batch = collate([feat, feat], pad_id=0)
    assert batch["span_labels"].shape == (2, len(enc.words), 3) and "ner_labels" not in batch
    assert batch["span_labels"][1].tolist() == grid


def test_layered_features_are_unchanged_but_for_an_empty_span_column(tiny_backbone):
    tok = load_tokenizer(tiny_backbone)
    cfg = DiplomatConfig(entity_types=TYPES, window_length=64, roles=[])
    enc = encode_document(TEXT, tok, cfg.window_length, cfg.overlap)
    (feat,) = window_features(_doc(), enc, cfg)
    assert feat["span_labels"] == [] and len(feat["ner_labels"]) == cfg.num_layers
    assert "span_labels" not in collate([feat], pad_id=0)


@pytest.fixture(scope="module")
def span_model(tmp_path_factory, tiny_backbone, brat_dir) -> Path:
    tmp = tmp_path_factory.mktemp("span")
    mp = pytest.MonkeyPatch()
    mp.chdir(tmp)  # runs/ and reports/ land in tmp
    rc = main(["train", "--config", "default", "--name", "span", "--data.corpus", str(brat_dir),
               "--model.backbone", str(tiny_backbone), "--model.word_vectors", "null", "--model.max_length", "32", "--model.overlap", "8",
               "--model.ner_head", "span", "--model.max_span_width", "4", "--model.span_none_weight", "0.5",
               "--training.max_steps", "2", "--training.eval_every", "1", "--training.batch_size", "2",
               "--data.dev_split", "train", "--data.max_eval_docs", "2", "--model.freeze_word_embeddings", "false",
               "--training.output_dir", str(tmp / "model"), "--training.threads", "1"])
    mp.undo()
    assert rc == 0
    return tmp / "model"


def test_saved_span_model(span_model):
    cfg = json.loads((span_model / "config.json").read_text())
    assert (cfg["ner_head"], cfg["max_span_width"], cfg["span_none_weight"]) == ("span", 4, 0.5)
    from safetensors import safe_open

    with safe_open(str(span_model / "model.safetensors"), "pt") as f:
        keys = set(f.keys())
    assert {"heads.ner_head.start.weight", "heads.ner_head.width.weight", "heads.ner_head.out.bias"} <= keys
    assert "heads.ner_head.weight" not in keys and any(k.startswith("heads.role_head.") for k in keys)
    card = (span_model / "README.md").read_text()
    assert "span classifier over spans of up to 4 words" in card
    assert "| NER head | `model.ner_head` | span |" in card and "Entities longer than 4 words" in card
    summary = json.loads((span_model.parent / "runs/span/train_summary.json").read_text())
    assert summary["best_dev"]["eval_nested_f1"] >= 0  # the dev scorer ran on span-head predictions


def test_span_and_role_losses_both_train(span_model, brat_dir):
    model, tok = load_model_dir(span_model)
    model.train()
    doc = read_brat_dir(brat_dir / "train")[0]
    enc = encode_document(doc.text, tok, model.config.window_length, model.config.overlap)
    batch = collate(window_features(doc, enc, model.config), tok.pad_token_id)
    assert (batch["span_labels"] > 0).any() and (batch["role_labels"] > 0).any()
    out = model(**batch)
    assert out["span_logits"].shape[2:] == (4, 1 + len(model.config.entity_types)) and "ner_logits" not in out
    out["loss"].backward()
    assert model.heads.ner_head.out.weight.grad.abs().sum() > 0
    assert model.role_head is not None and model.role_head.out.weight.grad.abs().sum() > 0


def test_save_load_round_trip(span_model, tmp_path):
    model, tok = load_model_dir(span_model)
    model.eval()
    copy = save_model_dir(model, tok, tmp_path / "copy")
    again, _ = load_model_dir(copy)
    again.eval()
    ids = torch.tensor([[2, 10, 11, 12, 13, 3]])
    args = (ids, torch.ones_like(ids), torch.tensor([[1, 2, 3, 4]]))
    with torch.inference_mode():
        words, _ = model.window_states(*args)
        ref = model.heads.ner_logits(words)
        assert torch.equal(again.heads.ner_logits(again.window_states(*args)[0]), ref)
        assert torch.equal(load_heads(span_model).ner_logits(words), ref)  # the ONNX backend's heads
    assert ref.shape == (1, 4, 4 * (1 + len(model.config.entity_types)))


def force_events(model_dir: Path, out: Path) -> Path:
    """A copy whose span head leans towards EVENT spans and whose role head towards agents: two training
    steps teach nothing, this gives the decoder and the role head something to work on."""
    from safetensors.torch import load_file, save_file

    shutil.copytree(model_dir, out)
    cfg = json.loads((out / "config.json").read_text())
    state = load_file(str(out / "model.safetensors"))
    state["heads.ner_head.out.bias"][1 + cfg["entity_types"].index("EVENT")] += 3.0
    state["heads.role_head.out.bias"][1 + 2 * cfg["roles"].index("agent")] += 4.0
    save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})
    return out


def _crossing(a, b) -> bool:
    return a.start < b.end and b.start < a.end and not (a.start <= b.start and b.end <= a.end) \
        and not (b.start <= a.start and a.end <= b.end)


# (trigger (lo, hi, type, origin), entities (lo, hi, type), event kept)
SURVIVING = [
    ((2, 4, "EVENT", "model"), [(2, 4, "EVENT")], True),
    ((2, 4, "EVENT", "model"), [(3, 5, "EVENT")], False),  # dropped by the document decode (it crossed)
    ((2, 4, "EVENT", "model"), [(2, 4, "PERSON")], False),  # same span, another type
    ((2, 3, "EVENT", "lexicon"), [], True),  # lexicon triggers are no entities by design
]


@pytest.mark.parametrize("trigger, entities, kept", SURVIVING)
def test_events_keep_only_triggers_that_are_decoded_entities(trigger, entities, kept):
    lo, hi, typ, origin = trigger
    ev = EventPred(trigger=SpanPred(lo, hi, typ, 0.9, origin))
    ents = [SpanPred(a, b, t, 0.8) for a, b, t in entities]
    assert _events_on_entities([ev], ents) == ([ev] if kept else [])


def test_extractor_on_span_entities_with_events(span_model, brat_dir, tmp_path):
    ex = Extractor.from_pretrained(force_events(span_model, tmp_path / "forced"))
    texts = [d.text for d in read_brat_dir(brat_dir / "train")] + ["Саммит ШОС. " * 30]
    results = ex(texts)
    assert sum(len(r.entities) for r in results) > 0 and sum(len(r.events) for r in results) > 0
    for text, r in zip(texts, results, strict=True):
        d = r.to_dict()
        assert set(d) >= {"text", "entities", "events"}
        for e in d["entities"]:
            assert set(e) >= {"id", "type", "start", "end", "text", "score"}
            assert text[e["start"] : e["end"]] == e["text"] and 0 <= e["score"] <= 1
        assert not any(_crossing(a, b) for a in r.entities for b in r.entities)
        spans = {(e.start, e.end, e.type) for e in r.entities}
        for ev in d["events"]:  # triggers are the span head's EVENT entities
            t = ev["trigger"]
            assert (t["start"], t["end"], "EVENT") in spans
            assert all(text[a["start"] : a["end"]] == a["text"] for a in ev["arguments"])
    assert sum(len(ev.arguments) for r in results for ev in r.events) > 0


def test_span_predictions_do_not_depend_on_batching(span_model, tmp_path):
    ex = Extractor.from_pretrained(force_events(span_model, tmp_path / "forced"))
    texts = ["Короткий текст о визите.", "Министр иностранных дел России Сергей Лавров прибыл в Минск. " * 8,
             "Переговоры прошли в Пекине 3 марта 2024 года."]

    def run(**kw):
        preds = Predictor(ex.model, ex.tokenizer, **kw).predict(texts)
        return [[(s.lo, s.hi, s.type, round(s.score, 4)) for s in p.entities] for p in preds], \
            [[(e.trigger.lo, [(a.lo, a.hi, a.type) for a in e.arguments]) for e in p.events] for p in preds]

    ref = run(batch_size=1)
    assert len(ref[0][1]) > 3  # the long text spans several windows
    assert run(batch_size=32, max_padding=None) == ref
    preds = Predictor(ex.model, ex.tokenizer).predict(texts)
    k = ex.model.config.num_layers
    assert all(len(p.layer_tags) == k and len(p.layer_tags[0]) == len(p.enc.words) for p in preds)
