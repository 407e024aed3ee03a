"""Training: the HF Trainer loop and the model card."""

from .train import train

__all__ = ["train"]
