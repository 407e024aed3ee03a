"""Reports: HTML rendering, plots, the Natasha comparison row, run-config round trip, build_report."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest

from diplomat_ie.cli import main
from diplomat_ie.config import load_config, run_config_from_dict
from diplomat_ie.evaluation import baselines, plots
from diplomat_ie.evaluation.report import build_report, natasha_row
from diplomat_ie.evaluation.tables import ABLATION_COLUMNS, ablation_markdown, mapping_line, md_table
from diplomat_ie.inference.html import markup_text, render_html

ROOT = Path(__file__).resolve().parents[1]
PNG = b"\x89PNG\r\n\x1a\n"
TEXT = "Министр иностранных дел России Сергей Лавров <script>alert(1)</script> прибыл в Женеву."


def _ent(i, typ, start, end, text=TEXT):
    return {"id": f"T{i}", "type": typ, "start": start, "end": end, "text": text[start:end], "score": 0.9}


def _result():
    p = TEXT.index("Министр")
    ru = TEXT.index("России")
    per = TEXT.index("Сергей")
    geneva = TEXT.index("Женеву")
    arrived = TEXT.index("прибыл")
    ents = [_ent(1, "PROFESSION", p, ru + 6), _ent(2, "COUNTRY", ru, ru + 6), _ent(3, "PERSON", per, per + 13),
            _ent(4, "EVENT", arrived, arrived + 6), _ent(5, "CITY", geneva, geneva + 6)]
    events = [{"trigger": {"start": arrived, "end": arrived + 6, "text": "прибыл", "type": "EVENT"},
               "arguments": [{"role": "agent", "start": per, "end": per + 13, "text": "Сергей Лавров", "score": 0.8},
                             {"role": "place", "start": geneva, "end": geneva + 6, "text": "Женеву",
                              "score": 0.7}]}]
    return {"id": "doc<1>", "text": TEXT, "entities": ents, "events": events}


def _strip(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", fragment))  # labels are CSS (attr()), not text


# ---------------------------------------------------------------- HTML

def test_html_escapes_text_and_shows_every_entity_and_event():
    res = _result()
    page = render_html([res], title="<b>seeds</b>")
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert page.count("<script") == 1  # the page's own inline script, no src=
    assert "<b>seeds</b>" not in page and "&lt;b&gt;seeds&lt;/b&gt;" in page
    assert "doc&lt;1&gt;" in page
    for e in res["entities"]:
        assert f'data-id="{e["id"]}"' in page and html.escape(e["text"]) in page
    assert "agent" in page and "place" in page and "Сергей Лавров" in page
    assert page.count("<span") == page.count("</span>")


def test_html_nests_entities_and_keeps_the_text():
    res = _result()
    frag = markup_text(res["text"], res["entities"])
    assert _strip(frag) == TEXT
    outer = frag.index('data-id="T1"')
    inner = frag.index('data-id="T2"')
    assert outer < inner and 'class="ent last" data-id="T1"' in frag  # COUNTRY sits inside PROFESSION
    pads = {m.group(1): int(m.group(2)) for m in re.finditer(r'data-id="(T\d)".*?padding-bottom:(\d+)px', frag)}
    assert pads["T1"] > pads["T2"]  # the outer underline sits lower


@pytest.mark.parametrize("entities", [
    [{"id": "A", "type": "X", "start": 0, "end": 6}, {"id": "B", "type": "Y", "start": 3, "end": 9}],  # crossing
    [{"id": "A", "type": "X", "start": 0, "end": 6}, {"id": "B", "type": "Y", "start": 0, "end": 6}],  # same span
    [{"id": "A", "type": "X", "start": 0, "end": 99}, {"id": "B", "type": "Y", "start": 5, "end": 2}],  # invalid
    [],
])
def test_markup_is_balanced_for_odd_spans(entities):
    text = "abcdefghij<&>"
    frag = markup_text(text, entities)
    assert _strip(frag) == text and frag.count("<span") == frag.count("</span>")


def test_render_html_accepts_extraction_results():
    from diplomat_ie.inference.extractor import ExtractedEntity, ExtractionResult

    res = ExtractionResult(text="Путин", entities=[ExtractedEntity("T1", "PERSON", 0, 5, "Путин", 0.5)])
    page = render_html([res])
    assert 'data-type="PERSON"' in page and "No events." in page
    assert "No documents." in render_html([])


# ---------------------------------------------------------------- plots

def test_plots_write_png(tmp_path):
    summary = {"log_history": [{"loss": 3.0 - i / 10, "step": 10 * i, "epoch": i / 5} for i in range(1, 8)],
               "dev_history": [{"eval_nested_f1": 10.0 * e, "eval_roles_gold_f1": 5.0 * e, "epoch": float(e),
                                "step": 20 * e} for e in (1, 2, 3)]}
    per_type = {"PERSON": {"f1": 80.0, "support": 10}, "CITY": {"f1": 50.0, "support": 3}}
    roles = {"agent": {"f1": 40.0, "support": 5}, "place": {"f1": 20.0, "support": 2}}
    made = [plots.training_curves(summary, tmp_path / "curves.png"),
            plots.f1_per_type(per_type, tmp_path / "types.png"),
            plots.f1_per_role(roles, {"agent": {"f1": 30.0, "support": 5}}, tmp_path / "roles.png"),
            plots.f1_per_role(roles, None, tmp_path / "roles_gold.png")]
    for path in made:
        assert path is not None and path.read_bytes().startswith(PNG)
    assert plots.training_curves({}, tmp_path / "none.png") is None
    assert plots.f1_per_type({}, tmp_path / "none.png") is None
    assert plots.f1_per_role({}, {}, tmp_path / "none.png") is None
    assert not (tmp_path / "none.png").exists()


# ---------------------------------------------------------------- small pieces

def test_run_config_round_trip():
    cfg = load_config("default", {"name": "x", "training.epochs": "2"})
    d = cfg.to_dict()
    d["training"]["no_longer_a_key"] = 1  # configs of older/newer runs still load
    assert run_config_from_dict(d).to_dict() == cfg.to_dict()


def test_md_table_formats_and_escapes():
    table = md_table(["a", "b"], [[1.23456, "x|y"], [None, 3]])
    assert "| 1.23 | x\\|y |" in table and "| — | 3 |" in table


@pytest.mark.parametrize("mapping, expected", [
    (None, ""),  # metrics.json written before the mapping was recorded
    ({}, ""),
    ({"PERSON": "PER", "FACILITY": "LOC", "CITY": "LOC"},
     "\nPredicted types scored as: LOC = CITY, FACILITY; PER = PERSON.\n"),
])
def test_mapping_line(mapping, expected):
    assert mapping_line(mapping) == expected


def test_ablation_markdown_puts_the_scores_between_lead_and_tail_columns():
    rows = [{"name": "a", "s": 2.0, **dict.fromkeys(ABLATION_COLUMNS, 50.0)},
            {"name": "b", "s": 3.0, "nested_f1": 61.234}]  # an older row without the other scores
    text = ablation_markdown("T", rows, {"variant": lambda r: r["name"]}, {"s": lambda r: f"{r['s']:.0f}"})
    lines = text.splitlines()
    assert lines[0] == "# T" and lines[2].startswith("| variant | nested F1 | macro F1 |") and lines[2].endswith("| s |")
    assert lines[4] == "| a | " + "50.00 | " * len(ABLATION_COLUMNS) + "2 |"
    assert lines[5] == "| b | 61.23 | " + "— | " * (len(ABLATION_COLUMNS) - 1) + "3 |"


def test_natasha_row_without_natasha_shows_no_figure(monkeypatch):
    monkeypatch.setattr(baselines, "natasha_available", lambda: False)
    row = natasha_row({"corpus": "nerel", "split": "test", "scheme": "nerel"}, lambda: [], run=True)
    assert row["f1"] is None and row["precision"] is None  # no stored number stands in for a run
    assert "not installed" in row["source"] and "diplomat-ie's scorer" not in row["source"]
    row = natasha_row({"corpus": "some/folder", "split": "test", "scheme": "nerel"}, lambda: [], run=False)
    assert row["f1"] is None and "not run" in row["source"]


# ---------------------------------------------------------------- build_report on a tiny model

@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_backbone, brat_dir):
    from diplomat_ie import train

    tmp = tmp_path_factory.mktemp("reportmodel")
    mp = pytest.MonkeyPatch()
    mp.chdir(tmp)
    try:
        train(load_config("default", {
            "name": "tiny", "data.corpus": str(brat_dir), "model.backbone": str(tiny_backbone), "model.word_vectors": "null",
            "model.max_length": "32", "model.overlap": "8", "training.epochs": "2", "training.logging_steps": "1",
            "training.batch_size": "2", "training.output_dir": str(tmp / "model")}))
    finally:
        mp.undo()
    seeds = tmp / "seeds"
    seeds.mkdir()
    (seeds / "s1.txt").write_text("Глава МИД России Сергей Лавров провёл переговоры в Женеве <x>.",
                                  encoding="utf-8")
    return tmp


def test_build_report(trained, brat_dir):
    out = trained / "report"
    res = build_report(trained / "model", out, run_dir=trained / "runs/tiny", seeds_dir=trained / "seeds",
                       corpus=str(brat_dir), ood_corpus=None, natasha=False, batch_size=4)
    names = {p.name for p in out.iterdir()}
    assert {"report.md", "metrics.json", "seeds.jsonl", "seed_article.html", "training_curves.png",
            "f1_per_type.png", "f1_per_role.png", "brat-test"} <= names
    assert (out / "brat-test" / "errors.jsonl").is_file()
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert list(metrics["evaluations"]) == ["brat-test"] and metrics["seeds"]["documents"] == 1
    assert [r["system"] for r in metrics["comparison"]] == ["diplomat-ie", "Natasha"]
    report = (out / "report.md").read_text(encoding="utf-8")
    for part in ("## Headline: brat-test", "## PER/ORG/LOC comparison", "not run", "## Seed articles",
                 "## Training", "![training curves](training_curves.png)", "![F1 per type](f1_per_type.png)",
                 "diplomatic subset"):
        assert part in report, part
    seed = json.loads((out / "seeds.jsonl").read_text(encoding="utf-8"))
    assert seed["id"] == "s1" and seed["text"].startswith("Глава")
    # the same article with the packaged trigger lexicon: «переговоры» is a trigger whatever the model tags
    lex = json.loads((out / "seeds_lexicon.jsonl").read_text(encoding="utf-8"))
    assert lex["id"] == "s1" and lex["text"] == seed["text"] and lex["entities"] == seed["entities"]
    assert "переговоры" in {ev["trigger"]["text"] for ev in lex["events"]}
    assert metrics["seeds"]["lexicon_events"] == len(lex["events"]) >= len(seed["events"])
    assert "with the trigger lexicon (`seeds_lexicon.jsonl`)" in report
    page = (out / "seed_article.html").read_text(encoding="utf-8")
    assert "<x>" not in page and "&lt;" in page and "&gt;" in page  # entity spans may split the tag
    card = (trained / "model" / "README.md").read_text(encoding="utf-8")
    assert "### Test" in card and "brat-test nested_f1" in card
    assert res["output"] == str(out)


def test_cli_report(trained, brat_dir, capsys):
    rc = main(["report", "--model", str(trained / "model"), "--output", str(trained / "cli"), "--run-dir",
               str(trained / "runs/tiny"), "--corpus", str(brat_dir), "--seeds", str(trained / "missing"),
               "--no-factrueval", "--no-natasha", "--no-card", "--max-docs", "1"])
    assert rc == 0 and "nested_f1" in capsys.readouterr().out
    metrics = json.loads((trained / "cli" / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["evaluations"]["brat-test"]["documents"] == 1 and metrics["seeds"] is None
    assert metrics["model_card"] is None
