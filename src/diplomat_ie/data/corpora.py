"""Named corpora and their splits (NEREL, factRuEval-2016), plus coarse type mappings for evaluation."""

from __future__ import annotations

import os
from pathlib import Path

from ..utils import DATA_ROOT_ENV, data_root
from .brat import ReadStats, read_brat_dir
from .document import CorpusError, Document, Entity
from .factrueval import read_factrueval_dir
from .jsonl import read_jsonl

# corpus name -> (folder under the data root, {split: sub-folder})
CORPORA: dict[str, tuple[str, dict[str, str]]] = {
    "nerel": ("nerel", {"train": "train", "dev": "dev", "test": "test"}),
    "factrueval": ("factrueval-2016", {"dev": "devset", "test": "testset"}),
}
_ALIASES = {"factrueval-2016": "factrueval"}

FACTRUEVAL_TO_COARSE: dict[str, str] = {"Person": "PER", "Org": "ORG", "Location": "LOC", "LocOrg": "LOC"}
NEREL_TO_COARSE: dict[str, str] = {
    "PERSON": "PER",
    "ORGANIZATION": "ORG",
    "COUNTRY": "LOC",
    "CITY": "LOC",
    "STATE_OR_PROVINCE": "LOC",
    "LOCATION": "LOC",
    "DISTRICT": "LOC",
}


def corpus_name(corpus: str) -> str | None:
    """The canonical name of a named corpus.

    Args:
        corpus: a corpus name, case-insensitive (``"NEREL"``, ``"factrueval-2016"`` ...).

    Returns:
        ``"nerel"`` or ``"factrueval"``; None if ``corpus`` names no known corpus (e.g. a path).
    """
    name = corpus.lower()
    name = _ALIASES.get(name, name)
    return name if name in CORPORA else None


def split_names(corpus: str) -> list[str]:
    """The split names of a named corpus.

    Args:
        corpus: a corpus name or a path.

    Returns:
        The splits in their usual order (``[]`` for a path corpus or an unknown name).
    """
    name = corpus_name(corpus)
    return list(CORPORA[name][1]) if name else []


def split_dir(corpus: str, split: str, root: str | os.PathLike | None = None) -> Path:
    """The folder that holds ``split`` of the named ``corpus`` under the data root.

    Args:
        corpus: ``"nerel"`` or ``"factrueval"``.
        split: one of :func:`split_names`.
        root: the data root; default :func:`diplomat_ie.utils.data_root`.

    Returns:
        The path (not checked for existence). Raises :class:`CorpusError` for an unknown corpus/split.
    """
    name = corpus_name(corpus)
    if name is None:
        raise _unknown(corpus)
    folder, splits = CORPORA[name]
    if split not in splits:
        raise CorpusError(f"corpus {name} has no split {split!r} (splits: {', '.join(splits)})")
    return data_root(root) / folder / splits[split]


def _read_path(path: Path, lenient: bool, stats: ReadStats | None) -> list[Document]:
    if path.is_file():
        return read_jsonl(path, lenient=lenient, stats=stats)
    if any(path.glob("*.tokens")):
        return read_factrueval_dir(path, lenient=lenient, stats=stats)
    return read_brat_dir(path, lenient=lenient, stats=stats)


def _unknown(corpus: str) -> CorpusError:
    return CorpusError(f"unknown corpus {corpus!r}: use one of {', '.join(CORPORA)}, "
                       "a .jsonl file or a brat/factRuEval folder")


def _missing(path: Path, what: str) -> CorpusError:
    return CorpusError(f"{what} not found (looked for {path}). Set {DATA_ROOT_ENV} to the folder that "
                       "holds nerel/ and factrueval-2016/, put them under ./data/, or fetch them there "
                       "with scripts/download_data.py", str(path))


def load_split(corpus: str | os.PathLike, split: str | None = None, root: str | os.PathLike | None = None,
               lenient: bool = False, stats: ReadStats | None = None) -> list[Document]:
    """Load one split of a corpus.

    Args:
        corpus: ``"nerel"`` (splits train/dev/test) or ``"factrueval"`` (dev/test); or a path to a
            ``.jsonl`` file, a brat folder or a factRuEval folder (then ``split`` is ignored).
        split: the split name (required for a named corpus).
        root: the data root; default :func:`diplomat_ie.utils.data_root` (``$DIPLOMAT_IE_DATA``, else
            ``./data`` once it holds a corpus, else ``../shared/datasets``).
        lenient: skip malformed lines (counted in ``stats``) instead of raising.
        stats: collects the read statistics.

    Returns:
        The split's documents. Raises :class:`CorpusError` if the folder/file is missing (naming the
        path looked for) or malformed.
    """
    corpus = os.fspath(corpus)
    if corpus_name(corpus) is None:
        path = Path(corpus)
        if path.exists():
            return _read_path(path, lenient, stats)
        if path.suffix == ".jsonl" or "/" in corpus or os.sep in corpus:
            raise _missing(path, "corpus path")
        raise _unknown(corpus)
    if split is None:
        raise CorpusError(f"corpus {corpus} needs a split (one of {', '.join(split_names(corpus))})")
    path = split_dir(corpus, split, root)
    if not path.is_dir():
        raise _missing(path, f"{corpus} {split} folder")
    if corpus_name(corpus) == "factrueval":
        return read_factrueval_dir(path, lenient=lenient, stats=stats)
    return read_brat_dir(path, lenient=lenient, stats=stats)


def to_coarse(docs: list[Document], mapping: dict[str, str]) -> list[Document]:
    """Copies of ``docs`` whose entities are mapped to coarse types; unmapped entities are dropped.

    Args:
        docs: the documents (not modified).
        mapping: e.g. :data:`NEREL_TO_COARSE` or :data:`FACTRUEVAL_TO_COARSE`.

    Returns:
        New documents with mapped entities and only the relations whose two arguments were kept.
    """
    out = []
    for doc in docs:
        ents = [Entity(id=e.id, type=mapping[e.type], spans=list(e.spans), text=e.text, score=e.score)
                for e in doc.entities if e.type in mapping]
        kept = {e.id for e in ents}
        rels = [r for r in doc.relations if r.arg1 in kept and r.arg2 in kept]
        out.append(Document(id=doc.id, text=doc.text, entities=ents, relations=rels, source=doc.source))
    return out
