"""Typed run configuration: dataclasses grouped by concern (:mod:`.schema`), loaded from YAML and overridable from
the CLI (:mod:`.loading`).

``diplomat-ie train --config default --training.batch_size 8 --model.max_length 192`` (a packaged config
name, see :mod:`diplomat_ie.resources`, or a YAML path)
"""

from .loading import SECTIONS, load_config, parse_mapping, parse_overrides, run_config_from_dict
from .schema import (
    MAIN_HEAD,
    NER_DECODINGS,
    NER_HEADS,
    ROLE_HEADS,
    SPAN_LOSS_SCALES,
    WINDOW_BREAKS,
    WORD_LEXICON_GROUPS,
    ConfigError,
    DataConfig,
    ExtraCorpusConfig,
    ModelConfig,
    RolesConfig,
    RunConfig,
    TrainingConfig,
)

__all__ = ["MAIN_HEAD", "NER_DECODINGS", "NER_HEADS", "ROLE_HEADS", "SECTIONS", "SPAN_LOSS_SCALES", "WINDOW_BREAKS",
           "WORD_LEXICON_GROUPS", "ConfigError", "DataConfig", "ExtraCorpusConfig", "ModelConfig", "RolesConfig",
           "RunConfig", "TrainingConfig", "load_config", "parse_mapping", "parse_overrides", "run_config_from_dict"]
