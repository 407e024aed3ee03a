"""Small shared helpers: atomic writes, data root, cache folder, seeding."""

from __future__ import annotations

import json
import os
import random
import tempfile
from pathlib import Path

DATA_ROOT_ENV = "DIPLOMAT_IE_DATA"
LOCAL_DATA_ROOT = "data"
DEFAULT_DATA_ROOT = "../shared/datasets"


def data_root(override: str | os.PathLike | None = None) -> Path:
    """The corpora folder.

    Looked up in this order: ``override``; ``$DIPLOMAT_IE_DATA``; ``data/`` in the current folder once
    it holds a corpus (any sub-folder: the repository's ``data/`` with only its README does not
    count); ``../shared/datasets``. The relative ones are relative to the current folder, not to the
    package, so they work the same for an installed wheel and for a clone run from its top folder.

    Args:
        override: an explicit folder (``data.root``, ``--data-root``); empty means none.

    Returns:
        The folder (not checked for existence).
    """
    if override:
        return Path(override)
    if os.environ.get(DATA_ROOT_ENV):
        return Path(os.environ[DATA_ROOT_ENV])
    local = Path(LOCAL_DATA_ROOT)
    if local.is_dir() and any(p.is_dir() and not p.name.startswith(".") for p in local.iterdir()):
        return local
    return Path(DEFAULT_DATA_ROOT)


CACHE_ENV = "DIPLOMAT_IE_CACHE"


def cache_root() -> Path:
    """The per-user cache folder: ``$DIPLOMAT_IE_CACHE``, else ``$XDG_CACHE_HOME/diplomat-ie``, else
    ``~/.cache/diplomat-ie``. Lookups derived from installed packages (the place names) are built there
    once and shared by every run, whatever its working folder."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "diplomat-ie"


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file and ``os.replace`` (never half-written)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; give them the usual mode
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj) -> None:
    atomic_write_text(path, json.dumps(obj, ensure_ascii=False, indent=2) + "\n")


def set_seed(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
