"""Named corpora and their splits (NEREL, factRuEval-2016), corpus paths and ``hf:`` datasets, plus coarse
type mappings for evaluation."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from ..utils import DATA_ROOT_ENV, data_root
from .brat import ReadStats, read_brat_dir
from .document import CorpusError, Document, Entity
from .factrueval import read_factrueval_dir
from .hf import (
    HF_PREFIX,
    from_hf_dataset,
    is_saved_dataset,
    load_hf,
    load_saved,
    open_hf,
    open_saved,
    pick_split,
    to_hf_dataset,
)
from .jsonl import read_jsonl

if TYPE_CHECKING:
    from datasets import DatasetDict

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
# Scoring NEREL-typed predictions against factRuEval-2016 gold: factRuEval's Location objects include
# named facilities (squares, airports, the Capitol) and its Facility type is all but unused, so NEREL's
# FACILITY counts as LOC there. NEREL_TO_COARSE (NEREL against NEREL) keeps FACILITY out.
NEREL_TO_FACTRUEVAL: dict[str, str] = {**NEREL_TO_COARSE, "FACILITY": "LOC"}


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


def _read_path(path: Path, split: str | None, lenient: bool, stats: ReadStats | None) -> list[Document]:
    if path.is_file():
        return read_jsonl(path, lenient=lenient, stats=stats)
    if is_saved_dataset(path):
        return from_hf_dataset(load_saved(path, split), lenient=lenient, stats=stats, source=str(path))
    if any(path.glob("*.tokens")):
        return read_factrueval_dir(path, lenient=lenient, stats=stats)
    return read_brat_dir(path, lenient=lenient, stats=stats)


def _unknown(corpus: str) -> CorpusError:
    return CorpusError(f"unknown corpus {corpus!r}: use one of {', '.join(CORPORA)}, a .jsonl file, a "
                       f"brat/factRuEval folder, a save_to_disk folder or {HF_PREFIX}<name>[:<config>]")


def _missing(path: Path, what: str) -> CorpusError:
    return CorpusError(f"{what} not found (looked for {path}). Set {DATA_ROOT_ENV} to the folder that "
                       "holds nerel/ and factrueval-2016/, put them under ./data/, or fetch them there "
                       "with scripts/download_data.py", str(path))


def load_split(corpus: str | os.PathLike, split: str | None = None, root: str | os.PathLike | None = None,
               lenient: bool = False, stats: ReadStats | None = None) -> list[Document]:
    """Load one split of a corpus.

    Args:
        corpus: ``"nerel"`` (splits train/dev/test) or ``"factrueval"`` (dev/test); a path to a
            ``.jsonl`` file, a brat folder or a factRuEval folder (then ``split`` is ignored); a folder
            written by ``save_to_disk`` (a ``DatasetDict``'s needs ``split``); or
            ``hf:<name>[:<config>]`` for ``datasets.load_dataset`` (a hub name or a local folder).
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
    if corpus.startswith(HF_PREFIX):
        return from_hf_dataset(load_hf(corpus, split), lenient=lenient, stats=stats, source=corpus)
    if corpus_name(corpus) is None:
        path = Path(corpus)
        if path.exists():
            return _read_path(path, split, lenient, stats)
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


def _split_folders(path: Path) -> list[str]:
    """The split sub-folders of a folder of splits (brat, factRuEval or saved datasets)."""
    if not path.is_dir() or any(path.glob("*.txt")):
        return []
    return sorted(p.name for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")
                  and (any(p.glob("*.txt")) or is_saved_dataset(p)))


def load_corpus(corpus: str | os.PathLike = "nerel", splits: list[str] | None = None,
                root: str | os.PathLike | None = None, lenient: bool = False) -> DatasetDict:
    """A corpus as a ``datasets.DatasetDict`` of its splits (columns: :func:`~diplomat_ie.data.hf.hf_features`).

    Args:
        corpus: anything :func:`load_split` takes, or a folder of split folders (as ``data.corpus``).
        splits: the splits to load; default all: a named corpus's, a saved ``DatasetDict``'s or hub
            dataset's, a folder's split sub-folders; a single file or folder is the split ``train``.
        root: the data root for a named corpus; default :func:`diplomat_ie.utils.data_root`.
        lenient: skip malformed lines/rows instead of raising.

    Returns:
        One ``Dataset`` per split; every document was validated on the way (offsets, entity texts,
        relation arguments). Raises :class:`CorpusError` like :func:`load_split`.
    """
    from datasets import DatasetDict

    corpus = os.fspath(corpus)
    path = Path(corpus)
    if corpus.startswith(HF_PREFIX) or is_saved_dataset(path):
        dd = open_hf(corpus) if corpus.startswith(HF_PREFIX) else open_saved(path)
        dd = dd if isinstance(dd, DatasetDict) else DatasetDict({"train": dd})
        docs = {s: from_hf_dataset(pick_split(dd, s, corpus), lenient=lenient, source=f"{corpus}[{s}]")
                for s in (splits or list(dd))}
    elif corpus_name(corpus) is not None:
        docs = {s: load_split(corpus, s, root=root, lenient=lenient) for s in (splits or split_names(corpus))}
    elif folders := _split_folders(path):
        docs = {s: load_split(path / s, s, lenient=lenient) for s in (splits or folders)}
    else:
        if splits is not None and len(splits) != 1:
            raise CorpusError(f"holds a single split; got splits {splits}", corpus)
        docs = {(splits or ["train"])[0]: load_split(corpus, lenient=lenient)}
    return DatasetDict({s: to_hf_dataset(d) for s, d in docs.items()})


def load_docs(corpus: str | os.PathLike, split: str, root: str | os.PathLike | None = None,
              lenient: bool = False) -> list[Document]:
    """A named corpus split, or ``<folder>/<split>`` when ``corpus`` is a folder of split folders.

    Args:
        corpus: a corpus name, a folder of split folders, or a brat folder / JSONL file.
        split: the split name.
        root: the data root (named corpora only).
        lenient: skip and count malformed annotation lines.

    Returns:
        The split's documents (see :func:`load_split`).
    """
    if Path(corpus, split).is_dir():
        return load_split(str(Path(corpus, split)), root=root, lenient=lenient)
    return load_split(corpus, split, root=root, lenient=lenient)


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
