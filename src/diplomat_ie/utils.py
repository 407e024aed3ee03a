"""Small shared helpers: atomic writes, data root, seeding."""

from __future__ import annotations

import json
import os
import random
import tempfile
from pathlib import Path

DATA_ROOT_ENV = "DIPLOMAT_IE_DATA"
DEFAULT_DATA_ROOT = "../shared/datasets"


def data_root(override: str | os.PathLike | None = None) -> Path:
    """The corpora folder: ``override``, else ``$DIPLOMAT_IE_DATA``, else ``../shared/datasets``."""
    return Path(override or os.environ.get(DATA_ROOT_ENV) or DEFAULT_DATA_ROOT)


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
