"""diplomat-ie: nested NER and event roles for Russian diplomatic news.

``from diplomat_ie import Extractor`` is the public entry point. Heavy modules (torch, transformers)
load lazily, so the corpus layer (``diplomat_ie.data``) imports fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .config import RunConfig

__version__ = "0.1.0"
__all__ = ["DiplomatConfig", "DiplomatModel", "ExtractionResult", "Extractor", "__version__", "train"]

_LAZY = {
    "Extractor": "diplomat_ie.inference.extractor",
    "ExtractionResult": "diplomat_ie.inference.extractor",
    "DiplomatConfig": "diplomat_ie.modeling.configuration",
    "DiplomatModel": "diplomat_ie.modeling.model",
}


def train(cfg: RunConfig, resume: bool = False) -> dict:
    """Train as ``cfg`` says, scoring dev with evaluation's scorer (what ``diplomat-ie train`` runs).

    Args:
        cfg: a :class:`~diplomat_ie.config.RunConfig` (e.g. from :func:`diplomat_ie.config.load_config`).
        resume: continue from the run's last checkpoint.

    Returns:
        The run summary (see :func:`diplomat_ie.training.train.train`).
    """
    from .evaluation.evaluate import dev_scores
    from .training.train import train as train_run

    return train_run(cfg, resume=resume, scorer=dev_scores)


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'diplomat_ie' has no attribute {name!r}")
