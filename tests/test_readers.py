"""Reader error handling and round trips: brat, JSONL and factRuEval (tiny fixtures built in tmp_path)."""

from __future__ import annotations

import json
import re

import pytest

from diplomat_ie.data.brat import ReadStats, read_brat_dir, read_brat_document
from diplomat_ie.data.document import CorpusError, Document, Entity, Relation, Span
from diplomat_ie.data.factrueval import (
    FactRuEvalStats,
    iter_factrueval_dir,
    read_factrueval_dir,
    read_factrueval_document,
)
from diplomat_ie.data.jsonl import read_jsonl, write_jsonl

BRAT_TEXT = "Иван Петров посетил Москву."
GOOD_ENTITY = "T1\tPERSON 0 11\tИван Петров"

# --------------------------------------------------------------------------------------- brat


def _brat(tmp_path, ann: str, text: str = BRAT_TEXT):
    (tmp_path / "doc.txt").write_text(text, encoding="utf-8")
    (tmp_path / "doc.ann").write_text(ann, encoding="utf-8")
    return tmp_path / "doc.txt"


BRAT_ERRORS = [
    # (name, ann lines after the good entity, message fragment, line number or None)
    ("no offsets", ["T2\tCITY\tМоскву"], "lacks offsets", 2),
    ("non-integer offset", ["T2\tCITY 20 x\tМоскву"], "non-integer", 2),
    ("offset outside text", ["T2\tCITY 20 99\tМоскву"], "outside the text", 2),
    ("span text mismatch", ["T2\tCITY 20 26\tПарижу"], "differs", 2),
    ("bad relation line", ["R1\tKNOWS T1 T1"], "relation line needs", 2),
    ("unknown line kind", ["X1\tfoo"], "unknown annotation line", 2),
    ("unknown relation arg", ["R1\tKNOWS Arg1:T1 Arg2:T9\t"], "unknown entity", None),
]


@pytest.mark.parametrize("name,extra,fragment,line", BRAT_ERRORS, ids=[c[0] for c in BRAT_ERRORS])
def test_brat_errors_strict_and_lenient(tmp_path, name, extra, fragment, line):
    txt = _brat(tmp_path, "\n".join([GOOD_ENTITY] + extra) + "\n")
    with pytest.raises(CorpusError, match=fragment) as info:
        read_brat_document(txt)
    assert info.value.path.endswith("doc.ann")
    assert info.value.line == line
    stats = ReadStats()
    doc = read_brat_document(txt, lenient=True, stats=stats)
    assert stats.total_skipped == 1 and stats.documents == 1
    assert [e.id for e in doc.entities] == ["T1"] and doc.relations == []


def test_brat_good_document_with_discontinuous_entity_and_relation(tmp_path):
    ann = "\n".join([GOOD_ENTITY, "T2\tCITY 20 26\tМоскву", "T3\tEVENT 12 19;20 26\tпосетил Москву",
                     "R1\tTAKES_PLACE_IN Arg1:T3 Arg2:T2\t", "#1\tAnnotatorNotes T1\tnote"]) + "\n"
    docs = read_brat_dir(_brat(tmp_path, ann).parent)
    (doc,) = docs
    assert [(e.id, e.type, e.start, e.end) for e in doc.entities] == [
        ("T1", "PERSON", 0, 11), ("T2", "CITY", 20, 26), ("T3", "EVENT", 12, 26)]
    assert doc.entities[2].is_discontinuous and doc.relations[0].arg1 == "T3"
    doc.validate()


# --------------------------------------------------------------------------------------- JSONL


def _doc() -> Document:
    text = "Сергей Лавров прибыл в Париж."
    return Document(id="d1", text=text, entities=[
        Entity("T1", "PERSON", [Span(0, 13)], "Сергей Лавров"),
        Entity("T2", "CITY", [Span(23, 28)], "Париж"),
        Entity("T3", "EVENT", [Span(14, 20), Span(23, 28)], "прибыл Париж"),
    ], relations=[Relation("R1", "AGENT", "T1", "T3")])


def test_jsonl_round_trip(tmp_path):
    path = tmp_path / "c.jsonl"
    assert write_jsonl([_doc(), Document(id="empty", text="")], path) == 2
    back = read_jsonl(path)
    assert [d.to_dict() for d in back] == [_doc().to_dict(), Document(id="empty", text="").to_dict()]
    assert back[0].entities[2].spans == [Span(14, 20), Span(23, 28)]


