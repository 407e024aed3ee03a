"""``data.extra_corpora``: more training corpora, each training its own NER head on the shared encoder.

Every window carries the id of the head it trains (``head``: 0 = the main head, ``i`` = the ``i``-th of
``DiplomatConfig.extra_heads``); the windows of all corpora are shuffled together, so a batch mixes
corpora and :func:`~diplomat_ie.modeling.model.mixed_ner_loss` sends each window's labels to its own
head only. An extra corpus's windows are labelled under its head's types and depth, and carry no event
triggers (the role head trains on the main corpus only).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import NamedTuple

from datasets import Dataset, concatenate_datasets

from ..config import MAIN_HEAD, ConfigError, ExtraCorpusConfig, RunConfig
from ..data.corpora import load_docs
from ..data.document import CorpusError, Document
from ..data.labels import bio_labels
from .windows import encode_windows


class ExtraDocs(NamedTuple):
    """One ``data.extra_corpora`` entry and its training documents."""

    position: int  # in data.extra_corpora
    entry: ExtraCorpusConfig
    docs: list[Document]


@dataclass(frozen=True)
class HeadView:
    """What window labelling reads from a model config, for one extra head (layered BIO, whatever the
    main head is; no roles, no triggers)."""

    window_length: int
    overlap: int
    num_layers: int
    ner_labels: tuple[str, ...]
    roles: tuple[str, ...] = ()
    role_labels: tuple[str, ...] = ("O",)
    trigger_types: tuple[str, ...] = ()
    ner_head: str = "layered"
    is_span: bool = False
    max_span_width: int = 0
    span_labels: tuple[str, ...] = ()
    role_head: str = "bio"
    window_breaks: str = "none"


def head_view(config, head: str) -> HeadView:
    """The labelling view of ``config``'s extra head ``head``."""
    spec = config.extra_heads[head]
    return HeadView(config.window_length, config.overlap, int(spec["num_layers"]),
                    tuple(bio_labels(spec["entity_types"])),
                    window_breaks=getattr(config, "window_breaks", "none"))


def load_extra_corpora(cfg: RunConfig) -> list[ExtraDocs]:
    """The documents of every ``data.extra_corpora`` entry (``max_docs`` applied).

    Raises:
        ConfigError: an entry's corpus cannot be read or has no documents (naming the entry).
    """
    out = []
    for i, e in enumerate(cfg.data.extra_corpora):
        try:
            docs = load_docs(e.corpus, e.split, root=cfg.data.root, lenient=cfg.data.lenient)
        except CorpusError as exc:
            raise ConfigError(f"data.extra_corpora[{i}]: {exc}") from exc
        if e.max_docs:
            docs = docs[: e.max_docs]
        if not docs:
            raise ConfigError(f"data.extra_corpora[{i}]: no documents in {e.corpus} ({e.split})")
        out.append(ExtraDocs(i, e, docs))
    return out


def found_types(extras: list[ExtraDocs]) -> dict[str, list[str]]:
    """Each head's entity types seen in its corpora (sorted)."""
    types: dict[str, set[str]] = {}
    for x in extras:
        types.setdefault(x.entry.head or "", set()).update(e.type for d in x.docs for e in d.entities)
    return {h: sorted(t) for h, t in types.items()}


def split_main(extras: list[ExtraDocs]) -> tuple[list[Document], list[ExtraDocs]]:
    """The documents of entries with head ``main`` (they join the main corpus) and the other entries."""
    main = [d for x in extras if x.entry.head == MAIN_HEAD for d in x.docs]
    return main, [x for x in extras if x.entry.head != MAIN_HEAD]


def check_saved_heads(config, extras: list[ExtraDocs], source: str) -> None:
    """With ``model.init_from``: each extra head's saved types cover the types of its corpora."""
    for head, types in found_types(extras).items():
        entry = next(x for x in extras if x.entry.head == head)
        if entry.entry.types:  # the head's types were given (and matched): other types are dropped
            continue
        missing = sorted(set(types) - set(config.extra_heads[head]["entity_types"]))
        if missing:
            raise ConfigError(f"data.extra_corpora[{entry.position}]: head {head!r} of {source} does not know "
                              f"the entity types {missing}")


def mix_windows(main: Dataset, extras: list[ExtraDocs], config, tokenizer, cache_dir,
                featurizer=None) -> tuple[Dataset, Counter, list[dict]]:
    """The main corpus's windows and every extra corpus's in one dataset with a ``head`` column.

    Args:
        main: the main corpus's windows (:func:`~.windows.encode_windows`).
        extras: the extra corpora (head ``main`` excluded).
        config: the model's ``DiplomatConfig`` (its ``extra_heads`` give the head ids).
        tokenizer: the model's tokenizer.
        cache_dir: the window cache folder (None: no cache).
        featurizer: the model's word features (``model.word_vectors`` / ``model.word_lexicon``), or None.

    Returns:
        ``(windows, stats, info)``: the stats of the extra corpora (keys prefixed ``<head>/``) and one
        ``{"corpus", "split", "head", "docs", "windows", "cache_hit"}`` per entry.
    """
    heads = list(config.extra_heads)
    parts = [main.add_column("head", [0] * len(main))]
    stats: Counter = Counter()
    info = []
    for x in extras:
        head = x.entry.head or ""
        enc = encode_windows(x.docs, head_view(config, head), tokenizer, cache_dir,
                             desc=f"encoding {x.entry.corpus} ({x.entry.split})", featurizer=featurizer)
        windows = _pad_columns(enc.windows, main)
        parts.append(windows.add_column("head", [1 + heads.index(head)] * len(windows)))
        stats.update({f"{head}/{k}": v for k, v in enc.stats.items()})
        info.append({"corpus": x.entry.corpus, "split": x.entry.split, "head": head, "docs": len(x.docs),
                     "windows": len(enc.windows), "cache_hit": enc.cache_hit})
    return concatenate_datasets(parts), stats, info


def _pad_columns(windows: Dataset, main: Dataset) -> Dataset:
    """``windows`` with the columns only the main corpus's windows have (roles.head: pair's candidates)
    added empty, in the main windows' types, so that the two concatenate."""
    missing = [c for c in main.column_names if c not in windows.column_names]
    if not missing:
        return windows
    features = windows.features.copy()
    features.update({c: main.features[c] for c in missing})
    return windows.map(lambda _: {c: [] for c in missing}, features=features, keep_in_memory=True,
                       desc="extra windows: empty main-only columns")
