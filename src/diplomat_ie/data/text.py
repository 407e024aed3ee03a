"""Sentence and word splitting with exact character offsets (razdel sentences, fine-grained words)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from razdel import sentenize

# Letters, digit runs, or one other non-space character: splits "66-летнему" and "Касым-Жомарт"
# at the hyphen so that NEREL entity boundaries fall on word boundaries.
_WORD_RE = re.compile(r"[^\W\d_]+|\d+|[^\w\s]|_", re.UNICODE)


@dataclass(frozen=True)
class Token:
    """A word with its half-open character span into the document text."""

    start: int
    end: int
    text: str


def split_words(text: str, offset: int = 0) -> list[Token]:
    """Split ``text`` into words; offsets are shifted by ``offset``."""
    return [Token(m.start() + offset, m.end() + offset, m.group()) for m in _WORD_RE.finditer(text)]


PARAGRAPH_BREAK = re.compile(r"\n\s*\n")  # a blank line: where split_sentences ends a paragraph


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans ``(start, end)`` from razdel, also split at blank lines (titles, datelines)."""
    spans = []
    for para in re.finditer(r"[^\n]+(?:\n(?!\s*\n)[^\n]*)*", text):
        base = para.start()
        for s in sentenize(para.group()):
            if s.text.strip():
                spans.append((base + s.start, base + s.stop))
    return spans


def tokenize_document(text: str) -> tuple[list[Token], list[tuple[int, int]]]:
    """Words of the whole text and sentence boundaries as ``(first_word, end_word)`` index pairs."""
    words: list[Token] = []
    sentences: list[tuple[int, int]] = []
    for start, end in split_sentences(text):
        toks = split_words(text[start:end], offset=start)
        if toks:
            sentences.append((len(words), len(words) + len(toks)))
            words.extend(toks)
    return words, sentences
