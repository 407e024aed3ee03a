"""Trigger lexicon: extra event triggers found by word patterns (the packaged ``"default"`` lexicon is
``diplomat_ie/resources/trigger_lexicon.yaml``)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

import yaml

from ..resources import ResourceNotFoundError, resolve
from .document import CorpusError


@dataclass(frozen=True)
class TriggerLexicon:
    """Whole-word, case-insensitive patterns (ё read as е) that mark a word as a trigger of ``type``."""

    patterns: tuple[str, ...]
    type: str = "EVENT"

    def __post_init__(self) -> None:
        object.__setattr__(self, "_regex", re.compile("|".join(f"(?:{p})" for p in self.patterns)))

    def matches(self, word: str) -> bool:
        return bool(self.patterns) and self._regex.fullmatch(word.lower().replace("ё", "е")) is not None

    @classmethod
    def load(cls, path: str | os.PathLike) -> TriggerLexicon:
        """Read a lexicon YAML file, or the packaged one by name (``"default"``); errors name the file
        and the bad entry."""
        try:
            path = resolve(path, "trigger_lexicon")
        except ResourceNotFoundError as exc:
            raise CorpusError(f"cannot read {exc}") from exc
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise CorpusError(f"{path}: cannot read trigger lexicon ({exc})") from exc
        if not isinstance(raw, dict) or not isinstance(raw.get("patterns"), list) or not raw["patterns"]:
            raise CorpusError(f"{path}: expected a mapping with a non-empty 'patterns' list")
        typ = raw.get("type", "EVENT")
        if not isinstance(typ, str) or not typ:
            raise CorpusError(f"{path}: 'type' must be an entity type name, got {typ!r}")
        for i, p in enumerate(raw["patterns"], start=1):
            if not isinstance(p, str) or not p:
                raise CorpusError(f"{path}: pattern {i} must be a non-empty string, got {p!r}")
            try:
                re.compile(p)
            except re.error as exc:
                raise CorpusError(f"{path}: pattern {i} {p!r} is not a regular expression ({exc})") from exc
        return cls(patterns=tuple(raw["patterns"]), type=typ)
