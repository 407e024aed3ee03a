"""Training windows through HF ``datasets``: documents -> ``Dataset.map`` -> windows, cached on disk.

The documents become a :class:`datasets.Dataset`; one ``map`` encodes each into its windows and its
:class:`~diplomat_ie.modeling.features.FeatureStats`, a second flattens them into one row per window.
Both write Arrow files named by a fingerprint of everything the windows depend on: the documents, the
tokenizer (its JSON), the window length and overlap, the label lists, the trigger types and the source of
the feature code. A second ``train`` on the same corpus and tokenizer loads those files instead of
encoding again; any change of these inputs gives another fingerprint, so a stale file is never read.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
from collections import Counter
from pathlib import Path
from typing import NamedTuple

import torch
from datasets import Dataset, Features, List, Value

from ..data import document as _document
from ..data import labels as _labels
from ..data import roles as _roles
from ..data import text as _text
from ..data.document import Document
from ..modeling import encoding as _encoding
from ..modeling import features as _features
from ..modeling import pair_features as _pair_features
from ..modeling import sentences as _sentences
from ..modeling.encoding import encode_document
from ..modeling.features import SENTENCE_COLUMN, FeatureStats, window_features

log = logging.getLogger(__name__)

FEATURE_COLUMNS = ("input_ids", "word_pos", "ner_labels", "span_labels", "trig_spans", "role_labels")
_INT = Value("int32")
_WINDOW = {"input_ids": List(_INT), "word_pos": List(_INT), "ner_labels": List(List(_INT)),
           "span_labels": List(List(_INT)),
           "trig_spans": List(List(_INT)), "role_labels": List(List(_INT))}
DOC_FEATURES = Features({"windows": List(_WINDOW), "stats": Value("string")})
WINDOW_FEATURES = Features({**_WINDOW, "length": _INT})
# roles.head: pair models' windows also hold these (pair_features.PAIR_COLUMNS)
_PAIR_WINDOW = {"cand_spans": List(List(_INT)), "cand_types": List(_INT), "pair_labels": List(List(_INT))}
WORD_FEATS = "word_feats"  # the extra column of a model with word features ([W][C] ints)


def feature_columns(config, word_feats: bool = False) -> tuple[str, ...]:
    """The window columns of a model with ``config``: :data:`FEATURE_COLUMNS`, plus the pair head's (and
    ``word_sentence`` with ``roles.pair_sentence``), plus ``word_feats`` when the model has word features."""
    pair = bool(config.roles) and getattr(config, "role_head", "bio") == "pair"
    sentence = (SENTENCE_COLUMN,) if pair and getattr(config, "pair_sentence", False) else ()
    return (FEATURE_COLUMNS + (_pair_features.PAIR_COLUMNS if pair else ()) + sentence
            + ((WORD_FEATS,) if word_feats else ()))


def _schemas(config, word_feats: bool = False) -> tuple[Features, Features, tuple[str, ...]]:
    """Per-document and per-window schemas and the feature columns."""
    columns = feature_columns(config, word_feats)
    window = {**_WINDOW, **(_PAIR_WINDOW if _pair_features.PAIR_COLUMNS[0] in columns else {}),
              **({SENTENCE_COLUMN: List(_INT)} if SENTENCE_COLUMN in columns else {}),
              **({WORD_FEATS: List(List(_INT))} if word_feats else {})}
    return (Features({"windows": List(window), "stats": Value("string")}), Features({**window, "length": _INT}),
            columns)


class EncodedWindows(NamedTuple):
    """What :func:`encode_windows` returns: the windows, the labelling statistics, the cache used."""

    windows: Dataset  # one row per window: FEATURE_COLUMNS and ``length`` (input ids)
    stats: Counter
    fingerprint: str
    cache_hit: bool


class WindowRows(torch.utils.data.Dataset):
    """The Trainer's view of a window :class:`~datasets.Dataset`: feature dicts and their lengths."""

    def __init__(self, windows: Dataset):
        # "head": data.extra_corpora runs (the NER head each window trains)
        known = FEATURE_COLUMNS + _pair_features.PAIR_COLUMNS + (SENTENCE_COLUMN, WORD_FEATS, "head")
        self.windows = windows.select_columns([c for c in known if c in windows.column_names])
        self.lengths: list[int] = windows["length"]

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, i: int) -> dict:
        return self.windows[int(i)]


def _code_version() -> str:
    """Hash of the source of every module the windows come from (a code change invalidates the cache)."""
    h = hashlib.sha256()
    for module in (_text, _document, _labels, _roles, _encoding, _features, _pair_features, _sentences):
        h.update(inspect.getsource(module).encode("utf-8"))
    h.update(inspect.getsource(_encode_batch).encode("utf-8"))
    return h.hexdigest()


def tokenizer_fingerprint(tokenizer) -> str:
    """Hash of the tokenizer's full JSON (vocabulary, normaliser, pre-tokeniser) and its special tokens."""
    h = hashlib.sha256(tokenizer.backend_tokenizer.to_str().encode("utf-8"))
    specials = [tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.bos_token_id, tokenizer.eos_token_id]
    h.update(json.dumps(specials).encode("utf-8"))
    return h.hexdigest()


