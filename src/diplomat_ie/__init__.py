"""diplomat-ie: nested NER and event roles for Russian diplomatic news.

``from diplomat_ie import Extractor`` is the public entry point. Heavy modules (torch, transformers)
load lazily, so the corpus layer (``diplomat_ie.data``) imports fast.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"
__all__ = ["DiplomatConfig", "DiplomatModel", "ExtractionResult", "Extractor", "__version__", "train"]

_LAZY = {
    "Extractor": "diplomat_ie.inference.extractor",
    "ExtractionResult": "diplomat_ie.inference.extractor",
    "DiplomatConfig": "diplomat_ie.modeling.configuration",
    "DiplomatModel": "diplomat_ie.modeling.model",
    "train": "diplomat_ie.training.train",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'diplomat_ie' has no attribute {name!r}")
