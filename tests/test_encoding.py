"""Words, windows, ownership and offsets of the encoding layer."""

import pytest

from diplomat_ie.data.text import split_sentences, split_words, tokenize_document
from diplomat_ie.modeling.encoding import (
    Window,
    assign_ownership,
    pack_windows,
    paragraph_groups,
    window_ranges,
)


@pytest.mark.parametrize(("text", "words"), [
    ("Касым-Жомарт Токаев", ["Касым", "-", "Жомарт", "Токаев"]),
    ("66-летнему", ["66", "-", "летнему"]),
    ("5,56 мм.", ["5", ",", "56", "мм", "."]),
    ("«США»", ["«", "США", "»"]),
    ("", []),
    ("   \n\t ", []),
])
def test_split_words(text, words):
    toks = split_words(text)
    assert [t.text for t in toks] == words
    assert all(text[t.start:t.end] == t.text for t in toks)


def test_sentences_split_at_blank_lines_and_keep_offsets():
    text = "Заголовок новости\n\nПервое предложение. Второе предложение."
    spans = split_sentences(text)
    assert [text[a:b] for a, b in spans] == ["Заголовок новости", "Первое предложение.", "Второе предложение."]


def test_tokenize_document_sentence_word_ranges():
    words, sents = tokenize_document("Раз два. Три.")
    assert [w.text for w in words] == ["Раз", "два", ".", "Три", "."]
    assert sents == [(0, 3), (3, 5)]


@pytest.mark.parametrize(("sentences", "lengths", "budget", "overlap", "expected"), [
    ([(0, 2), (2, 4)], [1, 1, 1, 1], 10, 0, [(0, 4)]),  # all fits
    ([(0, 2), (2, 4), (4, 6)], [2] * 6, 8, 0, [(0, 4), (4, 6)]),
    ([(0, 2), (2, 4), (4, 6)], [2] * 6, 8, 4, [(0, 4), (2, 6)]),  # one sentence of overlap
    ([(0, 6)], [1] * 6, 4, 0, [(0, 4), (4, 6)]),  # a long sentence is cut into chunks
    ([(0, 1), (1, 2)], [9, 1], 4, 0, [(0, 1), (1, 2)]),  # a word longer than the budget stands alone
])
def test_pack_windows(sentences, lengths, budget, overlap, expected):
    assert pack_windows(sentences, lengths, budget, overlap) == expected


PARAGRAPHS = "Раз два. Три.\n\nЧетыре пять.\nШесть.\n \n\nСемь."


def test_paragraph_groups_split_at_blank_lines_only():
    words, sents = tokenize_document(PARAGRAPHS)
    groups = paragraph_groups(PARAGRAPHS, words, sents)
    shown = [[" ".join(w.text for w in words[lo:hi]) for lo, hi in g] for g in groups]
    assert shown == [["Раз два .", "Три ."], ["Четыре пять .", "Шесть ."], ["Семь ."]]  # one newline: same paragraph


@pytest.mark.parametrize(("breaks", "budget", "overlap", "expected"), [
    ("none", 100, 0, [(0, 12)]),  # the whole text in one window
    ("paragraph", 100, 0, [(0, 5), (5, 10), (10, 12)]),  # one window per paragraph
    ("none", 6, 3, [(0, 5), (3, 8), (5, 10), (8, 12)]),  # windows overlap across the blank lines
    ("paragraph", 6, 3, [(0, 5), (5, 10), (10, 12)]),  # ...never with breaks: paragraphs fit the budget
    ("paragraph", 4, 2, [(0, 3), (3, 5), (5, 8), (8, 10), (10, 12)]),  # a long paragraph is packed within itself
])
def test_window_ranges_never_cross_a_paragraph_with_breaks(breaks, budget, overlap, expected):
    words, sents = tokenize_document(PARAGRAPHS)
    assert window_ranges(PARAGRAPHS, words, sents, [1] * len(words), budget, overlap, breaks) == expected


def test_window_ranges_refuse_an_unknown_break():
    words, sents = tokenize_document(PARAGRAPHS)
    with pytest.raises(ValueError, match="window breaks must be one of none, paragraph"):
        window_ranges(PARAGRAPHS, words, sents, [1] * len(words), 10, 0, "line")


def test_pack_windows_covers_every_word_within_budget():
    sentences = [(i * 5, i * 5 + 5) for i in range(40)]
    lengths = [(i % 4) + 1 for i in range(200)]
    wins = pack_windows(sentences, lengths, 30, 10)
    covered = set()
    for lo, hi in wins:
        assert sum(lengths[lo:hi]) <= 30
        covered.update(range(lo, hi))
    assert covered == set(range(200))


def test_ownership_is_a_partition_and_prefers_the_centre():
    wins = [Window(0, 10, [], []), Window(6, 16, [], []), Window(12, 20, [], [])]
    assign_ownership(wins, 20)
    owned = [i for w in wins for i in range(w.own_lo, w.own_hi)]
    assert owned == list(range(20))
    assert wins[1].own_lo <= 8 <= wins[1].own_hi  # word 8 is central in window 1, at the edge of 0
