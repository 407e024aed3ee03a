"""Corpus statistics on tiny documents, their rendering, and the ``data stats`` entry point."""

from __future__ import annotations

from diplomat_ie.data.document import Document, Entity, Relation, Span
from diplomat_ie.data.jsonl import write_jsonl
from diplomat_ie.data.stats import corpus_stats, entity_layers, format_stats, run_data_stats

TEXT = "Министр иностранных дел России Сергей Лавров посетил Париж. Визит длился два дня."


def _ent(eid: str, typ: str, *fragments: str) -> Entity:
    spans = []
    for frag in fragments:
        start = TEXT.index(frag)
        spans.append(Span(start, start + len(frag)))
    return Entity(eid, typ, spans, " ".join(fragments))


def _doc() -> Document:
    ents = [
        _ent("T1", "PROFESSION", "Министр иностранных дел России"),
        _ent("T2", "COUNTRY", "России"),
        _ent("T3", "PERSON", "Сергей Лавров"),
        _ent("T4", "EVENT", "посетил"),
        _ent("T5", "CITY", "Париж"),
        _ent("T6", "ORGANIZATION", "иностранных дел России"),
        _ent("T7", "EVENT", "Визит", "два дня"),  # discontinuous
        _ent("T8", "CITY", "Париж"),  # duplicate of T5
    ]
    rels = [Relation("R1", "AGENT", "T3", "T4"), Relation("R2", "TAKES_PLACE_IN", "T4", "T5"),
            Relation("R3", "WORKS_AS", "T3", "T1")]
    return Document("d1", TEXT, ents, rels)


def test_corpus_stats_tiny_document():
    s = corpus_stats([_doc(), Document("empty", "Футбол.")])
    assert (s["documents"], s["sentences"], s["tokens"]) == (2, 3, 16)
    assert s["entities"] == 8 and s["duplicate_entities"] == 1 and s["discontinuous_entities"] == 1
    assert s["entity_types"] == {"CITY": 2, "EVENT": 2, "COUNTRY": 1, "ORGANIZATION": 1, "PERSON": 1,
                                 "PROFESSION": 1}
    # layers: 0 = profession, person, event, city, визит..дня; 1 = organisation; 2 = country
    assert s["doc_depth"] == {0: 1, 3: 1} and s["max_depth"] == 3
    assert s["entity_layers"] == {0: 5, 1: 1, 2: 1}
    assert s["relations"] == 3 and s["relation_types"] == {"AGENT": 1, "TAKES_PLACE_IN": 1, "WORKS_AS": 1}
    assert (s["events"], s["event_arguments"]) == (2, 2)
    assert s["event_roles"] == {"agent": 1, "place": 1}
    assert s["diplomatic_documents"] == 1


def test_entity_layers_are_char_level():
    layers = entity_layers(_doc())
    assert [len(layer) for layer in layers] == [5, 1, 1]
    assert layers[2] == [(TEXT.index("России"), TEXT.index("России") + 6, "COUNTRY")]


def test_empty_corpus_and_format():
    empty = corpus_stats([])
    assert empty["documents"] == 0 and empty["max_depth"] == 0 and empty["entity_types"] == {}
    text = format_stats({"train": corpus_stats([_doc()]), "dev": empty})
    lines = text.splitlines()
    assert lines[0].split("|")[2:4] == [" train ", " dev "]
    row = next(line for line in lines if line.startswith("| documents "))
    assert [c.strip() for c in row.strip("|").split("|")] == ["documents", "1", "0"]
    assert "Entities per layer (0 = outermost):" in text and "| PROFESSION" in text
    assert "| agent" in text and "Relations per type:" in text


def test_run_data_stats_on_paths_and_named_corpus(tmp_path):
    path = tmp_path / "mini.jsonl"
    write_jsonl([_doc()], path)
    out = run_data_stats(str(path))
    assert out.startswith(f"Corpus: {path}") and "| statistic" in out and "mini.jsonl" in out
    dev = tmp_path / "nerel" / "dev"
    dev.mkdir(parents=True)
    (dev / "a.txt").write_text("Посол прибыл.", encoding="utf-8")
    (dev / "a.ann").write_text("T1\tPROFESSION 0 5\tПосол\nbroken line\n", encoding="utf-8")
    out = run_data_stats("nerel", splits=["dev"], root=tmp_path, lenient=True)
    assert "| diplomatic-subset documents" in out and "dev: skipped 1 malformed line" in out


def test_span_width_coverage_is_counted_in_words():
    from collections import Counter

    from diplomat_ie.data.stats import entity_widths, span_width_coverage

    # T7 (discontinuous «Визит» + «два дня») counts by its full extent «Визит длился два дня»
    assert entity_widths(_doc()) == [4, 1, 2, 1, 1, 3, 4, 1]
    s = corpus_stats([_doc()])
    assert s["max_entity_width"] == 4
    assert [s["span_width_coverage"][w] for w in (1, 2, 3, 4, 12)] == [50.0, 62.5, 75.0, 100.0, 100.0]
    assert span_width_coverage(Counter()) == {}
    assert span_width_coverage(Counter({1: 3, 5: 1}), at=(1, 4, 5)) == {1: 75.0, 4: 75.0, 5: 100.0}
    text = format_stats({"train": s})
    assert "Entities no longer than w words, %" in text and "| 12 " in text
    assert text.index("| 2 ") < text.index("| 10 ")  # widths in numeric order
    assert "| longest entity (words)" in text
