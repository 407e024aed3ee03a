"""How far apart in slovnet's dependency tree are event triggers and their arguments? (an analysis, not a test)

For each gold trigger of a NEREL split and each gold entity in the trigger's sentence, prints the share of
(trigger, entity) pairs by tree distance between the spans' head words (the first word whose syntactic
head is outside the span; 6 = 6 or more, or not connected), grouped by the word gap, for agents, any role
and no role. It measures whether a syntax-path feature in the pair role head could help long-distance
arguments. Needs the natasha wheel (a core dependency; its syntax model is package data).

    python scripts/syntax_paths.py --split test
"""

from __future__ import annotations

import argparse
import collections
import time
from types import SimpleNamespace

from natasha import NewsEmbedding, NewsSyntaxParser

from diplomat_ie.data.corpora import load_docs
from diplomat_ie.data.roles import document_events
from diplomat_ie.data.text import tokenize_document
from diplomat_ie.modeling.features import doc_word_spans
from diplomat_ie.modeling.sentences import window_sentence_ids

GROUPS = ((0, 4, "0-3"), (4, 10, "4-9"), (10, 20, "10-19"), (20, 10**9, "20+"))


def parse_heads(parser, words, sents) -> list[int]:
    """Each document word's syntactic head (document word index; -1: the sentence root)."""
    head = [-1] * len(words)
    for (a, _), markup in zip(sents, parser.map([[w.text for w in words[a:b]] for a, b in sents]), strict=True):
        for i, tok in enumerate(markup.tokens):
            h = int(tok.head_id) - 1
            head[a + i] = a + h if h >= 0 else -1
    return head


def tree_distance(head: list[int], a: int, b: int) -> int:
    """Edges between words ``a`` and ``b`` (99 when they are not connected)."""
    def ancestors(w: int) -> list[int]:
        out = [w]
        while head[out[-1]] >= 0 and len(out) < 40:
            out.append(head[out[-1]])
        return out
    up = {w: k for k, w in enumerate(ancestors(a))}
    return next((up[w] + k for k, w in enumerate(ancestors(b)) if w in up), 99)


def span_head(head: list[int], lo: int, hi: int) -> int:
    return next((i for i in range(lo, hi) if not lo <= head[i] < hi), lo)


def pair_rows(docs, parser) -> list[tuple[str, int, int]]:
    """``(role or "none", word gap, tree distance)`` of every same-sentence (trigger, gold entity) pair."""
    rows = []
    for doc in docs:
        words, sents = tokenize_document(doc.text)
        head = parse_heads(parser, words, sents)
        sid = window_sentence_ids(sents, 0, len(words))
        spans = doc_word_spans(doc, SimpleNamespace(words=words))  # reads only the encoded doc's words
        for ev in document_events(doc):
            t = spans.get(ev.trigger.id)
            if t is None:
                continue
            roles = {spans[a.entity.id]: a.role for a in ev.arguments if a.entity.id in spans}
            for s in sorted({spans[e.id] for e in doc.entities if e.id in spans} - {t}):
                if sid[s[0]] != sid[t[0]]:
                    continue
                gap = s[0] - t[1] if s[0] >= t[1] else (t[0] - s[1] if s[1] <= t[0] else 0)
                rows.append((roles.get(s, "none"), gap, tree_distance(head, span_head(head, *t), span_head(head, *s))))
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--split", default="dev")
    a = p.parse_args()
    docs = load_docs("nerel", a.split, lenient=True)
    start = time.perf_counter()
    rows = pair_rows(docs, NewsSyntaxParser(NewsEmbedding()))
    print(f"{len(docs)} documents, {len(rows)} pairs, {time.perf_counter() - start:.1f} s")
    for lo, hi, name in GROUPS:
        for label, keep in (("agent", lambda r: r == "agent"), ("any role", lambda r: r != "none"),
                            ("none", lambda r: r == "none")):
            ds = [min(d, 6) for r, g, d in rows if lo <= g < hi and keep(r)]
            c = collections.Counter(ds)
            shares = " ".join(f"{k}:{100 * c[k] / len(ds):.0f}%" for k in sorted(c)) if ds else "-"
            print(f"gap {name:>5} {label:>8} n={len(ds):5d}  {shares}")


if __name__ == "__main__":
    main()
