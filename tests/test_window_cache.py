"""Training windows through ``datasets.map``: a second encoding reads the cache, a changed input misses it,
and the windows equal the plain (uncached) encoding."""

from __future__ import annotations

from pathlib import Path

import pytest

from diplomat_ie.config import load_config
from diplomat_ie.modeling.configuration import DiplomatConfig
from diplomat_ie.modeling.io import build_model
from diplomat_ie.training import windows as W
from diplomat_ie.training.train import load_training_docs, make_features

ROOT = Path(__file__).resolve().parents[1]
BRAT = ROOT / "tests" / "fixtures" / "brat"


def _model(backbone: Path, max_length: int = 16):
    cfg = load_config("default",
                      {"data.corpus": str(BRAT), "model.backbone": str(backbone), "model.word_vectors": "null",
                       "model.max_length": str(max_length), "model.overlap": "4", "model.num_layers": "2"})
    docs, _ = load_training_docs(cfg)
    types = sorted({e.type for d in docs for e in d.entities})
    model, tokenizer = build_model(DiplomatConfig.from_run_config(cfg, entity_types=types))
    return docs, model, tokenizer


@pytest.fixture
def counted(monkeypatch):
    """Counts the documents the window map actually encodes."""
    calls = []
    real = W.encode_document

    def encode(text, *args, **kwargs):
        calls.append(text)
        return real(text, *args, **kwargs)

    monkeypatch.setattr(W, "encode_document", encode)
    return calls


def _rows(encoded) -> list[dict]:
    rows = W.WindowRows(encoded.windows)
    return [rows[i] for i in range(len(rows))]


def test_second_encoding_reads_the_cache_and_matches_the_uncached_windows(tiny_backbone, tmp_path, counted):
    docs, model, tok = _model(tiny_backbone)
    reference, ref_stats = make_features(docs, model, tok, "reference")
    cache = tmp_path / "cache"

    first = W.encode_windows(docs, model.config, tok, cache)
    assert not first.cache_hit and len(counted) == len(docs)
    second = W.encode_windows(docs, model.config, tok, cache)
    assert second.cache_hit and len(counted) == len(docs)  # nothing encoded the second time
    assert second.fingerprint == first.fingerprint
    assert [Path(f["filename"]).parent for f in second.windows.cache_files] == [cache]
    assert sorted(p.name for p in cache.iterdir()) == sorted(f"{k}-{first.fingerprint}.arrow"
                                                             for k in ("docs", "windows"))

    assert _rows(first) == _rows(second) == reference
    assert dict(first.stats) == dict(second.stats) == dict(ref_stats) and ref_stats["arguments"] > 0
    assert W.WindowRows(second.windows).lengths == [len(f["input_ids"]) for f in reference]

    uncached = W.encode_windows(docs, model.config, tok, None)
    assert not uncached.cache_hit and uncached.windows.cache_files == []
    assert _rows(uncached) == reference


def test_another_window_length_or_tokenizer_misses_the_cache(tiny_backbone, tmp_path, counted):
    docs, model, tok = _model(tiny_backbone)
    cache = tmp_path / "cache"
    base = W.encode_windows(docs, model.config, tok, cache)

    _, model24, tok24 = _model(tiny_backbone, max_length=24)
    longer = W.encode_windows(docs, model24.config, tok24, cache)
    assert not longer.cache_hit and longer.fingerprint != base.fingerprint
    assert _rows(longer) == make_features(docs, model24, tok24, "reference")[0]

    tok.add_tokens(["Лавров"])  # the same files, another vocabulary
    other = W.encode_windows(docs, model.config, tok, cache)
    assert not other.cache_hit and other.fingerprint not in (base.fingerprint, longer.fingerprint)
    assert len(counted) == 3 * len(docs)

    fewer = W.encode_windows(docs[:-1], model.config, tok, cache)  # another corpus
    assert not fewer.cache_hit and len(counted) == 4 * len(docs) - 1
