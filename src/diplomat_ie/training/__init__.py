"""Training: the HF Trainer loop and the model card."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .train import train

__all__ = ["train"]


def __getattr__(name: str) -> Any:
    # lazy: `python -m diplomat_ie.training.launch` (the main job's batch split) needs no torch import
    if name == "train":
        from .train import train

        globals()["train"] = train  # importing the submodule bound its name to the module: the function wins
        return train
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
