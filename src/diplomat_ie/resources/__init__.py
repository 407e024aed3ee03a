"""Packaged data files: the run configs, the trigger lexicon and the diplomatic keyword list.

They ship in the wheel (``[tool.setuptools.package-data]``), so an installed package finds them by name
without a clone of the repository: ``--config quick``, ``trigger_lexicon="default"``. This is their only
copy; the repository's ``configs/`` folder just points here. The module imports nothing from the package
(every layer may use it).
"""

from __future__ import annotations

import os
from pathlib import Path

# Package data sits on disk next to this file (setuptools installs wheels unzipped).
RESOURCES_DIR = Path(__file__).resolve().parent
CONFIGS_DIR = RESOURCES_DIR / "configs"
# kind -> the packaged file that the name "default" stands for (run configs have one file per name)
_WORD_LISTS = {"trigger_lexicon": "trigger_lexicon.yaml", "keywords": "diplomatic_keywords.yaml"}
KINDS = ("config", *_WORD_LISTS)


class ResourceNotFoundError(FileNotFoundError):
    """Neither an existing file nor the name of a packaged resource; the message lists the names."""


def resource_names(kind: str) -> list[str]:
    """The names that :func:`resolve` accepts for ``kind`` besides file paths.

    Args:
        kind: ``"config"``, ``"trigger_lexicon"`` or ``"keywords"``.

    Returns:
        Sorted names: the packaged run configs (``default``, ``quick``, ...) or ``["default"]``.
    """
    if kind == "config":
        return sorted(p.stem for p in CONFIGS_DIR.glob("*.yaml"))
    if kind in _WORD_LISTS:
        return ["default"]
    raise ValueError(f"unknown resource kind {kind!r}; known: {', '.join(KINDS)}")


def resource_path(kind: str, name: str = "default") -> Path:
    """The packaged file of ``kind`` called ``name`` (``"quick"`` or ``"quick.yaml"`` for a config)."""
    name = name.removesuffix(".yaml")
    if name not in resource_names(kind):
        raise ResourceNotFoundError(f"no packaged {kind} named {name!r}; packaged: "
                                    f"{', '.join(resource_names(kind))}")
    return CONFIGS_DIR / f"{name}.yaml" if kind == "config" else RESOURCES_DIR / _WORD_LISTS[kind]


def resolve(value: str | os.PathLike, kind: str) -> Path:
    """A file path, or the packaged resource that ``value`` names.

    Args:
        value: a path (used when it exists, so a local file always wins) or a packaged name
            (:func:`resource_names`).
        kind: ``"config"``, ``"trigger_lexicon"`` or ``"keywords"``.

    Returns:
        The path to read. Raises :class:`ResourceNotFoundError` naming ``value`` and the packaged names.
    """
    path = Path(value)
    if path.exists():
        return path
    text = os.fspath(value)
    if "/" not in text and os.sep not in text and text.removesuffix(".yaml") in resource_names(kind):
        return resource_path(kind, text)
    raise ResourceNotFoundError(f"{kind} {text!r}: no such file, and not a packaged {kind} name "
                                f"(packaged: {', '.join(resource_names(kind))})")
