"""Property tests (hypothesis): offsets always index the caller's text; labels and windows stay consistent.

The Extractor runs the tiny model fitted in ``test_bad_inputs.py`` (trained once per session), with
windows of 24 subwords so that fuzzed texts span several windows.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from test_bad_inputs import DOC1, check_result, train_tiny_model

from diplomat_ie.data.labels import assign_layers, bio_to_spans, char_to_word_span, spans_to_bio
from diplomat_ie.data.text import tokenize_document
from diplomat_ie.inference.extractor import Extractor
from diplomat_ie.modeling.encoding import Window, assign_ownership, encode_document, pack_windows
from diplomat_ie.modeling.io import load_tokenizer

BRAT = Path(__file__).resolve().parent / "fixtures" / "brat"
FIXTURE_WORDS = sorted({w for p in BRAT.glob("*/*.txt") for w in p.read_text(encoding="utf-8").split()})
ODD = ["\x00", "\ud800", "\udfff", "\ud83d\ude00", "😀", "👨‍👩‍👧", "\u200b", "\ufeff", "\u0301", "\u00ad",
       "\x1b", "\x7f", "\u2028", "\u2029", "\x85", "\ufffd", "\U0010ffff", "外交", "ـ", "ß", "İ", "ﬁ"]
SEPARATORS = [" ", "  ", "\n", "\n\n", "\r\n", "\r\n\r\n", "\t", "\r", "\u00a0", ". ", ".\n\n", "!", "?", ", "]

# Fixture words (the model finds entities in them), separators, odd characters, and any other text.
TEXTS = st.lists(st.one_of(st.sampled_from(FIXTURE_WORDS), st.sampled_from(FIXTURE_WORDS),
                           st.sampled_from(SEPARATORS), st.sampled_from(ODD),
                           st.text(alphabet=st.one_of(st.characters(), st.sampled_from([c for c in ODD if len(c) == 1])),
                                   max_size=6)),
                 max_size=80).map("".join)

FUZZ = settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
PURE = settings(max_examples=150, deadline=None, database=None)


@pytest.fixture(scope="module")
def ex(tmp_path_factory, tiny_backbone):
    import torch

    threads = torch.get_num_threads()
    model = train_tiny_model(tmp_path_factory.getbasetemp(), tiny_backbone)
    yield Extractor.from_pretrained(model, batch_size=16, threads=1)
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tokenizer(tiny_backbone):
    return load_tokenizer(tiny_backbone)


def test_fuzzed_texts_keep_exact_offsets(ex):
    seen = {"entities": 0, "events": 0, "arguments": 0}

    @FUZZ
    @given(TEXTS)
    @example(DOC1)  # always run: random texts alone may hold no event (CI once drew 60 without one)
    @example(DOC1.replace(" ", "\u00a0\u200b").replace("\n", "\r\n"))
    @example("😀\ud800" + DOC1.replace(".", ".\u0301\ufeff"))
    def run(text):
        res = ex(text)
        check_result(text, res)
        seen["entities"] += len(res.entities)
        seen["events"] += len(res.events)
        seen["arguments"] += sum(len(ev.arguments) for ev in res.events)

    run()
    assert seen["entities"] and seen["events"], seen  # the property was checked on real spans


def test_fuzzed_batches_equal_single_calls(ex):
    @settings(max_examples=15, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(TEXTS, min_size=1, max_size=5))
    def run(texts):
        results = ex(texts)
        assert len(results) == len(texts)
        for text, res in zip(texts, results, strict=True):
            check_result(text, res)

    run()


@FUZZ
@given(TEXTS)
def test_words_cover_every_visible_character_once(text):
    words, sentences = tokenize_document(text)
    covered = [0] * len(text)
    prev_end = 0
    for w in words:
        assert prev_end <= w.start < w.end <= len(text) and text[w.start : w.end] == w.text
        prev_end = w.end
        for i in range(w.start, w.end):
            covered[i] += 1
    for i, ch in enumerate(text):
        assert covered[i] == (0 if ch.isspace() else 1), (i, ch)
    # sentences: consecutive, non-empty, covering all words in order
    assert [lo for lo, _ in sentences] == [0, *(hi for _, hi in sentences)][: len(sentences)]
    assert all(lo < hi for lo, hi in sentences) and (sentences[-1][1] if sentences else 0) == len(words)


@FUZZ
@given(TEXTS, st.sampled_from([16, 24, 40]), st.integers(0, 7), st.sampled_from(["none", "paragraph"]))
def test_encoded_windows_fit_and_ownership_partitions_words(tokenizer, text, max_length, overlap, breaks):
    enc = encode_document(text, tokenizer, max_length, overlap, breaks)
    n = len(enc.words)
    owners = [0] * n
    for w in enc.windows:
        assert 0 <= w.lo < w.hi <= n and len(w.input_ids) <= max_length
        if breaks == "paragraph" and w.hi - w.lo > 1:  # no blank line between a window's first and last word
            assert not re.search(r"\n\s*\n", text[enc.words[w.lo].end:enc.words[w.hi - 1].start])
        assert len(w.word_pos) == w.hi - w.lo
        for i, p in enumerate(w.word_pos):
            assert p == -1 or (1 <= p < len(w.input_ids) - 1 and w.input_ids[p] == enc.subwords[w.lo + i][0])
        for i in range(w.own_lo, w.own_hi):
            owners[i] += 1
    assert owners == [1] * n


@st.composite
def packing_problems(draw):
    sizes = draw(st.lists(st.integers(1, 12), max_size=15))  # words per sentence
    n = sum(sizes)
    lengths = draw(st.lists(st.integers(0, 40), min_size=n, max_size=n))  # subwords per word (0: none)
    budget = draw(st.integers(1, 40))
    overlap = draw(st.integers(0, budget))
    sentences, lo = [], 0
    for s in sizes:
        sentences.append((lo, lo + s))
        lo += s
    return sentences, lengths, budget, overlap


@PURE
@given(packing_problems())
def test_pack_windows_covers_all_words_within_budget(problem):
    sentences, lengths, budget, overlap = problem
    n = len(lengths)
    ranges = pack_windows(sentences, lengths, budget, overlap)
    if n == 0:
        assert ranges == []
        return
    assert ranges[0][0] == 0 and ranges[-1][1] == n
    for (lo, hi), (lo2, hi2) in zip(ranges, ranges[1:], strict=False):
        assert lo < lo2 <= hi < hi2  # moves forward, no gap
    for lo, hi in ranges:
        assert lo < hi
        # over budget only when one word alone is longer (it is then cut to the budget)
        assert sum(min(x, budget) for x in lengths[lo:hi]) <= budget or hi - lo == 1
    windows = [Window(lo=lo, hi=hi, input_ids=[], word_pos=[]) for lo, hi in ranges]
    assign_ownership(windows, n)
    owned = [i for w in windows for i in range(w.own_lo, w.own_hi)]
    assert owned == list(range(n))  # a partition, in window order
    assert all(w.lo <= w.own_lo <= w.own_hi <= w.hi for w in windows)


TYPES = st.sampled_from(["PERSON", "ORG", "EVENT", "A-B"])


@st.composite
def layer_spans(draw):
    n = draw(st.integers(0, 30))
    cuts = sorted(draw(st.sets(st.integers(0, n), max_size=12)))
    spans = []
    for lo, hi in zip(cuts, cuts[1:], strict=False):
        if draw(st.booleans()):
            spans.append((lo, hi, draw(TYPES)))
    return spans, n


@PURE
@given(layer_spans())
def test_bio_round_trip(problem):
    spans, n = problem
    tags = spans_to_bio(spans, n)
    assert len(tags) == n
    assert bio_to_spans(tags) == sorted(spans)


@PURE
@given(st.lists(st.one_of(st.just("O"), TYPES.map(lambda t: "B-" + t), TYPES.map(lambda t: "I-" + t)),
                max_size=40))
def test_bio_decoding_of_any_tags_is_consistent(tags):
    spans = bio_to_spans(tags)
    covered = [False] * len(tags)
    for lo, hi, typ in spans:
        assert 0 <= lo < hi <= len(tags)
        assert all(not covered[i] for i in range(lo, hi))
        for i in range(lo, hi):
            covered[i] = True
            assert tags[i].partition("-")[2] == typ
    assert covered == [t != "O" for t in tags]
    assert bio_to_spans(spans_to_bio(spans, len(tags))) == spans


@PURE
@given(st.lists(st.tuples(st.integers(0, 20), st.integers(1, 6), TYPES), max_size=25),
       st.one_of(st.none(), st.integers(1, 4)))
def test_assign_layers_splits_nested_spans_without_overlap(raw, max_layers):
    spans = [(lo, lo + ln, t) for lo, ln, t in raw]
    layers = assign_layers(spans, max_layers)
    flat = [s for layer in layers for s in layer]
    assert len(flat) == len(set(flat)) and set(flat) <= set(spans)
    if max_layers is None:
        assert set(flat) == set(spans)
    else:
        assert len(layers) <= max_layers
    for layer in layers:
        assert layer == sorted(layer)
        for a, b in zip(layer, layer[1:], strict=False):
            assert a[1] <= b[0]
    if spans:
        assert max(s[1] - s[0] for s in layers[0]) == max(s[1] - s[0] for s in spans)


@PURE
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(1, 5)), max_size=12), st.integers(0, 60),
       st.integers(0, 20))
def test_char_to_word_span_selects_exactly_the_overlapping_words(gaps, start, length):
    starts, ends, pos = [], [], 0
    for gap, ln in gaps:
        starts.append(pos + gap)
        ends.append(pos + gap + ln)
        pos += gap + ln
    end = start + length
    got = char_to_word_span(start, end, starts, ends)
    overlapping = [i for i in range(len(starts)) if starts[i] < end and ends[i] > start]
    if not overlapping:
        assert got is None
    else:
        assert got == (overlapping[0], overlapping[-1] + 1)
