"""A PNG of an HTML view page in headless Chromium (Debian's ``chromium``), optionally after choosing triggers.

    python scripts/html_screenshot.py reports/default/seed_article.html reports/default/seed_article.png \\
        --select doc-1-t0

Needs ``chromium`` on PATH (``apt-get install chromium``); the package itself has no browser dependency.
Exit status 1 if the page logged console errors (they are printed), 2 if the browser could not run.
"""

from __future__ import annotations

import argparse
import sys

from headless_chromium import CdpError, screenshot_page


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("page", help="the HTML file")
    ap.add_argument("out", help="the PNG to write")
    ap.add_argument("--select", action="append", default=[], metavar="ID",
                    help="click the element with this id first (a trigger: doc-<k>-t<n>); repeatable")
    ap.add_argument("--width", type=int, default=1100, help="window width in CSS pixels")
    ap.add_argument("--max-height", type=int, default=4000, help="most page height to capture, CSS pixels")
    args = ap.parse_args(argv)
    try:
        errors = screenshot_page(page_file=args.page, out=args.out, select=tuple(args.select),
                                 size=(args.width, 800), max_height=args.max_height)
    except (CdpError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for err in errors:
        print(f"page error: {err}", file=sys.stderr)
    print(args.out)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