JSONL_ERRORS = [
    ("bad json", "{not json", "not a JSON line"),
    ("missing text", json.dumps({"id": "x"}), "lacks a string 'text'"),
    ("text not a string", json.dumps({"id": "x", "text": 5}), "lacks a string 'text'"),
    ("span outside text", json.dumps({"id": "x", "text": "abc", "entities": [
        {"id": "T1", "type": "X", "start": 0, "end": 9, "text": "abc"}]}), "outside the text"),
    ("entity lacks type", json.dumps({"id": "x", "text": "abc", "entities": [
        {"id": "T1", "start": 0, "end": 1, "text": "a"}]}), "bad document"),
    ("relation to unknown entity", json.dumps({"id": "x", "text": "abc", "relations": [
        {"id": "R1", "type": "KNOWS", "arg1": "T1", "arg2": "T2"}]}), "unknown entity"),
]


@pytest.mark.parametrize("name,line,fragment", JSONL_ERRORS, ids=[c[0] for c in JSONL_ERRORS])
def test_jsonl_errors_strict_and_lenient(tmp_path, name, line, fragment):
    path = tmp_path / "c.jsonl"
    good = json.dumps(_doc().to_dict(), ensure_ascii=False)
    path.write_text(good + "\n" + line + "\n", encoding="utf-8")
    with pytest.raises(CorpusError, match=fragment) as info:
        read_jsonl(path)
    assert "c.jsonl:2" in str(info.value)
    stats = ReadStats()
    assert [d.id for d in read_jsonl(path, lenient=True, stats=stats)] == ["d1"]
    assert stats.skipped == {"malformed line": 1} and stats.documents == 1


# --------------------------------------------------------------------------------------- factRuEval

FRE_TEXT = "Глава МИД России Сергей Лавров посетил «Газпром нефть» .\n\nВизит прошёл в Москве ."


def _fre_tokens(text: str, first_id: int = 100) -> list[tuple[int, int, int, str]]:
    return [(first_id + i, m.start(), len(m.group()), m.group()) for i, m in enumerate(re.finditer(r"\S+", text))]


def _write_fre(folder, name: str, text: str, spans: list[tuple], objects: list[tuple], newline: str = "\n",
               token_lines: list[str] | None = None) -> None:
    """Spans: (id, type, first token index, n tokens); objects: (id, type, [span ids])."""
    folder.mkdir(parents=True, exist_ok=True)
    toks = _fre_tokens(text)
    (folder / f"{name}.txt").write_bytes(text.encode("utf-8"))
    if token_lines is None:
        token_lines = [f"{tid} {s} {n} {t}" for tid, s, n, t in toks]
    (folder / f"{name}.tokens").write_text("\n".join(token_lines) + "\n", encoding="utf-8", newline=newline)
    span_lines = []
    for sid, typ, i, n in spans:
        part = toks[i: i + n]
        start, end = part[0][1], part[-1][1] + part[-1][2]
        ids = " ".join(str(t[0]) for t in part)
        words = " ".join(t[3] for t in part)
        span_lines.append(f"{sid} {typ} {start} {end - start} {part[0][0]} {n}  # {ids} {words}")
    (folder / f"{name}.spans").write_text("\n".join(span_lines) + "\n", encoding="utf-8")
    obj_lines = [f"{oid} {typ} {' '.join(map(str, sids))} # text" for oid, typ, sids in objects]
    (folder / f"{name}.objects").write_text("\n".join(obj_lines) + "\n", encoding="utf-8")


# token indices: 0 Глава 1 МИД 2 России 3 Сергей 4 Лавров 5 посетил 6 «Газпром 7 нефть» 8 . 9 Визит ...
FRE_SPANS = [(1, "org_name", 1, 1), (2, "loc_name", 2, 1), (3, "name", 3, 1), (4, "surname", 4, 1),
             (5, "org_name", 6, 2), (6, "job", 0, 1), (7, "loc_name", 12, 1)]
FRE_OBJECTS = [(10, "Org", [1, 2]), (11, "LocOrg", [2]), (12, "Person", [3, 4]), (13, "Org", [5]),
               (14, "Location", [7]), (15, "Org", [6, 2])]  # 15: "Глава ... России", a gap with words


