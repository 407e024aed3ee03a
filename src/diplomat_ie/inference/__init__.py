"""Inference: the :class:`Extractor` and its result types."""

from .extractor import ExtractedArgument, ExtractedEntity, ExtractedEvent, ExtractionResult, Extractor

__all__ = ["ExtractedArgument", "ExtractedEntity", "ExtractedEvent", "ExtractionResult", "Extractor"]
