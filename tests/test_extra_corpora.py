"""``data.extra_corpora``: config validation, mixed-batch loss masking, NEREL + factRuEval training through
``cli.main``, save/load/predict with the extra head, and its factRuEval evaluation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from diplomat_ie.config import ConfigError, load_config, run_config_from_dict

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT.parent / "shared" / "datasets"
BRAT = ROOT / "tests" / "fixtures" / "brat"

# (YAML value of data.extra_corpora, error text)
BAD = [
    ("[{split: dev}]", "data.extra_corpora[0].corpus: is required"),
    ("[{corpus: factrueval, head: Bad-Name}]", "data.extra_corpora[0].head: must be lowercase letters"),
    ("[{corpus: factrueval, layers: 0}]", "data.extra_corpora[0].layers: must be in 1..16, got 0"),
    ("[{corpus: factrueval, loss_weight: 0}]", "data.extra_corpora[0].loss_weight: must be > 0"),
    ("[{corpus: factrueval, max_docs: 0}]", "data.extra_corpora[0].max_docs: must be positive"),
    ("[{corpus: factrueval, types: []}]", "data.extra_corpora[0].types: needs at least one type"),
    ("[{corpus: factrueval, layers: two}]", "data.extra_corpora[0].layers: expected int, got 'two'"),
    ("[{corpus: factrueval, foo: 1}]", "data.extra_corpora[0]: unknown key(s) ['foo']"),
    ("[factrueval]", "data.extra_corpora[0]: expected a mapping, got 'factrueval'"),
    ("{corpus: factrueval}", "data.extra_corpora: expected a list of mappings"),
    ("[{corpus: a", "data.extra_corpora: not a YAML list"),
    ("[{corpus: a, head: x}, {corpus: b, head: x, layers: 3}]",
     "data.extra_corpora[1].layers: head 'x' is shared with data.extra_corpora[0], which sets layers 2, not 3"),
    ("[{corpus: a, head: x, types: [A]}, {corpus: b, head: x}]",
     "data.extra_corpora[1].types: head 'x' is shared with data.extra_corpora[0]"),
    ("[{corpus: news.jsonl, head: main, layers: 3}]",
     "data.extra_corpora[0].layers: does not apply to head 'main'"),
]


@pytest.mark.parametrize("value, message", BAD, ids=[b[1].split(":")[0] + f"-{i}" for i, b in enumerate(BAD)])
def test_bad_extra_corpora_name_the_key(value, message):
    with pytest.raises(ConfigError) as err:
        load_config("default", {"data.extra_corpora": value})
    assert message in str(err.value)


# (corpus, head given, head used)
HEADS = [
    ("factrueval", None, "factrueval"),
    ("factrueval-2016", None, "factrueval"),
    ("/data/my-news.jsonl", None, "my_news"),
    ("data/annotated_news/", None, "annotated_news"),
    ("hf:org/Diplo-News", None, "diplo_news"),
    ("2024news", None, "c_2024news"),
    ("factrueval", "fre", "fre"),
]


@pytest.mark.parametrize("corpus, head, expected", HEADS)
def test_default_head_names(corpus, head, expected):
    entry = {"corpus": corpus, **({"head": head} if head else {})}
    cfg = load_config("default", {"data.extra_corpora": json.dumps([entry])})
    assert cfg.data.extra_corpora[0].head == expected


def test_yaml_file_shape_and_round_trip(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("data:\n  extra_corpora:\n    - {corpus: factrueval, split: dev, head: factrueval}\n"
                    "    - corpus: news.jsonl\n      head: main\n", encoding="utf-8")
    cfg = load_config(path)
    a, b = cfg.data.extra_corpora
    assert (a.corpus, a.split, a.head, a.layers, a.types, a.loss_weight) == ("factrueval", "dev", "factrueval", 2,
                                                                             None, 1.0)
    assert (b.corpus, b.split, b.head) == ("news.jsonl", "train", "main")
    assert cfg.is_given("data.extra_corpora") and not load_config("default").data.extra_corpora
    assert run_config_from_dict(cfg.to_dict()).data.extra_corpora == cfg.data.extra_corpora


# ---------------------------------------------------------------- mixed batches


@pytest.fixture(scope="module")
def mixed_model(tiny_backbone):
    from diplomat_ie.modeling.configuration import DiplomatConfig
    from diplomat_ie.modeling.io import build_model

    torch.manual_seed(0)
    cfg = DiplomatConfig(entity_types=["PERSON", "CITY", "EVENT"], num_layers=3, roles=[], window_length=32,
                         overlap=8, backbone_name=str(tiny_backbone), dropout=0.0,
                         extra_heads={"fre": {"entity_types": ["Person", "Org"], "num_layers": 2,
                                              "loss_weight": 0.5}})
    model, _ = build_model(cfg)
    return model


def _window(n_words: int, layers: int, head: int | None, label: int) -> dict:
    ids = [2, *range(10, 10 + n_words), 3]
    f = {"input_ids": ids, "word_pos": list(range(1, n_words + 1)),
         "ner_labels": [[label] * n_words] + [[0] * n_words] * (layers - 1), "trig_spans": [], "role_labels": []}
    return f if head is None else dict(f, head=head)


def test_collate_pads_other_depths_and_keeps_the_head():
    from diplomat_ie.modeling.features import IGNORE, collate

    b = collate([_window(4, 3, 0, 1), _window(5, 2, 1, 3)], pad_id=0)
    assert b["head"].tolist() == [0, 1] and b["ner_labels"].shape == (2, 3, 5)
    assert b["ner_labels"][1, 2].tolist() == [IGNORE] * 5  # the extra head has 2 layers
    assert b["ner_labels"][0, :, 4].tolist() == [IGNORE] * 3  # padding word
    assert "head" not in collate([_window(4, 3, None, 1)], pad_id=0)


def _loss(model, windows):
    from diplomat_ie.modeling.features import collate

    model.zero_grad()
    out = model(**collate(windows, pad_id=0))
    out["loss"].backward()
    grads = {name: p.grad for name, p in model.heads.named_parameters() if name.startswith(("ner_head", "extra"))}
    return out["loss"].item(), grads


def test_each_window_trains_only_its_own_head(mixed_model):
    model = mixed_model.train()
    _, grads = _loss(model, [_window(4, 3, 0, 1), _window(6, 3, 0, 3)])
    assert grads["ner_head.weight"].abs().sum() > 0
    assert all(g is None or not g.any() for n, g in grads.items() if n.startswith("extra_ner."))
    _, grads = _loss(model, [_window(4, 2, 1, 1), _window(6, 2, 1, 3)])
    assert grads["extra_ner.fre.weight"].abs().sum() > 0
    assert grads["ner_head.weight"] is None or not grads["ner_head.weight"].any()


def test_mixed_loss_is_each_heads_loss_on_its_windows(mixed_model):
    model = mixed_model.eval()  # no dropout: the same words in every pass
    main = [_window(4, 3, 0, 1), _window(6, 3, 0, 3)]
    extra = [_window(5, 2, 1, 1), _window(3, 2, 1, 3)]
    mixed, _ = _loss(model, [main[0], extra[0], main[1], extra[1]])
    only_main, _ = _loss(model, main)
    only_extra, _ = _loss(model, extra)
    assert mixed == pytest.approx(only_main + only_extra, rel=1e-5)
    plain = [{k: v for k, v in w.items() if k != "head"} for w in main]
    assert _loss(model, plain)[0] == pytest.approx(only_main, rel=1e-6)  # no head column: the main loss
    relabelled = [dict(w, ner_labels=[[5] * len(w["word_pos"])] * 3) for w in main]
    changed, _ = _loss(model, [relabelled[0], extra[0], relabelled[1], extra[1]])
    assert changed - _loss(model, relabelled)[0] == pytest.approx(only_extra, rel=1e-5)


# ---------------------------------------------------------------- NEREL + factRuEval end to end


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_backbone):
    from diplomat_ie.cli import main

    tmp = tmp_path_factory.mktemp("extra")
    mp = pytest.MonkeyPatch()
    mp.chdir(tmp)
    extra = "[{corpus: factrueval, split: dev, head: factrueval, max_docs: 2, loss_weight: 2.0}]"
    rc = main(["train", "--config", "default", "--name", "mixed", "--data.root", str(DATASETS),
               "--data.corpus", "nerel", "--data.max_train_docs", "2", "--data.max_eval_docs", "1",
               "--data.extra_corpora", extra, "--model.backbone", str(tiny_backbone), "--model.word_vectors", "null",
               "--model.max_length", "64", "--model.overlap", "8", "--training.max_steps", "4",
               "--training.batch_size", "8", "--training.eval_every", "4", "--training.threads", "1",
               "--training.output_dir", str(tmp / "model")])
    assert rc == 0
    yield tmp
    mp.undo()


def test_saved_model_has_the_extra_head_and_its_labels(trained):
    from safetensors import safe_open

    cfg = json.loads((trained / "model" / "config.json").read_text(encoding="utf-8"))
    head = cfg["extra_heads"]["factrueval"]
    assert head["num_layers"] == 2 and head["loss_weight"] == 2.0
    assert set(head["entity_types"]) <= {"Person", "Org", "Location", "LocOrg", "Facility", "Project"}
    assert {"Person", "Org"} <= set(head["entity_types"]) and "PERSON" in cfg["entity_types"]
    with safe_open(str(trained / "model" / "model.safetensors"), framework="pt") as f:
        shape = f.get_slice("heads.extra_ner.factrueval.weight").get_shape()
    assert shape == [2 * (1 + 2 * len(head["entity_types"])), 32]
    summary = json.loads((trained / "runs/mixed/train_summary.json").read_text(encoding="utf-8"))
    (info,) = summary["extra_corpora"]
    assert (info["corpus"], info["split"], info["head"], info["docs"]) == ("factrueval", "dev", "factrueval", 2)
    assert summary["train_docs"] == 2 and summary["train_windows"] > info["windows"] > 0
    card = (trained / "model" / "README.md").read_text(encoding="utf-8")
    assert "| extra NER heads | `data.extra_corpora` | factrueval (" in card


def test_extractor_with_the_extra_head(trained):
    from diplomat_ie import Extractor
    from diplomat_ie.data.corpora import load_docs

    text = load_docs("factrueval", "test", root=DATASETS)[0].text
    main_head = Extractor.from_pretrained(trained / "model")(text).to_dict()
    ex = Extractor.from_pretrained(trained / "model", head="factrueval")
    own = ex(text).to_dict()
    assert set(own) == set(main_head) == {"text", "entities", "events"} and own["events"] == []
    types = set(json.loads((trained / "model" / "config.json").read_text())["extra_heads"]["factrueval"]
                ["entity_types"])
    for e in own["entities"]:
        assert e["type"] in types and text[e["start"] : e["end"]] == e["text"]
    for e in main_head["entities"]:
        assert e["type"] not in types
    # the head predicts what its logits say: force B-Person everywhere on layer 0
    ner = ex.model.heads.extra_ner["factrueval"]
    labels = ex.model.config.extra_ner_labels("factrueval")
    with torch.no_grad():
        ner.bias[labels.index("B-Person")] += 100.0
    forced = {(e.start, e.end) for e in ex(text).entities if e.type == "Person"}
    assert all((w.start, w.end) in forced for w in ex.predictor.encode(text).words)  # B-Person on every word
    with pytest.raises(ValueError, match=r"no NER head 'nerel' \(extra heads: factrueval\)"):
        Extractor.from_pretrained(trained / "model", head="nerel")


def test_factrueval_evaluation_reports_both_heads(trained):
    from diplomat_ie.evaluation.report import comparison_rows, test_metrics_for_card
    from diplomat_ie.evaluation.run import run_evaluation

    out = run_evaluation(trained / "model", "factrueval", "test", root=DATASETS, max_docs=2,
                         output=trained / "eval")
    assert out["own_head"]["head"] == "factrueval" and out["own_head"]["documents"] == 2
    assert set(out["own_head"]["metrics"]["per_org_loc"]["micro"]) >= {"precision", "recall", "f1"}
    assert "per_org_loc_f1" in out["headline"] and "per_org_loc_f1" in out["own_head"]["headline"]
    assert "own_head_s" in out["timings"]
    report = (trained / "eval" / "report.md").read_text(encoding="utf-8")
    assert "## Own `factrueval` head" in report
    rows = comparison_rows([out], natasha=False, docs_for=None)
    assert [r["system"] for r in rows[:2]] == ["diplomat-ie", "diplomat-ie (factrueval head)"]
    assert "factrueval-test factrueval head per_org_loc_f1" in test_metrics_for_card([out])
    nerel = run_evaluation(trained / "model", "nerel", "dev", root=DATASETS, max_docs=1, output=trained / "ev2")
    assert "own_head" not in nerel


def test_init_from_keeps_the_heads_and_refuses_other_ones(trained, capsys):
    from diplomat_ie.cli import main

    base = ["train", "--config", "continue", "--data.root", str(DATASETS), "--data.max_train_docs", "1",
            "--data.max_eval_docs", "1", "--model.init_from", str(trained / "model"), "--training.max_steps", "1",
            "--training.batch_size", "8", "--training.threads", "1"]
    same = "[{corpus: factrueval, split: test, head: factrueval, max_docs: 1, loss_weight: 0.5}]"
    assert main([*base, "--name", "more", "--data.extra_corpora", same,
                 "--training.output_dir", str(trained / "more")]) == 0
    saved = json.loads((trained / "more" / "config.json").read_text())["extra_heads"]["factrueval"]
    first = json.loads((trained / "model" / "config.json").read_text())["extra_heads"]["factrueval"]
    assert saved == dict(first, loss_weight=0.5)  # a loss weight is applied, the labels stay
    other = "[{corpus: factrueval, split: test, head: fre, max_docs: 1}]"
    assert main([*base, "--name", "other", "--data.extra_corpora", other,
                 "--training.output_dir", str(trained / "other")]) == 2
    err = capsys.readouterr().err
    assert f"data.extra_corpora: {trained / 'model'} was trained with" in err
    assert "architecture settings cannot change" in err


def test_predict_cli_with_the_extra_head(trained, tmp_path, capsys):
    from diplomat_ie.cli import main

    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"id": "a", "text": "Посол Германии в Москве встретился с Лавровым."},
                              ensure_ascii=False) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    assert main(["predict", "--model", str(trained / "model"), "--input", str(src), "--output", str(out),
                 "--head", "factrueval", "--no-progress"]) == 0
    (row,) = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert row["id"] == "a" and row["events"] == [] and set(row) >= {"text", "entities", "events"}
    assert main(["predict", "--model", str(trained / "model"), "--input", str(src), "--output",
                 str(tmp_path / "x.jsonl"), "--head", "nope", "--no-progress"]) == 2
    assert "--head: this model has no NER head 'nope' (extra heads: factrueval)" in capsys.readouterr().err


def test_unreadable_corpus_and_reserved_head_names_are_config_errors(tiny_backbone):
    from diplomat_ie.modeling.configuration import DiplomatConfig
    from diplomat_ie.modeling.io import build_model
    from diplomat_ie.training.extra import load_extra_corpora

    cfg = load_config("default", {"data.root": str(DATASETS), "data.extra_corpora": "[{corpus: factrueval}]"})
    with pytest.raises(ConfigError, match=r"data.extra_corpora\[0\]: corpus factrueval has no split 'train'"):
        load_extra_corpora(cfg)
    bad = DiplomatConfig(entity_types=["PERSON"], backbone_name=str(tiny_backbone), window_length=32, overlap=8,
                         extra_heads={"values": {"entity_types": ["Person"], "num_layers": 1}})
    with pytest.raises(ConfigError, match=r"head name\(s\) \['values'\] are reserved"):
        build_model(bad)


# ---------------------------------------------------------------- with the span head and the pair role head


@pytest.fixture(scope="module")
def span_mixed_model(tiny_backbone):
    from diplomat_ie.modeling.configuration import DiplomatConfig
    from diplomat_ie.modeling.io import build_model

    torch.manual_seed(0)
    cfg = DiplomatConfig(entity_types=["PERSON", "CITY", "EVENT"], num_layers=3, roles=[], window_length=32,
                         overlap=8, backbone_name=str(tiny_backbone), dropout=0.0, ner_head="span",
                         max_span_width=3, extra_heads={"fre": {"entity_types": ["Person", "Org"], "num_layers": 2,
                                                                "loss_weight": 1.0}})
    model, _ = build_model(cfg)
    return model


def _span_window(n_words: int, cls: int) -> dict:
    """A window of the span main head: no ner_labels, a span grid with one entity of class ``cls``."""
    grid = [[0, 0, 0] for _ in range(n_words)]
    grid[0][1] = cls
    return dict(_window(n_words, 1, 0, 0), ner_labels=[], span_labels=grid)


def test_span_main_head_and_extra_head_in_one_batch(span_mixed_model):
    from diplomat_ie.modeling.features import IGNORE, collate

    model = span_mixed_model.eval()
    main, extra = [_span_window(4, 1), _span_window(6, 2)], [_window(5, 2, 1, 1), _window(3, 2, 1, 3)]
    b = collate([main[0], extra[0], main[1], extra[1]], pad_id=0)
    assert b["span_labels"].shape == (4, 6, 3) and (b["span_labels"][1] == IGNORE).all()
    assert b["ner_labels"].shape == (4, 2, 6) and (b["ner_labels"][0] == IGNORE).all()
    mixed, grads = _loss(model, [main[0], extra[0], main[1], extra[1]])
    assert grads["extra_ner.fre.weight"].abs().sum() > 0
    only_main, grads = _loss(model, main)
    assert grads["extra_ner.fre.weight"] is None or not grads["extra_ner.fre.weight"].any()
    only_extra, grads = _loss(model, extra)
    assert all(g is None or not g.any() for n, g in grads.items() if n.startswith("ner_head"))
    assert mixed == pytest.approx(only_main + only_extra, rel=1e-5)


@pytest.fixture(scope="module")
def span_pair_extra(tmp_path_factory, tiny_backbone, tiny_navec) -> Path:
    """A tiny model with span NER head, pair role head, an extra NER head and word features (vectors and
    lexicon: the extra corpus's windows carry them too); ONNX-exported."""
    from safetensors.torch import load_file, save_file

    from diplomat_ie import train
    from diplomat_ie.cli import main

    tmp = tmp_path_factory.mktemp("span_pair_extra")
    mp = pytest.MonkeyPatch()
    mp.chdir(tmp)
    try:
        train(load_config("default", {
            "data.corpus": str(BRAT), "model.backbone": str(tiny_backbone), "name": "all3",
            "training.output_dir": str(tmp / "model"), "training.max_steps": "2", "training.batch_size": "4",
            "model.max_length": "32", "model.overlap": "8", "training.report_dir": str(tmp / "report"),
            "training.threads": "1", "model.ner_head": "span", "model.max_span_width": "4", "roles.head": "pair",
            "model.word_vectors": str(tiny_navec), "model.word_lexicon": "morph",
            "data.extra_corpora": f"[{{corpus: {BRAT / 'dev'}, head: own, types: [PERSON, CITY, COUNTRY]}}]"}))
    finally:
        mp.undo()
    state = load_file(str(tmp / "model" / "model.safetensors"))
    state["heads.extra_ner.own.bias"][1] += 2.0  # B-PERSON of layer 0: the head finds entities
    save_file(state, str(tmp / "model" / "model.safetensors"), metadata={"format": "pt"})
    assert main(["export", "onnx", "--model", str(tmp / "model")]) == 0
    return tmp / "model"


def test_span_pair_and_extra_heads_train_save_and_predict(span_pair_extra):
    from diplomat_ie import Extractor

    cfg = json.loads((span_pair_extra / "config.json").read_text(encoding="utf-8"))
    assert (cfg["ner_head"], cfg["role_head"]) == ("span", "pair") and set(cfg["extra_heads"]) == {"own"}
    assert cfg["word_vectors"] and cfg["word_lexicon"] == ["morph"]
    text = "Посол Германии в Москве встретился с Лавровым. Саммит ШОС прошёл в Пекине."
    main_head = Extractor.from_pretrained(span_pair_extra)(text).to_dict()
    own = Extractor.from_pretrained(span_pair_extra, head="own")(text).to_dict()
    assert set(own) == set(main_head) == {"text", "entities", "events"} and own["events"] == []
    assert own["entities"] and {e["type"] for e in own["entities"]} <= {"PERSON", "CITY", "COUNTRY"}
    for e in own["entities"] + main_head["entities"]:
        assert text[e["start"] : e["end"]] == e["text"]
    for backend_head in (None, "own"):  # both runtimes agree, with either head
        ref = Extractor.from_pretrained(span_pair_extra, head=backend_head)(text).to_dict()
        got = Extractor.from_pretrained(span_pair_extra, backend="onnx", head=backend_head)(text).to_dict()
        assert [(e["start"], e["end"], e["type"]) for e in got["entities"]] == \
            [(e["start"], e["end"], e["type"]) for e in ref["entities"]]
        assert len(got["events"]) == len(ref["events"])
