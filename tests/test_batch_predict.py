"""``diplomat-ie predict``: inputs, outputs, resume, error isolation, sharding (tiny model trained here)."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from diplomat_ie.cli import main
from diplomat_ie.data.brat import read_brat_document
from diplomat_ie.data.roles import RELATION_TO_ROLE
from diplomat_ie.inference.batch import (
    ARGUMENT_TYPE,
    JsonlSink,
    brat_name,
    predict_records,
    recover_jsonl,
    result_to_document,
)
from diplomat_ie.inference.extractor import ExtractionResult
from diplomat_ie.inference.sources import Record, iter_records, parse_shard

ROOT = Path(__file__).resolve().parents[1]
TEXTS = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "tests/fixtures/brat").glob("*/*.txt"))]


def train_tiny_model(out: Path, backbone: Path, **overrides: str) -> Path:
    """A tiny joint model trained for a few steps on the fixtures (seconds on CPU)."""
    from diplomat_ie import train
    from diplomat_ie.config import load_config

    cfg = load_config("default", {
        "data.corpus": str(ROOT / "tests/fixtures/brat"), "model.backbone": str(backbone), "model.word_vectors": "null",
        "training.output_dir": str(out / "model"), "training.epochs": "3", "training.batch_size": "2",
        "model.max_length": "32", "model.overlap": "8", "training.report_dir": str(out / "report"),
        # the default's EVENT bias is chosen for the full model; it would suppress this tiny model's few triggers
        "model.type_biases": "", "name": "tiny-batch", "training.threads": "1", **overrides})
    train(cfg)
    _force_some_arguments(out / "model")
    return out / "model"


def _force_some_arguments(model: Path) -> None:
    """Three epochs teach the role head nothing; bias it towards B-agent so events get arguments."""
    from safetensors.torch import load_file, save_file

    labels = json.loads((model / "config.json").read_text())["roles"]
    state = load_file(str(model / "model.safetensors"))
    state["heads.role_head.out.bias"][1 + 2 * labels.index("agent")] += 4.0
    save_file(state, str(model / "model.safetensors"), metadata={"format": "pt"})


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, tiny_backbone) -> Path:
    import os

    tmp = tmp_path_factory.mktemp("batch")
    cwd = os.getcwd()
    os.chdir(tmp)  # runs/ lands in tmp
    try:
        return train_tiny_model(tmp, tiny_backbone)
    finally:
        os.chdir(cwd)


@pytest.fixture()
def corpus(tmp_path) -> Path:
    """A JSONL file of the fixture texts with ids ``d0``.. plus a folder of .txt files."""
    (tmp_path / "docs.jsonl").write_text(
        "".join(json.dumps({"doc_id": f"d{i}", "body": t}, ensure_ascii=False) + "\n" for i, t in enumerate(TEXTS)),
        encoding="utf-8")
    folder = tmp_path / "folder" / "sub"
    folder.mkdir(parents=True)
    (tmp_path / "folder" / "a.txt").write_text(TEXTS[0], encoding="utf-8")
    (folder / "b.txt").write_text(TEXTS[1], encoding="utf-8")
    return tmp_path


def predict(model_dir: Path, *args: str) -> int:
    return main(["predict", "--model", str(model_dir), "--no-progress", *args])


def read_rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def check_row(row: dict) -> None:
    for e in row["entities"]:
        assert row["text"][e["start"] : e["end"]] == e["text"]
    for ev in row["events"]:
        for a in ev["arguments"]:
            assert row["text"][a["start"] : a["end"]] == a["text"]


def test_jsonl_and_folder_inputs_match_the_extractor(model_dir, corpus):
    from diplomat_ie import Extractor

    out = corpus / "out.jsonl"
    assert predict(model_dir, "--input", str(corpus / "docs.jsonl"), str(corpus / "folder"),
                   "--text-field", "body", "--id-field", "doc_id", "--output", str(out),
                   "--docs-per-batch", "3") == 0
    rows = read_rows(out)
    assert [r["id"] for r in rows] == [f"d{i}" for i in range(len(TEXTS))] + [
        str(corpus / "folder/a.txt"), str(corpus / "folder/sub/b.txt")]
    expected = Extractor.from_pretrained(model_dir)(TEXTS)
    for row, exp in zip(rows, expected, strict=False):
        assert {k: row[k] for k in ("text", "entities", "events")} == exp.to_dict()
        check_row(row)
    assert sum(len(r["entities"]) for r in rows) > 0
    assert (corpus / "out.jsonl.errors.jsonl").read_text() == ""


def test_stdin_plain_text_and_jsonl(model_dir, tmp_path, monkeypatch):
    out = tmp_path / "plain.jsonl"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(TEXTS[2].encode("utf-8"))))
    assert predict(model_dir, "--input", "-", "--output", str(out)) == 0
    (row,) = read_rows(out)
    assert row["id"] == "<stdin>" and row["text"] == TEXTS[2]
    lines = "".join(json.dumps({"id": i, "text": t}, ensure_ascii=False) + "\n" for i, t in enumerate(TEXTS[:3]))
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(lines.encode("utf-8"))))
    out = tmp_path / "lines.jsonl"
    assert predict(model_dir, "--input", "-", "--input-format", "jsonl", "--output", str(out)) == 0
    assert [r["id"] for r in read_rows(out)] == ["0", "1", "2"]


def test_brat_output_reads_back_with_exact_offsets(model_dir, corpus):
    out = corpus / "brat"
    assert predict(model_dir, "--input", str(corpus / "docs.jsonl"), "--text-field", "body",
                   "--id-field", "doc_id", "--output", str(corpus / "ref.jsonl")) == 0
    assert predict(model_dir, "--input", str(corpus / "docs.jsonl"), "--text-field", "body",
                   "--id-field", "doc_id", "--format", "brat", "--output", str(out)) == 0
    assert (out / "annotation.conf").is_file()
    assert all(p.stat().st_mode & 0o044 == 0o044 for p in out.iterdir())  # brat's web server can read them
    n_rel = n_args = 0
    for row in read_rows(corpus / "ref.jsonl"):
        n_args += len({(ev["trigger"]["start"], ev["trigger"]["end"], a["role"], a["start"], a["end"])
                       for ev in row["events"] for a in ev["arguments"]})
        doc = read_brat_document(out / f"{brat_name(row['id'])}.txt")  # strict: raises on any bad line
        assert doc.text == row["text"]
        got = {(e.start, e.end, e.type) for e in doc.entities if e.type != ARGUMENT_TYPE}
        assert got == {(e["start"], e["end"], e["type"]) for e in row["entities"]}
        by_id = doc.entity_by_id()
        for r in doc.relations:
            role, trigger_is_arg2 = RELATION_TO_ROLE[r.type]
            trigger = by_id[r.arg2 if trigger_is_arg2 else r.arg1]
            assert trigger.type == "EVENT"
        n_rel += len(doc.relations)
    assert n_rel == n_args > 0


def test_result_to_document_directions_and_new_argument_entities():
    row = {"id": "x", "text": "Лавров посетил Москву вчера", "entities": [
        {"id": "T1", "type": "PERSON", "start": 0, "end": 6, "text": "Лавров"},
        {"id": "T2", "type": "EVENT", "start": 7, "end": 14, "text": "посетил"}],
        "events": [{"trigger": {"start": 7, "end": 14, "text": "посетил", "type": "EVENT", "entity_id": "T2"},
                    "arguments": [{"role": "agent", "start": 0, "end": 6, "text": "Лавров", "entity_id": "T1"},
                                  {"role": "place", "start": 15, "end": 21, "text": "Москву"}]}]}
    doc = result_to_document(row)
    rels = {(r.type, r.arg1, r.arg2) for r in doc.relations}
    assert rels == {("AGENT", "T1", "T2"), ("TAKES_PLACE_IN", "T2", "T3")}
    assert (doc.entities[2].type, doc.entities[2].text) == (ARGUMENT_TYPE, "Москву")


def test_html_output(model_dir, corpus):
    from diplomat_ie.inference.html import render_html

    out = corpus / "view.html"
    assert predict(model_dir, "--input", str(corpus / "folder"), "--format", "html", "--output", str(out)) == 0
    page = out.read_text(encoding="utf-8")
    rows = read_rows(corpus / "view.html.results.jsonl")
    assert len(rows) == 2
    assert page == render_html(rows, "diplomat-ie predictions")  # the one renderer, nested entities included
    assert "a.txt" in page and page.count("<section class=\"doc\"") == 2


def test_resume_after_a_crash_mid_line(model_dir, corpus):
    args = ["--input", str(corpus / "docs.jsonl"), "--text-field", "body", "--id-field", "doc_id",
            "--docs-per-batch", "2"]
    full = corpus / "full.jsonl"
    assert predict(model_dir, *args, "--output", str(full)) == 0
    data = full.read_bytes()
    cut = corpus / "cut.jsonl"
    lines = data.splitlines(keepends=True)
    cut.write_bytes(b"".join(lines[:3]) + lines[3][: len(lines[3]) // 2])  # crash inside line 4
    assert predict(model_dir, *args, "--output", str(cut), "--resume") == 0
    rows = read_rows(cut)
    assert len(rows) == len({r["id"] for r in rows}) == len(TEXTS)
    assert sorted(rows, key=lambda r: r["id"]) == sorted(read_rows(full), key=lambda r: r["id"])
    assert predict(model_dir, *args, "--output", str(cut), "--resume") == 0  # nothing left to do
    assert len(read_rows(cut)) == len(TEXTS)


def test_recover_jsonl_cuts_a_partial_line(tmp_path):
    path = tmp_path / "o.jsonl"
    path.write_bytes(b'{"id": "a"}\n{"id": "b"}\n{"id": "c", "te')
    assert recover_jsonl(path) == {"a", "b"}
    assert path.read_bytes() == b'{"id": "a"}\n{"id": "b"}\n'


class FakeExtractor:
    """Uppercases nothing, fails on texts containing BOOM; counts the documents it saw."""

    def __init__(self):
        self.seen = 0

    def __call__(self, texts):
        single = isinstance(texts, str)
        texts = [texts] if single else texts
        if any("BOOM" in t for t in texts):
            raise RuntimeError("boom")
        self.seen += len(texts)
        out = [ExtractionResult(text=t) for t in texts]
        return out[0] if single else out


def test_bad_documents_go_to_the_errors_file_and_the_run_continues(tmp_path):
    bad = tmp_path / "in.jsonl"
    bad.write_bytes(b'{"id": "ok1", "text": "hello"}\n\xff\xfe broken\nnot json\n{"id": "nt"}\n'
                    b'{"id": "ws", "text": "  \\n "}\n{"id": "num", "text": 5}\n[1, 2]\n'
                    b'{"id": "boom", "text": "BOOM"}\n{"id": "ok2", "text": "world"}\n{"id": "ok1", "text": "dup"}\n')
    (tmp_path / "bin.txt").write_bytes(b"\xc3\x28 invalid")
    sink, errors = JsonlSink(str(tmp_path / "o.jsonl")), JsonlSink(str(tmp_path / "e.jsonl"))
    counts = predict_records(FakeExtractor(), iter_records([str(bad), str(tmp_path / "bin.txt")]), sink, errors,
                             docs_per_batch=4)
    sink.close(), errors.close()
    assert [r["id"] for r in read_rows(tmp_path / "o.jsonl")] == ["ok1", "ok2"]
    errs = {e["source"]: e["reason"] for e in read_rows(tmp_path / "e.jsonl")}
    assert counts["written"] == 2 and counts["errors"] == len(errs) == 9
    assert "UTF-8" in errs[f"{bad}:2"] and "JSON" in errs[f"{bad}:3"] and "no 'text'" in errs[f"{bad}:4"]
    assert "empty" in errs[f"{bad}:5"] and "not a string" in errs[f"{bad}:6"] and "list" in errs[f"{bad}:7"]
    assert "prediction failed" in errs[f"{bad}:8"] and "duplicate" in errs[f"{bad}:10"]
    assert "UTF-8" in errs[str(tmp_path / "bin.txt")]


def test_resume_skips_done_and_failed_documents(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"id": i, "text": f"t{i}"}) + "\n" for i in range(7)) + "{bad\n")
    for resume, expected_seen in ((False, 7), (True, 0)):
        fake = FakeExtractor()
        sink, errors = JsonlSink(str(tmp_path / "o.jsonl"), resume), JsonlSink(str(tmp_path / "e.jsonl"), resume)
        predict_records(fake, iter_records([str(src)]), sink, errors, docs_per_batch=3)
        sink.close(), errors.close()
        assert fake.seen == expected_seen
    assert len(read_rows(tmp_path / "o.jsonl")) == 7 and len(read_rows(tmp_path / "e.jsonl")) == 1


@pytest.mark.parametrize("by", ["index", "id"])
def test_shards_and_ranks_cover_every_document_once(by):
    recs = [Record(index=i, id=f"doc-{i * 7919 % 1000}", source="s") for i in range(200)]
    owners = []
    for spec in ("0/3", "1/3", "2/3"):
        for rank in range(2):
            shard = parse_shard(spec, by=by, env={"RANK": str(rank), "WORLD_SIZE": "2"})
            owners.append({r.index for r in recs if shard.owns(r)})
    assert sum(len(o) for o in owners) == len(recs) and set().union(*owners) == set(range(200))
    assert all(len(o) > 10 for o in owners)
    with pytest.raises(ValueError):
        parse_shard("3/3", env={})


def test_shard_cli_and_accelerate_ranks(model_dir, corpus, monkeypatch):
    args = ["--input", str(corpus / "docs.jsonl"), "--text-field", "body", "--id-field", "doc_id"]
    ids = []
    for k in range(2):
        out = corpus / f"s{k}.jsonl"
        assert predict(model_dir, *args, "--shard", f"{k}/2", "--output", str(out)) == 0
        ids += [r["id"] for r in read_rows(out)]
    assert sorted(ids) == sorted(f"d{i}" for i in range(len(TEXTS)))
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    assert predict(model_dir, *args, "--output", str(corpus / "r.jsonl")) == 0
    assert [r["id"] for r in read_rows(corpus / "r.jsonl.rank1")] == [f"d{i}" for i in range(1, len(TEXTS), 2)]
    assert (corpus / "r.jsonl.rank1.errors.jsonl").exists()


def test_predict_cli_role_options(model_dir, tmp_path, capsys):
    src = tmp_path / "visit.txt"
    src.write_text("Министр заявил о намерении посетить Казахстан в 2026 году.", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    assert predict(model_dir, "--input", str(src), "--output", str(out), "--no-snap", "--role-o-bias", "0.5",
                   "--trigger-lexicon", "default") == 0  # the packaged lexicon, by name
    (row,) = read_rows(out)
    # the lexicon guarantees a trigger on "посетить" (27-35): its own, or the model's if one covers the word
    visit = [ev["trigger"] for ev in row["events"] if ev["trigger"]["start"] <= 27 and ev["trigger"]["end"] >= 35]
    assert len(visit) == 1 and visit[0]["origin"] in ("model", "lexicon"), row["events"]
    assert visit[0]["origin"] == "model" or visit[0]["text"] == "посетить"
    bad = tmp_path / "bad.yaml"
    bad.write_text("patterns: ['(']", encoding="utf-8")
    assert predict(model_dir, "--input", str(src), "--output", str(tmp_path / "o2.jsonl"),
                   "--trigger-lexicon", str(bad)) != 0
    assert "bad.yaml: pattern 1 '(' is not a regular expression" in capsys.readouterr().err
    assert not (tmp_path / "o2.jsonl").exists()


def test_predict_cli_with_the_bf16_backend(model_dir, corpus):
    from diplomat_ie import Extractor

    out = corpus / "bf16.jsonl"
    assert predict(model_dir, "--input", str(corpus / "docs.jsonl"), "--text-field", "body", "--output", str(out),
                   "--backend", "torch-bf16") == 0
    rows = read_rows(out)
    expected = Extractor.from_pretrained(model_dir, backend="torch-bf16")(TEXTS)
    assert [{k: r[k] for k in ("text", "entities", "events")} for r in rows] == [e.to_dict() for e in expected]
    for row in rows:
        check_row(row)
