"""From text to model inputs: words, subwords, windows of at most ``max_length`` subwords with overlap.

Each document is split into sentences and words (exact character offsets), the words are
tokenised once (``is_split_into_words``), and sentences are packed into windows. A word that
appears in several windows is *owned* by the one where it sits farthest from an edge; its
prediction is taken from that window. Nothing is truncated: every word belongs to some window.
With ``breaks="paragraph"`` (``model.window_breaks``) each paragraph is packed on its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..config import WINDOW_BREAKS
from ..data.text import PARAGRAPH_BREAK, Token, tokenize_document


@dataclass
class Window:
    """A slice of words ``[lo, hi)`` of a document and its input ids."""

    lo: int
    hi: int
    input_ids: list[int]
    word_pos: list[int]  # position in input_ids of each word's first subword (-1: no subwords)
    own_lo: int = 0  # words [own_lo, own_hi) are owned by this window
    own_hi: int = 0


@dataclass
class EncodedDoc:
    text: str
    words: list[Token]
    sentences: list[tuple[int, int]]
    subwords: list[list[int]]
    windows: list[Window] = field(default_factory=list)


def _tokenizable(word: str) -> str:
    """``word``, with lone surrogates (legal in a Python str, rejected by the Rust tokenizer) as U+FFFD.

    Only the tokenizer sees the replacement; word offsets still index the caller's text.
    """
    if word.isascii():
        return word
    try:
        word.encode("utf-8")
    except UnicodeEncodeError:
        return "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in word)
    return word


def subword_ids(tokenizer, words: list[Token]) -> list[list[int]]:
    """Subword ids of each word (empty list when the tokenizer yields nothing for it)."""
    if not words:
        return []
    enc = tokenizer([_tokenizable(w.text) for w in words], is_split_into_words=True, add_special_tokens=False,
                    verbose=False)
    out: list[list[int]] = [[] for _ in words]
    for tok_id, word_id in zip(enc["input_ids"], enc.word_ids(), strict=True):
        if word_id is not None:
            out[word_id].append(tok_id)
    return out


def _units(sentences: list[tuple[int, int]], lengths: list[int], budget: int) -> list[tuple[int, int]]:
    """Sentences, with any sentence longer than ``budget`` subwords cut into word chunks."""
    units = []
    for lo, hi in sentences:
        start, size = lo, 0
        for i in range(lo, hi):
            n = min(lengths[i], budget)
            if size + n > budget and i > start:
                units.append((start, i))
                start, size = i, 0
            size += n
        units.append((start, hi))
    return units


def pack_windows(sentences: list[tuple[int, int]], lengths: list[int], budget: int,
                 overlap: int) -> list[tuple[int, int]]:
    """Pack sentences into word windows of at most ``budget`` subwords.

    Args:
        sentences: ``(first_word, end_word)`` per sentence, covering the words in order.
        lengths: subword count per word.
        budget: subwords per window (special tokens excluded).
        overlap: at most this many subwords of the previous window are repeated as context.

    Returns:
        ``(lo, hi)`` word ranges; consecutive windows overlap by whole units (sentences or chunks).
    """
    units = _units(sentences, [min(n, budget) for n in lengths], budget)
    cost = [sum(min(n, budget) for n in lengths[lo:hi]) for lo, hi in units]
    windows: list[tuple[int, int]] = []
    i = 0
    while i < len(units):
        j, size = i, 0
        while j < len(units) and size + cost[j] <= budget:
            size += cost[j]
            j += 1
        j = max(j, i + 1)
        windows.append((units[i][0], units[j - 1][1]))
        if j >= len(units):
            break
        # step back over whole units while they fit into the overlap and leave room for unit j: a next
        # window holding only carried units would add no new word (a wasted, redundant window)
        k, carried = j, 0
        while k - 1 > i and carried + cost[k - 1] <= overlap and carried + cost[k - 1] + cost[j] <= budget:
            carried += cost[k - 1]
            k -= 1
        i = k
    return windows


def assign_ownership(windows: list[Window], n_words: int) -> None:
    """Give each word to the window where it is farthest from a window edge (ties: earlier window)."""
    owner = [-1] * n_words
    best = [-1] * n_words
    for wi, w in enumerate(windows):
        for i in range(w.lo, w.hi):
            margin = min(i - w.lo, w.hi - 1 - i)
            if margin > best[i]:
                best[i], owner[i] = margin, wi
    for wi, w in enumerate(windows):
        owned = [i for i in range(w.lo, w.hi) if owner[i] == wi]
        w.own_lo, w.own_hi = (owned[0], owned[-1] + 1) if owned else (w.lo, w.lo)


def paragraph_groups(text: str, words: list[Token], sentences: list[tuple[int, int]]) -> list[list[tuple[int, int]]]:
    """The sentences grouped by paragraph: a new group starts after a blank line between two sentences."""
    groups: list[list[tuple[int, int]]] = []
    for k, (lo, hi) in enumerate(sentences):
        if k == 0 or PARAGRAPH_BREAK.search(text, words[sentences[k - 1][1] - 1].end, words[lo].start):
            groups.append([])
        groups[-1].append((lo, hi))
    return groups


def window_ranges(text: str, words: list[Token], sentences: list[tuple[int, int]], lengths: list[int],
                  budget: int, overlap: int, breaks: str = "none") -> list[tuple[int, int]]:
    """Word ranges of the windows: :func:`pack_windows` over the whole text, or per paragraph
    (``breaks="paragraph"``: no window holds words of two paragraphs, no overlap crosses a blank line)."""
    if breaks == "none":
        return pack_windows(sentences, lengths, budget, overlap)
    if breaks != "paragraph":
        raise ValueError(f"window breaks must be one of {', '.join(WINDOW_BREAKS)}, got {breaks!r}")
    return [r for group in paragraph_groups(text, words, sentences)
            for r in pack_windows(group, lengths, budget, overlap)]


def encode_document(text: str, tokenizer, max_length: int, overlap: int, breaks: str = "none") -> EncodedDoc:
    """Tokenise ``text`` and cut it into windows (see module docstring); ``breaks``: see :func:`window_ranges`."""
    words, sentences = tokenize_document(text)
    subwords = subword_ids(tokenizer, words)
    budget = max_length - 2
    doc = EncodedDoc(text=text, words=words, sentences=sentences, subwords=subwords)
    cls_id, sep_id = _special_ids(tokenizer)
    for lo, hi in window_ranges(text, words, sentences, [len(s) for s in subwords], budget, overlap, breaks):
        ids, pos = [cls_id], []
        for i in range(lo, hi):
            piece = subwords[i][: budget - (len(ids) - 1)]
            pos.append(len(ids) if piece else -1)
            ids.extend(piece)
        ids.append(sep_id)
        doc.windows.append(Window(lo=lo, hi=hi, input_ids=ids, word_pos=pos))
    assign_ownership(doc.windows, len(words))
    return doc


def _special_ids(tokenizer) -> tuple[int, int]:
    cls_id = tokenizer.cls_token_id if tokenizer.cls_token_id is not None else tokenizer.bos_token_id
    sep_id = tokenizer.sep_token_id if tokenizer.sep_token_id is not None else tokenizer.eos_token_id
    if cls_id is None or sep_id is None:
        raise ValueError("the tokenizer needs a CLS/BOS and a SEP/EOS token")
    return cls_id, sep_id
