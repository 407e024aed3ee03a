"""The *diplomatic* subset: documents that mention diplomacy keywords in any word form.

Keywords live in the packaged ``diplomat_ie/resources/diplomatic_keywords.yaml`` (see the comments there). A keyword is a phrase;
each of its words is a stem that matches a lower-cased text word starting with it and at most
``max_suffix`` letters longer, so "визит" matches "визитом" and "министр иностранных дел" matches
"министром иностранных дел". Phrases match consecutive words.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path

import yaml

from ..resources import resolve, resource_path
from .document import Document

DEFAULT_MAX_SUFFIX = 4
_WORD_RE = re.compile(r"[^\W\d_]+", re.UNICODE)
# Common Russian inflectional endings, longest first; stem() strips at most one of them.
_ENDINGS = sorted(
    "иями ями ами ого его ому ему ыми ими ых их ый ий ой ая яя ое ее ые ие ов ев ам ям ах ях ом ем ия ии ию "
    "ей а я о е ы и у ю ь й".split(), key=len, reverse=True)
_MIN_STEM = 3


def normalize_word(word: str) -> str:
    """Lower-case and map ``ё`` to ``е``."""
    return word.lower().replace("ё", "е")


def text_words(text: str) -> list[str]:
    """The normalised letter-only words of ``text`` (digits and punctuation split words)."""
    return [normalize_word(m.group()) for m in _WORD_RE.finditer(text)]


def normalized_text(text: str) -> str:
    """:func:`text_words` joined by single spaces: what :class:`Keyword` patterns search."""
    return " ".join(_WORD_RE.findall(normalize_word(text)))


def stem(word: str) -> str:
    """Strip one common Russian ending (the longest that leaves at least 3 letters).

    Args:
        word: a word in any case.

    Returns:
        The normalised stem: "переговоры" -> "переговор", "делегация" -> "делегац", "дел" -> "дел".
    """
    word = normalize_word(word)
    for ending in _ENDINGS:
        if word.endswith(ending) and len(word) - len(ending) >= _MIN_STEM:
            return word[: -len(ending)]
    return word


@dataclass(frozen=True)
class Keyword:
    """A keyword phrase compiled to one stem per word (plus optional exact single-word forms)."""

    phrase: str
    stems: tuple[str, ...]
    forms: frozenset[str] = field(default_factory=frozenset)
    max_suffix: int = DEFAULT_MAX_SUFFIX

    @classmethod
    def from_phrase(cls, phrase: str, max_suffix: int = DEFAULT_MAX_SUFFIX) -> Keyword:
        """A keyword whose stems are :func:`stem` of the phrase's words."""
        return cls(phrase=phrase, stems=tuple(stem(w) for w in text_words(phrase)), max_suffix=max_suffix)

    @cached_property
    def pattern(self) -> re.Pattern:
        """A regex over :func:`normalized_text` (words joined by single spaces)."""
        words = [re.escape(st) if len(st) <= 2 else re.escape(st) + rf"\S{{0,{self.max_suffix}}}"
                 for st in self.stems]
        alternatives = [" ".join(words)] + [re.escape(f) for f in sorted(self.forms)]
        return re.compile(r"(?<!\S)(?:" + "|".join(alternatives) + r")(?!\S)")

    def occurs_in(self, normalized: str) -> bool:
        """Whether the keyword occurs in a :func:`normalized_text`."""
        return self.pattern.search(normalized) is not None


def _parse_entry(entry, default_suffix: int, path: str) -> Keyword:
    if isinstance(entry, str):
        return Keyword.from_phrase(entry, default_suffix)
    if not isinstance(entry, dict) or not isinstance(entry.get("phrase"), str):
        raise ValueError(f"{path}: keyword entry {entry!r} is neither a phrase nor a mapping with 'phrase'")
    phrase = entry["phrase"]
    suffix = int(entry.get("max_suffix", default_suffix))
    stems = entry.get("stems")
    if stems is None:
        stems = [stem(w) for w in text_words(phrase)]
    stems = [normalize_word(str(s)) for s in stems]
    if len(stems) != len(text_words(phrase)) or not all(stems):
        raise ValueError(f"{path}: keyword {phrase!r} needs one non-empty stem per word, got {stems}")
    forms = frozenset(normalize_word(str(f)) for f in entry.get("forms", []))
    return Keyword(phrase=phrase, stems=tuple(stems), forms=forms, max_suffix=suffix)


def default_keywords_path() -> Path:
    """The packaged keyword list (``diplomat_ie/resources/diplomatic_keywords.yaml``)."""
    return resource_path("keywords")


def load_keywords(path: str | os.PathLike | None = None) -> list[Keyword]:
    """Load and compile the keyword list.

    Args:
        path: a YAML file with ``keywords:`` (a list of phrases or ``{phrase, stems, forms, max_suffix}``
            mappings) and an optional top-level ``max_suffix``, or ``"default"`` (a file of that name
            wins); default :func:`default_keywords_path`.

    Returns:
        The compiled keywords. Raises ``FileNotFoundError`` / ``ValueError`` on a missing or bad file.
    """
    path = resolve(path, "keywords") if path is not None else default_keywords_path()
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    entries = data.get("keywords") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise ValueError(f"{path}: expected a non-empty 'keywords:' list")
    default_suffix = int(data.get("max_suffix", DEFAULT_MAX_SUFFIX))
    return [_parse_entry(e, default_suffix, str(path)) for e in entries]


@lru_cache(maxsize=1)
def _default_keywords() -> tuple[Keyword, ...]:
    return tuple(load_keywords())


def _normalized(doc_or_text: Document | str) -> str:
    return normalized_text(doc_or_text.text if isinstance(doc_or_text, Document) else doc_or_text)


def find_keywords(doc_or_text: Document | str, keywords: Iterable[Keyword] | None = None) -> list[str]:
    """The keyword phrases that occur in a document or text, in keyword-list order.

    Args:
        doc_or_text: a :class:`Document` or a plain string.
        keywords: compiled keywords; default the repository's list (:func:`load_keywords`).

    Returns:
        The phrases of the matching keywords (each at most once).
    """
    norm = _normalized(doc_or_text)
    kws = keywords if keywords is not None else _default_keywords()
    return [kw.phrase for kw in kws if kw.occurs_in(norm)]


def is_diplomatic(doc_or_text: Document | str, keywords: Iterable[Keyword] | None = None) -> bool:
    """Whether a document or text mentions at least one diplomatic keyword.

    Args:
        doc_or_text: a :class:`Document` or a plain string.
        keywords: compiled keywords; default the repository's list.

    Returns:
        True if any keyword matches.
    """
    norm = _normalized(doc_or_text)
    kws = keywords if keywords is not None else _default_keywords()
    return any(kw.occurs_in(norm) for kw in kws)


def diplomatic_subset(docs: Iterable[Document], keywords: Iterable[Keyword] | None = None) -> list[Document]:
    """The documents that mention a diplomatic keyword, in their original order.

    Args:
        docs: the corpus.
        keywords: compiled keywords; default the repository's list.

    Returns:
        The matching documents (the same objects, not copies).
    """
    kws = list(keywords) if keywords is not None else list(_default_keywords())
    return [d for d in docs if is_diplomatic(d, kws)]
