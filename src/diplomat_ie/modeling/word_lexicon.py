"""Placeholder: filled in by the lexicon feature source."""


def licences(config) -> list[str]:
    return []


def feature_bits(groups) -> list[str]:
    return []
