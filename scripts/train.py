#!/usr/bin/env python
"""Thin wrapper: `python scripts/train.py ...` == `diplomat-ie train ...` (see `--help`)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from diplomat_ie.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