def test_factrueval_document(tmp_path):
    _write_fre(tmp_path, "book_1", FRE_TEXT, FRE_SPANS, FRE_OBJECTS)
    stats = FactRuEvalStats()
    doc = read_factrueval_document(tmp_path / "book_1", stats=stats)
    doc.validate()
    got = {e.id: (e.type, e.text) for e in doc.entities}
    assert got == {"T10": ("Org", "МИД России"), "T11": ("LocOrg", "России"),
                   "T12": ("Person", "Сергей Лавров"), "T13": ("Org", "«Газпром нефть»"),
                   "T14": ("Location", "Москве"), "T15": ("Org", "Глава МИД России")}
    assert all(len(e.spans) == 1 for e in doc.entities)
    assert (stats.documents, stats.objects, stats.discontinuous, stats.total_skipped) == (1, 6, 1, 0)


def test_factrueval_crlf_offsets_are_exact(tmp_path):
    text = FRE_TEXT.replace("\n", "\r\n")  # offsets in .tokens count "\r\n" as two characters
    _write_fre(tmp_path, "book_1", text, FRE_SPANS, FRE_OBJECTS, newline="\r\n")
    doc = read_factrueval_document(tmp_path / "book_1")
    assert "\r\n" in doc.text
    assert {e.text for e in doc.entities if e.id == "T14"} == {"Москве"}


FRE_ERRORS = [
    # (name, what to break: (file, line index, new line), message fragment, file suffix, line number)
    ("token fields", ("tokens", 1, "101 6 3"), "token line needs", ".tokens", 2),
    ("token offset not int", ("tokens", 1, "101 x 3 МИД"), "non-integer", ".tokens", 2),
    ("token outside text", ("tokens", 1, "101 6000 3 МИД"), "outside the text", ".tokens", 2),
    ("token text mismatch", ("tokens", 1, "101 6 3 МВД"), "differs", ".tokens", 2),
    ("span fields", ("spans", 0, "1 org_name 6 3 101"), "span line needs", ".spans", 1),
    ("span unknown token", ("spans", 0, "1 org_name 6 3 999 1 # x"), "unknown token", ".spans", 1),
    ("span off boundaries", ("spans", 0, "1 org_name 6 2 101 1 # x"), "token boundaries", ".spans", 1),
    ("object unknown span", ("objects", 0, "10 Org 1 99 # x"), "unknown span", ".objects", 1),
    ("object unknown type", ("objects", 0, "10 Organisation 1 # x"), "unknown object type", ".objects", 1),
    ("object without spans", ("objects", 0, "10 Org # x"), "object line needs", ".objects", 1),
]


@pytest.mark.parametrize("name,edit,fragment,suffix,line", FRE_ERRORS, ids=[c[0] for c in FRE_ERRORS])
def test_factrueval_errors_strict_and_lenient(tmp_path, name, edit, fragment, suffix, line):
    _write_fre(tmp_path, "book_1", FRE_TEXT, FRE_SPANS, FRE_OBJECTS)
    ext, index, new = edit
    path = tmp_path / f"book_1.{ext}"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[index] = new
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(CorpusError, match=fragment) as info:
        read_factrueval_document(tmp_path / "book_1")
    assert info.value.path.endswith(suffix) and info.value.line == line
    stats = FactRuEvalStats()
    doc = read_factrueval_document(tmp_path / "book_1", lenient=True, stats=stats)
    assert stats.total_skipped >= 1
    assert len(doc.entities) < len(FRE_OBJECTS) or ext == "tokens"
    doc.validate()


def test_factrueval_dir_order_missing_files_and_list_txt(tmp_path):
    for name in ("book_10", "book_2"):
        _write_fre(tmp_path, name, FRE_TEXT, FRE_SPANS, FRE_OBJECTS)
    (tmp_path / "list.txt").write_text("book_2\nbook_10\n", encoding="utf-8")
    assert [d.id for d in read_factrueval_dir(tmp_path)] == ["book_2", "book_10"]
    (tmp_path / "book_10.objects").unlink()
    with pytest.raises(CorpusError, match="lacks .objects"):
        read_factrueval_dir(tmp_path)
    stats = ReadStats()
    assert [d.id for d in iter_factrueval_dir(tmp_path, lenient=True, stats=stats)] == ["book_2"]
    assert stats.skipped == {"document with a missing file": 1}
    with pytest.raises(CorpusError, match="not found"):
        read_factrueval_dir(tmp_path / "absent")
    with pytest.raises(CorpusError, match="no factRuEval documents"):
        read_factrueval_dir((tmp_path / "empty").mkdir() or tmp_path / "empty")
