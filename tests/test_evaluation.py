"""Evaluation: outermost/coarse spans, run_evaluation's files on the fixtures, error records, Natasha."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import pytest

from diplomat_ie.cli import main
from diplomat_ie.config import load_config
from diplomat_ie.data import read_brat_dir
from diplomat_ie.data.corpora import FACTRUEVAL_TO_COARSE, NEREL_TO_COARSE, NEREL_TO_FACTRUEVAL
from diplomat_ie.data.document import Document, Entity, Span
from diplomat_ie.data.roles import ROLES
from diplomat_ie.data.subset import is_diplomatic
from diplomat_ie.evaluation import baselines
from diplomat_ie.evaluation.evaluate import (
    Predictions,
    coarse,
    gold_role_set,
    headline,
    outermost,
    score_predictions,
)
from diplomat_ie.evaluation.run import CONTEXT_CHARS, _diagnose, coarse_scores, corpus_scheme, run_evaluation

ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------- outermost / coarse (table-driven)

@pytest.mark.parametrize("items, expected", [
    (set(), set()),
    ({(0, 5, "A")}, {(0, 5, "A")}),
    ({(0, 10, "A"), (2, 5, "B")}, {(0, 10, "A")}),  # strictly inside: dropped
    ({(0, 10, "A"), (0, 5, "B")}, {(0, 10, "A")}),  # shares the start: still inside
    ({(0, 10, "A"), (5, 10, "B")}, {(0, 10, "A")}),  # shares the end: still inside
    ({(0, 5, "A"), (0, 5, "B")}, {(0, 5, "A"), (0, 5, "B")}),  # same span, two types: both kept
    ({(0, 6, "A"), (4, 10, "B")}, {(0, 6, "A"), (4, 10, "B")}),  # crossing: both kept
    ({(0, 20, "A"), (2, 10, "B"), (3, 5, "C")}, {(0, 20, "A")}),  # two levels deep
    ({(0, 5, "A"), (6, 9, "B")}, {(0, 5, "A"), (6, 9, "B")}),  # disjoint
])
def test_outermost(items, expected):
    assert outermost(items) == expected


@pytest.mark.parametrize("items, mapping, expected", [
    # "Премьер-министр Японии": an unmapped PROFESSION does not hide the COUNTRY inside it
    ({(0, 22, "PROFESSION"), (16, 22, "COUNTRY")}, NEREL_TO_COARSE, {(16, 22, "LOC")}),
    # "Правительство Москвы": the city inside an ORGANIZATION is not outermost
    ({(0, 20, "ORGANIZATION"), (14, 20, "CITY")}, NEREL_TO_COARSE, {(0, 20, "ORG")}),
    # "Саммит ЕС": an ORGANIZATION inside an EVENT is kept
    ({(0, 9, "EVENT"), (7, 9, "ORGANIZATION")}, NEREL_TO_COARSE, {(7, 9, "ORG")}),
    ({(0, 5, "PERSON"), (6, 9, "DATE")}, NEREL_TO_COARSE, {(0, 5, "PER")}),
    ({(0, 5, "STATE_OR_PROVINCE"), (6, 9, "DISTRICT")}, NEREL_TO_COARSE, {(0, 5, "LOC"), (6, 9, "LOC")}),
    ({(0, 10, "Org"), (5, 10, "Location"), (11, 15, "Person")}, FACTRUEVAL_TO_COARSE,
     {(0, 10, "ORG"), (11, 15, "PER")}),
    ({(0, 6, "LocOrg"), (7, 9, "Facility"), (10, 12, "Project")}, FACTRUEVAL_TO_COARSE, {(0, 6, "LOC")}),
    ({(0, 5, "Person")}, NEREL_TO_COARSE, set()),  # nothing mapped
    # "Вашингтонский аэропорт": NEREL's own PER/ORG/LOC leaves a FACILITY out, the CITY inside stays...
    ({(0, 22, "FACILITY"), (0, 13, "CITY")}, NEREL_TO_COARSE, {(0, 13, "LOC")}),
    # ...while against factRuEval (whose Location covers facilities) the FACILITY is the outermost LOC
    ({(0, 22, "FACILITY"), (0, 13, "CITY")}, NEREL_TO_FACTRUEVAL, {(0, 22, "LOC")}),
    ({(0, 5, "PRODUCT"), (6, 9, "NATIONALITY")}, NEREL_TO_FACTRUEVAL, set()),
])
def test_coarse(items, mapping, expected):
    assert coarse(items, mapping) == expected


class _StubPred:
    """What ``coarse_scores`` reads of a ``DocPred``: entities with a character span."""

    def __init__(self, items):
        self.entities = [SimpleNamespace(span=(a, b), type=t) for a, b, t in items]

    def char_span(self, s):
        return s.span


@pytest.mark.parametrize("mapping, tp, fp, fn", [
    (None, 2, 0, 0),  # the default: NEREL_TO_FACTRUEVAL, so the predicted FACILITY matches the gold Location
    (NEREL_TO_FACTRUEVAL, 2, 0, 0),
    (NEREL_TO_COARSE, 1, 0, 1),  # FACILITY unmapped: the gold Location is missed
])
def test_coarse_scores_factrueval_mapping(mapping, tp, fp, fn):
    text = "Иван Петров прилетел в аэропорт Внуково."
    gold = Document("d", text, entities=[Entity("T1", "Person", [Span(0, 11)], "Иван Петров"),
                                         Entity("T2", "Location", [Span(23, 39)], "аэропорт Внуково")])
    pred = _StubPred([(0, 11, "PERSON"), (23, 39, "FACILITY")])
    kwargs = {} if mapping is None else {"pred_mapping": mapping}
    out = coarse_scores([gold], [pred], **kwargs)
    micro = out["per_org_loc"]["micro"]
    assert (micro["tp"], micro["fp"], micro["fn"]) == (tp, fp, fn)
    assert out["pred_mapping"] == (mapping or NEREL_TO_FACTRUEVAL)


@pytest.mark.parametrize("item, others, missed, why", [
    ((0, 5, "PER"), {(0, 5, "ORG")}, False, "wrong_type"),
    ((0, 5, "PER"), {(0, 7, "PER")}, True, "boundary"),
    ((0, 5, "PER"), {(3, 9, "ORG")}, False, "spurious"),
    ((0, 5, "PER"), set(), True, "missed"),
])
def test_error_diagnosis(item, others, missed, why):
    assert _diagnose(item, others, missed) == why


def _pred_doc(keys):
    from types import SimpleNamespace

    return SimpleNamespace(entities=[SimpleNamespace(key=lambda k=k: k) for k in keys])


def test_headline_has_event_and_inner_entity_f1(monkeypatch):
    from diplomat_ie.evaluation import evaluate as E

    gold = [[(0, 20, "EVENT"), (5, 10, "PERSON"), (12, 18, "CITY")]]  # PERSON and CITY are inner
    pred = [[(0, 20, "EVENT"), (5, 10, "PERSON"), (30, 34, "CITY")]]  # one inner hit; CITY outer and wrong
    monkeypatch.setattr(E, "entity_sets", lambda x: set(x))
    p = Predictions(docs=[_pred_doc(g) for g in gold], e2e=pred, gold_trig=None)
    metrics = score_predictions(p, None, with_layers=False)
    inner = metrics["inner"]["micro"]
    assert (inner["tp"], inner["fp"], inner["fn"]) == (1, 0, 1)
    head = headline(metrics)
    assert head["event_f1"] == 100.0 and head["inner_f1"] == pytest.approx(200 / 3)
    assert list(head)[:5] == ["nested_f1", "nested_macro_f1", "per_org_loc_f1", "event_f1", "inner_f1"]


def test_corpus_scheme(brat_dir):
    assert corpus_scheme("factrueval", []) == "factrueval"
    assert corpus_scheme("nerel", []) == "nerel"
    assert corpus_scheme(str(brat_dir), read_brat_dir(brat_dir / "test")) == "nerel"


# ---------------------------------------------------------------- run_evaluation on the fixtures

@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory, tiny_backbone, brat_dir):
    from diplomat_ie import train
    from diplomat_ie.config import load_config

    tmp = tmp_path_factory.mktemp("evalmodel")
    mp = pytest.MonkeyPatch()
    mp.chdir(tmp)  # runs/ lands in tmp
    try:
        cfg = load_config("default", {
            "name": "tiny", "data.corpus": str(brat_dir), "model.backbone": str(tiny_backbone), "model.word_vectors": "null",
            "model.max_length": "32", "model.overlap": "8", "training.epochs": "1",
            "training.batch_size": "2", "training.output_dir": str(tmp / "model"),
            "model.type_biases": ""})  # the decoding tests below take "none" to be this model's own biases
        train(cfg)
    finally:
        mp.undo()
    return tmp / "model"


def _walk_scores(obj, path=""):
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k in ("precision", "recall", "f1") or k.endswith("_f1"):
                yield f"{path}.{k}", v
            else:
                yield from _walk_scores(v, f"{path}.{k}")


@pytest.fixture(scope="module")
def evaluated(tiny_model, brat_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("evalout") / "report"
    result = run_evaluation(tiny_model, corpus=str(brat_dir), split="test", output=out, batch_size=4)
    return result, out


def test_run_evaluation_writes_files_with_expected_keys(evaluated):
    result, out = evaluated
    assert result["output"] == str(out)
    assert {p.name for p in out.iterdir()} >= {"metrics.json", "report.md", "errors.jsonl"}
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert set(metrics) >= {"model", "corpus", "split", "scheme", "documents", "windows", "headline", "metrics",
                            "diplomatic", "timings", "errors"}
    assert metrics["scheme"] == "nerel" and metrics["documents"] == 2
    assert set(metrics["headline"]) == {"nested_f1", "nested_macro_f1", "per_org_loc_f1", "event_f1", "inner_f1",
                                        "roles_gold_f1", "roles_e2e_f1", "roles_gold_ent_f1"}
    assert set(metrics["metrics"]) >= {"nested", "per_org_loc", "layers", "roles_gold_triggers",
                                       "roles_end_to_end", "roles_gold_entities"}
    assert set(metrics["diplomatic"]) == {"documents", "headline", "metrics"}
    assert set(metrics["timings"]) >= {"load_model_s", "predict_s", "score_s", "total_s"}
    scores = list(_walk_scores(metrics))
    assert len(scores) > 20 and all(0.0 <= v <= 100.0 for _, v in scores), scores
    report = (out / "report.md").read_text(encoding="utf-8")
    for heading in ("## Headline", "Nested NER, per type", "PER/ORG/LOC", "gold triggers", "end to end",
                    "gold triggers and gold entities", "Per-layer BIO", "diplomatic subset", "## Errors"):
        assert heading in report


def test_supports_equal_gold_counts(evaluated, brat_dir):
    result, _ = evaluated
    docs = read_brat_dir(brat_dir / "test")
    m = result["metrics"]
    gold = [{e.key() for e in d.entities} for d in docs]
    per_type = Counter(t for g in gold for _, _, t in g)
    assert m["nested"]["micro"]["support"] == sum(per_type.values())
    assert {t: v["support"] for t, v in m["nested"]["per_type"].items() if v["support"]} == dict(per_type)
    assert m["per_org_loc"]["micro"]["support"] == sum(len(coarse(g)) for g in gold)
    roles = sum(len(gold_role_set(d, ["EVENT"])) for d in docs)
    assert m["roles_gold_triggers"]["micro"]["support"] == m["roles_end_to_end"]["micro"]["support"] == roles
    assert m["roles_gold_entities"]["micro"]["support"] == roles
    assert result["diplomatic"]["documents"] == sum(is_diplomatic(d) for d in docs)
    layer0 = m["layers"]["layer_0"]["micro avg"]["support"]
    assert 0 < layer0 <= m["nested"]["micro"]["support"]


def test_errors_match_counts_and_carry_context(evaluated, brat_dir):
    result, out = evaluated
    docs = {d.id: d for d in read_brat_dir(brat_dir / "test")}
    errors = [json.loads(line) for line in (out / "errors.jsonl").read_text(encoding="utf-8").splitlines()]
    ents = [e for e in errors if e["kind"] == "entity"]
    nested = result["metrics"]["nested"]["micro"]
    assert sum(e["error"] == "fp" for e in ents) == nested["fp"]
    assert sum(e["error"] == "fn" for e in ents) == nested["fn"]
    e2e = result["metrics"]["roles_end_to_end"]["micro"]
    roles = [e for e in errors if e["kind"] == "role" and e["setting"] == "end_to_end"]
    assert sum(e["error"] == "fn" for e in roles) == e2e["fn"]
    for e in errors:
        text = docs[e["doc"]].text
        assert text[e["start"]:e["end"]] == e["text"]
        assert e["left"] == text[max(0, e["start"] - CONTEXT_CHARS):e["start"]]
        assert e["right"] == text[e["end"]:e["end"] + CONTEXT_CHARS]
    assert sum(result["errors"].values()) == len(errors)


def test_max_docs_and_factrueval_scheme(tiny_model, tmp_path):
    corpus = tmp_path / "fre"
    (corpus / "test").mkdir(parents=True)
    text = "Правительство Москвы и Иван Петров посетили Берлин."
    (corpus / "test" / "a.txt").write_text(text, encoding="utf-8")
    (corpus / "test" / "a.ann").write_text(
        "T1\tOrg 0 20\tПравительство Москвы\nT2\tLocation 14 20\tМосквы\nT3\tPerson 23 34\tИван Петров\n"
        "T4\tLocOrg 44 50\tБерлин\n", encoding="utf-8")
    (corpus / "test" / "b.txt").write_text("Ничего.", encoding="utf-8")
    (corpus / "test" / "b.ann").write_text("", encoding="utf-8")
    result = run_evaluation(tiny_model, corpus=str(corpus), split="test", output=tmp_path / "out", max_docs=1)
    assert result["scheme"] == "factrueval" and result["documents"] == 1
    assert set(result["metrics"]) == {"documents", "per_org_loc", "pred_mapping"}
    assert result["metrics"]["pred_mapping"]["FACILITY"] == "LOC"
    assert result["metrics"]["per_org_loc"]["micro"]["support"] == 4  # whole objects: nested Москвы counts
    assert set(result["headline"]) == {"per_org_loc_f1", "per_org_loc_macro_f1"}
    report = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    assert "PER/ORG/LOC" in report and "Nested NER" not in report
    assert "Predicted types scored as:" in report and "FACILITY" in report


def test_cli_evaluate(tiny_model, brat_dir, tmp_path, capsys):
    rc = main(["evaluate", "--model", str(tiny_model), "--corpus", str(brat_dir), "--split", "test",
               "--output", str(tmp_path / "cli")])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "nested_f1" in printed and str(tmp_path / "cli") in printed
    assert (tmp_path / "cli" / "metrics.json").is_file()


# ---------------------------------------------------------------- Natasha baseline

def test_natasha_absent_returns_none(monkeypatch, brat_dir):
    monkeypatch.setattr(baselines, "natasha_available", lambda: False)
    assert baselines.natasha_scores(read_brat_dir(brat_dir / "test"), NEREL_TO_COARSE) is None


@pytest.mark.skipif(not baselines.natasha_available(), reason="natasha not installed")
def test_natasha_scores_with_the_same_scorer(brat_dir):
    docs = read_brat_dir(brat_dir / "test")
    out = baselines.natasha_scores(docs, NEREL_TO_COARSE)
    gold = sum(len(coarse({e.key() for e in d.entities})) for d in docs)
    assert out["documents"] == 2 and out["per_org_loc"]["micro"]["support"] == gold
    assert 0 <= out["f1"] <= 100 and out["version"]
    assert set(out["per_org_loc"]["per_type"]) <= {"PER", "ORG", "LOC"}
    spans = baselines.natasha_spans(docs[1].text)
    assert all(docs[1].text[a:b] for a, b, _ in spans)


def test_roles_are_also_scored_per_trigger_type():
    from types import SimpleNamespace

    from diplomat_ie.data.document import Document, Entity, Relation, Span
    from diplomat_ie.evaluation.evaluate import Predictions, score_predictions
    from diplomat_ie.modeling.predictions import EventPred, SpanPred

    def ent(i, typ, lo, hi):
        return Entity(id=i, type=typ, spans=[Span(lo, hi)], text="x" * (hi - lo))

    doc = Document(id="d", text="x" * 40, entities=[ent("T1", "EVENT", 10, 15), ent("T2", "CRIME", 20, 25),
                                                     ent("T3", "PERSON", 0, 5)],
                   relations=[Relation("R1", "AGENT", "T3", "T1"), Relation("R2", "AGENT", "T3", "T2")])
    events = [EventPred(SpanPred(10, 15, "EVENT", 1.0), [SpanPred(0, 5, "agent", 0.9)]),  # right
              EventPred(SpanPred(20, 25, "CRIME", 1.0), [SpanPred(0, 4, "agent", 0.9)])]  # wrong span
    pred = SimpleNamespace(entities=[], events=events, char_span=lambda s: (s.lo, s.hi))
    config = SimpleNamespace(trigger_types=["EVENT", "CRIME"])
    out = score_predictions(Predictions(docs=[doc], e2e=[pred], gold_trig=[pred]), config, with_layers=False)
    assert out["roles_gold_triggers"]["micro"]["f1"] == 50.0
    by_type = out["roles_by_trigger_type"]
    assert by_type["EVENT"]["gold_triggers"]["micro"]["f1"] == 100.0
    assert by_type["CRIME"]["end_to_end"]["micro"]["f1"] == 0.0
    single = score_predictions(Predictions(docs=[doc], e2e=[pred], gold_trig=[pred]),
                               SimpleNamespace(trigger_types=["EVENT"]), with_layers=False)
    assert "roles_by_trigger_type" not in single
    assert single["roles_gold_triggers"]["micro"]["precision"] == 50.0  # the CRIME event's argument is a false positive


def test_decoding_ablation_scores_the_same_weights_both_ways(tiny_model, brat_dir, tmp_path, capsys):
    import importlib.util

    spec = importlib.util.spec_from_file_location("ablate_decoding",
                                                  Path(__file__).parents[1] / "scripts" / "ablate_decoding.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = tmp_path / "dec"
    saved = (tiny_model / "config.json").read_text(encoding="utf-8")
    assert mod.main(["--model", str(tiny_model), "--corpus", str(brat_dir), "--split", "test", "--out", str(out)]) == 0
    table = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    assert [r["decoding"] for r in table["rows"]] == ["argmax", "viterbi"]
    for r in table["rows"]:
        assert 0.0 <= r["nested_f1"] <= 100.0 and r["predict_s"] >= 0
        assert json.loads((out / r["decoding"] / "metrics.json").read_text(encoding="utf-8"))["headline"]["nested_f1"] \
            == r["nested_f1"]
    own_bias = json.loads(saved)["role_none_bias"]  # without --role-biases: the model's own roles.none_bias
    assert own_bias == load_config("default").roles.none_bias  # the tiny model is trained from the default config
    assert f"| viterbi | {own_bias:g} |" in out.with_suffix(".md").read_text(encoding="utf-8")
    # roles.none_bias rows: a bias lowers none, so the role scores are those of more arguments
    biased = tmp_path / "bias"
    assert mod.main(["--model", str(tiny_model), "--corpus", str(brat_dir), "--split", "test", "--decodings", "argmax",
                     "--role-biases", "0", "30", "--out", str(biased)]) == 0
    rows = json.loads(biased.with_suffix(".json").read_text(encoding="utf-8"))["rows"]
    assert [(r["decoding"], r["role_none_bias"]) for r in rows] == [("argmax", 0.0), ("argmax", 30.0)]
    assert rows[0]["nested_f1"] == table["rows"][0]["nested_f1"]  # NER is untouched by the role bias

    def gold_entity_role_fps(folder):
        errors = json.loads((biased / folder / "metrics.json").read_text(encoding="utf-8"))["errors"]
        return errors.get("role_gold_entities_fp", 0)

    # bias 30: every gold entity is an argument of every gold trigger (none can no longer win)
    assert gold_entity_role_fps("argmax-bias30") > gold_entity_role_fps("argmax-bias0")
    # roles.single_roles rows: a role limited to one argument per trigger gives fewer of them
    single = tmp_path / "single"
    assert mod.main(["--model", str(tiny_model), "--corpus", str(brat_dir), "--split", "test", "--decodings", "argmax",
                     "--role-biases", "30", "--single-role-sets", "none", ",".join(ROLES), "--out", str(single)]) == 0
    rows = json.loads(single.with_suffix(".json").read_text(encoding="utf-8"))["rows"]
    assert [r["role_single_roles"] for r in rows] == [[], ROLES]
    assert rows[0]["roles_gold_f1"] == json.loads((biased / "argmax-bias30" / "metrics.json").read_text(
        encoding="utf-8"))["headline"]["roles_gold_f1"]  # "none" is the plain decoding
    md = single.with_suffix(".md").read_text(encoding="utf-8")
    assert "| argmax | 30 | - |" in md and f"| argmax | 30 | {', '.join(ROLES)} |" in md
    errors = [json.loads((single / f / "metrics.json").read_text(encoding="utf-8"))["errors"]
              for f in ("argmax-bias30-singlenone", "argmax-bias30-single" + "+".join(ROLES))]
    # a span denied a single role takes its next role that beats none (tests/test_single_roles.py): the
    # number of arguments need not fall, but the two decodings differ
    assert errors[1] != errors[0]
    assert mod.main(["--model", str(tiny_model), "--corpus", str(brat_dir), "--split", "test",
                     "--single-role-sets", "visitor", "--out", str(tmp_path / "bad")]) == 2
    # roles.role_biases rows: +30 on agent makes every gold entity an agent, as none_bias 30 did
    per_role = tmp_path / "per-role"
    assert mod.main(["--model", str(tiny_model), "--corpus", str(brat_dir), "--split", "test", "--decodings", "argmax",
                     "--role-biases", "0", "--role-bias-sets", "none", "agent=30", "--out", str(per_role)]) == 0
    rows = json.loads(per_role.with_suffix(".json").read_text(encoding="utf-8"))["rows"]
    assert [r["role_biases"] for r in rows] == [{}, {"agent": 30.0}]
    assert "| 5 | agent 30 |" in per_role.with_suffix(".md").read_text(encoding="utf-8")
    fps = [json.loads((per_role / f / "metrics.json").read_text(encoding="utf-8"))["errors"].get(
        "role_gold_entities_fp", 0) for f in ("argmax-bias0-rolesnone", "argmax-bias0-rolesagent30")]
    assert fps[1] > fps[0]
    for bad in ("visitor=1", "agent", "agent=x"):
        assert mod.main(["--model", str(tiny_model), "--corpus", str(brat_dir), "--split", "test",
                         "--role-bias-sets", bad, "--out", str(tmp_path / "bad")]) == 2
    # model.type_biases rows: -30 on every type leaves no entity, so no nested F1 (and "none" is the model's own)
    per_type = tmp_path / "per-type"
    types = json.loads((tiny_model / "config.json").read_text(encoding="utf-8"))["entity_types"]
    minus = ",".join(f"{t}=-30" for t in types)
    assert mod.main(["--model", str(tiny_model), "--corpus", str(brat_dir), "--split", "test", "--decodings", "argmax",
                     "--type-bias-sets", "none", minus, "--out", str(per_type)]) == 0
    rows = json.loads(per_type.with_suffix(".json").read_text(encoding="utf-8"))["rows"]
    assert rows[0]["type_biases"] == {} and rows[0]["nested_f1"] == table["rows"][0]["nested_f1"]
    assert rows[1]["nested_f1"] == 0.0 and len(rows[1]["type_biases"]) == len(types)
    assert mod.main(["--model", str(tiny_model), "--corpus", str(brat_dir), "--split", "test",
                     "--type-bias-sets", "VISIT=1", "--out", str(tmp_path / "bad")]) == 2
    # model.window_breaks rows: the test documents have no blank line, so paragraph windows are the same windows
    breaks = tmp_path / "breaks"
    assert mod.main(["--model", str(tiny_model), "--corpus", str(brat_dir), "--split", "test", "--decodings", "argmax",
                     "--window-breaks", "none", "paragraph", "--out", str(breaks)]) == 0
    rows = json.loads(breaks.with_suffix(".json").read_text(encoding="utf-8"))["rows"]
    assert [r["window_breaks"] for r in rows] == ["none", "paragraph"]
    assert rows[0]["nested_f1"] == rows[1]["nested_f1"] == table["rows"][0]["nested_f1"]
    assert (breaks / "argmax-breaksparagraph" / "metrics.json").is_file()
    assert "| paragraph |" in breaks.with_suffix(".md").read_text(encoding="utf-8")
    # model.overlap rows: each value re-encodes the documents; one at half the window length or more is refused
    overl = tmp_path / "overlaps"
    cfg = json.loads((tiny_model / "config.json").read_text(encoding="utf-8"))
    assert mod.main(["--model", str(tiny_model), "--corpus", str(brat_dir), "--split", "test", "--decodings", "argmax",
                     "--overlaps", "0", str(cfg["overlap"]), "--out", str(overl)]) == 0
    rows = json.loads(overl.with_suffix(".json").read_text(encoding="utf-8"))["rows"]
    assert [r["overlap"] for r in rows] == [0, cfg["overlap"]]
    assert rows[1]["nested_f1"] == table["rows"][0]["nested_f1"]  # the model's own overlap is the plain decoding
    assert (overl / "argmax-overlap0" / "metrics.json").is_file()
    md = overl.with_suffix(".md").read_text(encoding="utf-8")
    assert "| model.overlap |" in md and "| none | 0 |" in md and f"| none | {cfg['overlap']} |" in md
    assert mod.main(["--model", str(tiny_model), "--corpus", str(brat_dir), "--split", "test",
                     "--overlaps", str(cfg["window_length"] // 2), "--out", str(tmp_path / "bad")]) == 2
    # the model directory is untouched: the saved config keeps its own decoding
    assert (tiny_model / "config.json").read_text(encoding="utf-8") == saved


def test_storage_ablation_scores_each_saved_copy(tiny_model, brat_dir, tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("ablate_storage",
                                                  Path(__file__).parents[1] / "scripts" / "ablate_storage.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = tmp_path / "st"
    before = sorted(p.name for p in tiny_model.iterdir())
    assert mod.main(["--model", str(tiny_model), "--corpus", str(brat_dir), "--split", "test", "--out", str(out)]) == 0
    rows = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))["rows"]
    assert [r["storage"] for r in rows] == ["float16", "int8"]
    assert rows[1]["weights_bytes"] < rows[0]["weights_bytes"] < rows[0]["dir_bytes"]
    for r in rows:
        assert 0.0 <= r["nested_f1"] <= 100.0
        assert json.loads((out / r["storage"] / "metrics.json").read_text(encoding="utf-8"))["headline"]["nested_f1"] \
            == r["nested_f1"]
    assert "| int8 |" in out.with_suffix(".md").read_text(encoding="utf-8")
    assert sorted(p.name for p in tiny_model.iterdir()) == before  # the copies are gone, the model untouched


def test_memo_window_runner_runs_each_distinct_batch_once():
    import torch

    from diplomat_ie.modeling.runners import MemoWindowRunner, WindowOutputs

    calls = []

    class Counting:
        pad_multiple = 8

        def __call__(self, ids, mask, word_pos):
            calls.append(ids.clone())
            return WindowOutputs(ids.float().unsqueeze(-1), mask.float().unsqueeze(-1))

    memo = MemoWindowRunner(Counting())
    a = (torch.tensor([[5, 6, 7]]), torch.ones(1, 3, dtype=torch.long), torch.tensor([[0, 1, -1]]))
    b = (torch.tensor([[5, 6, 8]]), *a[1:])  # one id differs
    c = (a[0], a[1], torch.tensor([[0, -1, -1]]))  # only word_pos differs
    first = memo(*a)
    assert memo(*a) is first and len(calls) == 1
    assert memo(*b).words[0, 2, 0].item() == 8.0 and memo(*c) is not first and len(calls) == 3
    assert memo.pad_multiple == 8


def test_gold_passes_reuse_the_end_to_end_encoder_outputs(tiny_model, brat_dir):
    from diplomat_ie.data.corpora import load_docs
    from diplomat_ie.evaluation.evaluate import predict_gold_docs
    from diplomat_ie.modeling.io import load_model_dir
    from diplomat_ie.modeling.predict import Predictor
    from diplomat_ie.modeling.runners import torch_window_outputs

    model, tok = load_model_dir(tiny_model)
    docs = load_docs(str(brat_dir), "test")
    inner = torch_window_outputs(model)
    calls = []

    def counting(*args):
        calls.append(1)
        return inner(*args)

    counting.pad_multiple = inner.pad_multiple
    predictor = Predictor(model, tok, window_fn=counting)
    predictor.predict([d.text for d in docs])
    one_pass = len(calls)
    calls.clear()
    preds = predict_gold_docs(predictor, docs)
    assert one_pass > 0 and len(calls) == one_pass  # three passes, one encoder run per batch
    assert preds.gold_trig is not None and preds.gold_ent is not None
    assert predictor.window_fn is counting  # the memo lives for the call only


def test_ablation_tables_keep_a_dotted_output_name(tmp_path):
    from diplomat_ie.evaluation.run import write_ablation

    out = tmp_path / "ema-0.997-test"
    assert write_ablation(out, {"rows": [{"a": 1}]}, "| a |\n") == "| a |\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ema-0.997-test.json", "ema-0.997-test.md"]
    assert json.loads((tmp_path / "ema-0.997-test.json").read_text(encoding="utf-8")) == {"rows": [{"a": 1}]}
