"""HF ``datasets`` interop: brat -> Dataset -> brat round trips, save_to_disk folders, ``hf:`` specs (offline)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import BRAT, NEREL

from diplomat_ie.data import (
    CorpusError,
    Document,
    Entity,
    ReadStats,
    Relation,
    Span,
    format_brat_ann,
    from_hf_dataset,
    load_corpus,
    load_split,
    read_brat_dir,
    read_brat_document,
    to_hf_dataset,
)


def _raw_ann(path: Path) -> tuple[set, set]:
    """Entities (id, type, fragments) and relations of a .ann file, parsed here independently of the reader."""
    ents, rels = set(), set()
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("T"):
            tid, body = line.split("\t")[:2]
            typ, spans = body.split(" ", 1)
            ents.add((tid, typ, tuple(sorted(tuple(int(x) for x in f.split()) for f in spans.split(";")))))
        elif line.startswith("R"):
            rid, typ, a1, a2 = line.split("\t")[0], *line.split("\t")[1].split()
            rels.add((rid, typ, a1.removeprefix("Arg1:"), a2.removeprefix("Arg2:")))
    return ents, rels


def _offsets(doc: Document) -> tuple[set, set]:
    return ({(e.id, e.type, tuple((s.start, s.end) for s in e.spans)) for e in doc.entities},
            {(r.id, r.type, r.arg1, r.arg2) for r in doc.relations})


def _round_trip_to_brat(txts: list[Path], out: Path) -> int:
    """Read brat, go through a Dataset, write brat again; check text and offsets against the originals."""
    docs = [read_brat_document(t) for t in txts]
    ds = to_hf_dataset(docs)
    assert ds.num_rows == len(docs) and ds.column_names == ["id", "text", "entities", "relations"]
    back = from_hf_dataset(ds)
    written = []
    for orig, txt, doc in zip(docs, txts, back, strict=True):
        assert doc.id == orig.id and doc.text == txt.read_text(encoding="utf-8")
        assert format_brat_ann(doc) == format_brat_ann(orig)
        folder = out / txt.parent.name  # the fixture's splits reuse document ids
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{doc.id}.txt").write_text(doc.text, encoding="utf-8")
        (folder / f"{doc.id}.ann").write_text(format_brat_ann(doc), encoding="utf-8")
        written.append(folder / f"{doc.id}.txt")
    again = [read_brat_document(p) for p in written]
    for txt, doc in zip(txts, again, strict=True):
        assert doc.text == txt.read_text(encoding="utf-8")
        assert _offsets(doc) == _raw_ann(txt.with_suffix(".ann"))  # identical to the original file
        for e in doc.entities:
            assert e.text == " ".join(doc.text[s.start:s.end] for s in e.spans)
    return sum(e.is_discontinuous for d in again for e in d.entities)


def test_fixture_corpus_round_trip(tmp_path):
    txts = sorted(BRAT.glob("*/*.txt"))
    assert len(txts) == 8
    _round_trip_to_brat(txts, tmp_path / "out")


def test_nerel_sample_round_trip(tmp_path):
    dev = NEREL / "dev"
    if not dev.is_dir():
        pytest.skip(f"NEREL dev not found at {dev} (needs the shared corpora)")
    txts = sorted(dev.glob("*.txt"))
    discontinuous = [t for t in txts if any(";" in line.split("\t")[1] for line in
                     t.with_suffix(".ann").read_text(encoding="utf-8").splitlines() if line.startswith("T"))]
    sample = sorted(set(txts[:5]) | set(discontinuous[:3]))
    assert len(discontinuous) >= 1
    assert _round_trip_to_brat(sample, tmp_path / "out") >= 1  # several-fragment entities survived


def test_discontinuous_entity_and_scores():
    text = "министры иностранных и обороны дел"
    doc = Document("d", text, entities=[
        Entity("T1", "PROFESSION", [Span(0, 20), Span(31, 34)], "министры иностранных дел", score=0.25),
        Entity("T2", "PROFESSION", [Span(0, 8)], "министры")], relations=[Relation("R1", "X", "T1", "T2")])
    ds = to_hf_dataset([doc])
    row = ds[0]
    assert row["entities"][0]["fragments"] == [{"start": 0, "end": 20}, {"start": 31, "end": 34}]
    assert (row["entities"][0]["start"], row["entities"][0]["end"]) == (0, 34)
    assert row["entities"][1]["score"] is None and row["relations"][0]["arg2"] == "T2"
    (back,) = from_hf_dataset(ds)
    assert back.to_dict() == doc.to_dict()


def test_rows_without_fragments_or_ids():
    rows = [{"text": "Посол Франции", "entities": [{"id": "T1", "type": "COUNTRY", "start": 6, "end": 13,
                                                    "text": "Франции"}]}]
    (doc,) = from_hf_dataset(rows)
    assert doc.id == "row0" and doc.entities[0].spans == [Span(6, 13)] and doc.relations == []


@pytest.mark.parametrize(("row", "fragment"), [
    ({"text": "abc", "entities": [{"id": "T1", "type": "X", "start": 0, "end": 9, "text": "abc"}]}, "outside"),
    ({"text": "abc", "entities": [{"id": "T1", "type": "X", "start": 0, "end": 2, "text": "xy"}]}, "differs"),
    ({"text": "abc", "relations": [{"id": "R1", "type": "X", "arg1": "T1", "arg2": "T2"}]}, "unknown entity"),
    ({"text": "abc", "entities": [{"id": "T1", "start": 0, "end": 2, "text": "ab"}]}, "bad entity"),
    ({"id": "x", "text": None}, "lacks a string 'text'"),
])
def test_bad_rows_name_the_row(row, fragment):
    rows = [{"id": "ok", "text": "fine"}, row]
    with pytest.raises(CorpusError, match=fragment) as err:
        from_hf_dataset(rows, source="mine")
    assert "mine[1]" in str(err.value)
    stats = ReadStats()
    assert [d.id for d in from_hf_dataset(rows, lenient=True, stats=stats)] == ["ok"]
    assert stats.documents == 1 and stats.skipped == {"malformed row": 1}


def test_dataset_without_text_column():
    from datasets import Dataset

    with pytest.raises(CorpusError, match="no 'text' column"):
        from_hf_dataset(Dataset.from_list([{"body": "x"}]))


def test_load_corpus_and_save_to_disk(tmp_path):
    dd = load_corpus(BRAT)  # a folder of split folders
    assert sorted(dd) == ["dev", "test", "train"] and dd["train"].num_rows == 4
    saved = tmp_path / "saved"
    dd.save_to_disk(str(saved))
    want = {s: [d.to_dict() for d in read_brat_dir(BRAT / s)] for s in ("train", "dev")}
    for split in ("train", "dev"):  # what training's data.corpus does: <folder>/<split>, or the folder + split
        assert [d.to_dict() for d in load_split(saved / split)] == want[split]
        assert [d.to_dict() for d in load_split(saved, split)] == want[split]
    with pytest.raises(CorpusError, match=r"has no split 'validation2' \(splits: .*train"):
        load_split(saved, "validation2")
    with pytest.raises(CorpusError, match="needs a split"):
        load_split(saved)
    again = load_corpus(saved, splits=["dev"])
    assert list(again) == ["dev"] and again["dev"].to_list() == dd["dev"].to_list()
    dd["train"].save_to_disk(str(tmp_path / "one"))  # a plain Dataset: no splits
    assert [d.id for d in load_split(tmp_path / "one", "anything")] == ["doc1", "doc2", "doc3", "doc4"]
    assert list(load_corpus(tmp_path / "one")) == ["train"]


def test_load_corpus_named_and_single_file(tmp_path):
    root = tmp_path / "root"
    for split in ("train", "dev", "test"):
        (root / "nerel" / split).mkdir(parents=True)
    for p in (BRAT / "dev").iterdir():
        (root / "nerel" / "dev" / p.name).write_bytes(p.read_bytes())
    dd = load_corpus("nerel", root=root)
    assert list(dd) == ["train", "dev", "test"] and dd["dev"].num_rows == 2 and dd["train"].num_rows == 0
    jsonl = tmp_path / "c.jsonl"
    jsonl.write_text("".join(json.dumps(d.to_dict(), ensure_ascii=False) + "\n"
                             for d in read_brat_dir(BRAT / "dev")), encoding="utf-8")
    single = load_corpus(jsonl)
    assert list(single) == ["train"] and [d.id for d in from_hf_dataset(single["train"])] == ["doc5", "doc6"]
    with pytest.raises(CorpusError, match="single split"):
        load_corpus(jsonl, splits=["train", "dev"])


def test_hf_spec_with_a_local_dataset_folder(tmp_path, monkeypatch):
    import datasets

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "cache")
    local = tmp_path / "hub_like"
    local.mkdir()
    for split in ("train", "dev"):  # plain data files, as a dataset repository on the hub holds them
        to_hf_dataset(read_brat_dir(BRAT / split)).to_json(str(local / f"{split}.jsonl"), force_ascii=False)
    spec = f"hf:{local}"
    dev = load_split(spec, "dev")  # load_dataset names the file's split "validation"; "dev" finds it
    assert [d.to_dict() for d in dev] == [d.to_dict() for d in read_brat_dir(BRAT / "dev")]
    assert sorted(load_corpus(spec)) == ["train", "validation"]
    with pytest.raises(CorpusError, match="has no split 'test'"):
        load_split(spec, "test")


def test_hf_hub_name_offline_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(CorpusError, match=r"cannot load dataset 'nobody/no-such-corpus' \(HF_HUB_OFFLINE is set\)"):
        load_split("hf:nobody/no-such-corpus:default", "train")
    with pytest.raises(CorpusError, match="expected hf:<name>"):
        load_split("hf:", "train")
