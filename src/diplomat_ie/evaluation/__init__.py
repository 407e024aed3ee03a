"""Evaluation: strict nested span scores, per-layer seqeval, PER/ORG/LOC, event roles."""

from .metrics import prf, score_sets

__all__ = ["prf", "score_sets"]
