"""Table-driven tests of the layered BIO encoding (slovnet test_bio style)."""

import pytest

from diplomat_ie.data.labels import assign_layers, bio_labels, bio_to_spans, char_to_word_span, spans_to_bio

BIO_CASES = [
    ([], 3, ["O", "O", "O"]),
    ([(0, 1, "PER")], 2, ["B-PER", "O"]),
    ([(0, 2, "PER"), (2, 3, "LOC")], 4, ["B-PER", "I-PER", "B-LOC", "O"]),
    ([(1, 4, "PROFESSION")], 4, ["O", "B-PROFESSION", "I-PROFESSION", "I-PROFESSION"]),
    ([(0, 1, "A"), (1, 2, "A")], 2, ["B-A", "B-A"]),
]


@pytest.mark.parametrize(("spans", "n", "tags"), BIO_CASES)
def test_spans_to_bio_and_back(spans, n, tags):
    assert spans_to_bio(spans, n) == tags
    assert bio_to_spans(tags) == sorted(spans)


@pytest.mark.parametrize(("tags", "spans"), [
    (["I-PER", "I-PER"], [(0, 2, "PER")]),  # I without B starts a span
    (["B-PER", "I-LOC"], [(0, 1, "PER"), (1, 2, "LOC")]),  # type switch
    (["O", "I-X", "O", "B-X"], [(1, 2, "X"), (3, 4, "X")]),
])
def test_bio_to_spans_is_forgiving(tags, spans):
    assert bio_to_spans(tags) == spans


@pytest.mark.parametrize(("spans", "n"), [([(0, 3, "A"), (2, 4, "B")], 4), ([(2, 5, "A")], 4)])
def test_spans_to_bio_rejects_overlap_and_out_of_range(spans, n):
    with pytest.raises(ValueError):
        spans_to_bio(spans, n)


LAYER_CASES = [
    # "Государственный секретарь США": PROFESSION contains COUNTRY
    ([(0, 3, "PROFESSION"), (2, 3, "COUNTRY")], [[(0, 3, "PROFESSION")], [(2, 3, "COUNTRY")]]),
    ([(0, 1, "A"), (2, 3, "B")], [[(0, 1, "A"), (2, 3, "B")]]),
    ([(0, 5, "A"), (1, 4, "B"), (2, 3, "C")], [[(0, 5, "A")], [(1, 4, "B")], [(2, 3, "C")]]),
    ([(0, 2, "A"), (0, 2, "A")], [[(0, 2, "A")]]),  # exact duplicates collapse
    ([(0, 2, "A"), (0, 2, "B")], [[(0, 2, "A")], [(0, 2, "B")]]),  # same span, two types
    ([(0, 3, "A"), (2, 5, "B")], [[(0, 3, "A")], [(2, 5, "B")]]),  # crossing spans
]


@pytest.mark.parametrize(("spans", "layers"), LAYER_CASES)
def test_assign_layers(spans, layers):
    assert assign_layers(spans) == layers


def test_assign_layers_max_layers_drops_deepest():
    assert assign_layers([(0, 5, "A"), (1, 4, "B"), (2, 3, "C")], max_layers=2) == [[(0, 5, "A")], [(1, 4, "B")]]


def test_bio_labels():
    assert bio_labels(["PER", "LOC"]) == ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]


@pytest.mark.parametrize(("start", "end", "expected"), [
    (0, 5, (0, 1)), (6, 11, (1, 2)), (0, 11, (0, 2)), (2, 8, (0, 2)), (5, 6, None), (12, 20, (2, 3)),
])
def test_char_to_word_span(start, end, expected):
    # words: "Марко"(0,5) "Рубио"(6,11) "!"(11,12)... third word at (12, 15)
    starts, ends = [0, 6, 12], [5, 11, 15]
    assert char_to_word_span(start, end, starts, ends) == expected