def windows_fingerprint(doc_json: list[str], config, tokenizer, featurizer=None) -> str:
    """The cache key of the windows of ``doc_json`` (``Document.to_dict`` as JSON) under ``config``
    (and the word features of ``featurizer``, a :class:`~diplomat_ie.modeling.word_features.WordFeaturizer`)."""
    settings = {"window_length": config.window_length, "overlap": config.overlap, "num_layers": config.num_layers,
                "ner_head": config.ner_head, "max_span_width": config.max_span_width,
                "ner_labels": list(config.ner_labels), "role_labels": list(config.role_labels),
                "roles": list(config.roles), "trigger_types": list(config.trigger_types)}
    if getattr(config, "role_head", "bio") != "bio":  # bio: the key of the windows cached before roles.head
        settings["role_head"] = config.role_head
    if getattr(config, "pair_sentence", False):  # absent otherwise: other models' keys are unchanged
        settings["pair_sentence"] = True
    if getattr(config, "window_breaks", "none") != "none":  # absent otherwise: older keys are unchanged
        settings["window_breaks"] = config.window_breaks
    if featurizer is not None:  # absent otherwise: the key of a model without word features is unchanged
        settings["word_features"] = featurizer.fingerprint()
    h = hashlib.sha256()
    for part in (_code_version(), tokenizer_fingerprint(tokenizer), json.dumps(settings, sort_keys=True)):
        h.update(part.encode("utf-8"))
    for doc in doc_json:
        h.update(hashlib.sha256(doc.encode("utf-8")).digest())
    return h.hexdigest()[:32]


def _encode_batch(batch: dict, config, tokenizer, featurizer=None) -> dict:
    out: dict[str, list] = {"windows": [], "stats": []}
    for raw in batch["doc"]:
        doc = Document.from_dict(json.loads(raw))
        stats = FeatureStats()
        enc = encode_document(doc.text, tokenizer, config.window_length, config.overlap,
                              getattr(config, "window_breaks", "none"))
        # training documents get the lexicon of their fold (out of fold), see modeling.word_lexicon
        featurize = featurizer.for_doc(doc.id) if featurizer is not None else None
        out["windows"].append(window_features(doc, enc, config, stats, featurize))
        out["stats"].append(json.dumps(dict(stats.counts), sort_keys=True))
    return out


def _flatten(batch: dict, columns: tuple[str, ...] = FEATURE_COLUMNS) -> dict:
    out: dict[str, list] = {k: [] for k in (*columns, "length")}
    for windows in batch["windows"]:
        for w in windows:
            for k in columns:
                out[k].append(w[k])
            out["length"].append(len(w["input_ids"]))
    return out


def encode_windows(docs: list[Document], config, tokenizer, cache_dir: str | Path | None,
                   desc: str = "encoding train", featurizer=None) -> EncodedWindows:
    """Training windows of ``docs`` for a model with ``config`` (a ``DiplomatConfig``) and ``tokenizer``.

    Args:
        docs: the training documents.
        config: gives the window length, overlap, label lists and trigger types.
        tokenizer: the model's fast tokenizer.
        cache_dir: folder of the Arrow cache files; None: encode in memory, no cache.
        desc: progress-bar label.
        featurizer: the model's word features (``word_feats`` column), or None.

    Returns:
        :class:`EncodedWindows`; ``cache_hit`` says the windows were read from ``cache_dir``.
    """
    # documents travel as Document.to_dict JSON; switch to diplomat_ie.data.to_hf_dataset once it is there
    doc_json = [json.dumps(d.to_dict(), ensure_ascii=False, sort_keys=True) for d in docs]
    fp = windows_fingerprint(doc_json, config, tokenizer, featurizer)
    doc_schema, window_schema, columns = _schemas(config, featurizer is not None)
    files: dict[str, str | None] = {"docs": None, "windows": None}
    if cache_dir is not None:
        Path(cache_dir).mkdir(parents=True, exist_ok=True)
        files = {k: str(Path(cache_dir) / f"{k}-{fp}.arrow") for k in files}
    hit = files["windows"] is not None and all(Path(f).is_file() for f in files.values() if f)
    source = Dataset.from_dict({"doc": doc_json})
    per_doc = source.map(_encode_batch, batched=True, batch_size=32, remove_columns=["doc"], features=doc_schema,
                         fn_kwargs={"config": config, "tokenizer": tokenizer, "featurizer": featurizer},
                         new_fingerprint=f"docs-{fp}",
                         cache_file_name=files["docs"], load_from_cache_file=True, keep_in_memory=cache_dir is None,
                         desc=desc)
    windows = per_doc.map(_flatten, batched=True, batch_size=256, remove_columns=["windows", "stats"],
                          features=window_schema, fn_kwargs={"columns": columns}, new_fingerprint=f"windows-{fp}",
                          cache_file_name=files["windows"], load_from_cache_file=True,
                          keep_in_memory=cache_dir is None, desc="windows")
    stats: Counter = Counter()
    for counts in per_doc["stats"]:
        stats.update(json.loads(counts))
    if hit:
        log.info("training windows read from the cache %s (fingerprint %s)", cache_dir, fp)
    return EncodedWindows(windows=windows, stats=stats, fingerprint=fp, cache_hit=hit)
