#!/usr/bin/env python
"""Download NEREL v1.1 and factRuEval-2016 (needs internet) into the data root.

Usage::

    python scripts/download_data.py [--root DIR] [--only nerel|factrueval] [--force]

Each corpus is fetched as a GitHub zip archive of its repository, the needed folders are extracted
into a temporary folder under the root and then renamed into place (``<root>/nerel/{train,dev,test}``,
``<root>/factrueval-2016/{devset,testset}``), so an interrupted run never leaves a half-written corpus.
A corpus that is already there is skipped unless ``--force``. The root defaults to ``$DIPLOMAT_IE_DATA``,
else ``data/`` in the current folder (run from the repository's top folder: its tracked ``data/``),
which ``diplomat_ie.utils.data_root`` looks in once it holds a corpus (the layout
``diplomat_ie.data.corpora`` reads).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

DATA_ROOT_ENV = "DIPLOMAT_IE_DATA"
DEFAULT_DATA_ROOT = "data"
CHUNK = 1 << 20


class DownloadError(RuntimeError):
    """A download or an extraction failed; the message says what to do."""


@dataclass
class Dataset:
    """Where a corpus comes from and which archive paths (below the top folder) go where."""

    target: str  # folder under the data root
    urls: list[str]  # tried in order (default branch names differ between repositories)
    required: dict[str, str]  # archive path -> path under target
    optional: dict[str, str] = field(default_factory=dict)


def _github_zips(repo: str) -> list[str]:
    return [f"https://github.com/{repo}/archive/refs/heads/{branch}.zip" for branch in ("master", "main")]


DATASETS: dict[str, Dataset] = {
    "nerel": Dataset(
        target="nerel",
        urls=_github_zips("nerel-ds/NEREL"),
        required={"NEREL-v1.1/train": "train", "NEREL-v1.1/dev": "dev", "NEREL-v1.1/test": "test"},
        optional={"NEREL-v1.1/annotation.conf": "annotation.conf", "README.md": "README.md"},
    ),
    "factrueval": Dataset(
        target="factrueval-2016",
        urls=_github_zips("dialogue-evaluation/factRuEval-2016"),
        required={"devset": "devset", "testset": "testset"},
        optional={"README.md": "README.md", "LICENSE": "LICENSE"},
    ),
}


def default_root() -> Path:
    """``$DIPLOMAT_IE_DATA`` or ``data`` (in the current folder)."""
    return Path(os.environ.get(DATA_ROOT_ENV) or DEFAULT_DATA_ROOT)


def download(urls: list[str], dest: Path, timeout: float = 60.0) -> str:
    """Fetch the first URL that answers into ``dest``.

    Args:
        urls: candidate URLs, tried in order (an HTTP 404 moves on to the next one).
        dest: the file to write.
        timeout: socket timeout in seconds.

    Returns:
        The URL that was downloaded. Raises :class:`DownloadError` when offline or none exists.
    """
    last = ""
    for url in urls:
        req = urllib.request.Request(url, headers={"User-Agent": "diplomat-ie-download/1.0"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp, open(dest, "wb") as out:
                size = 0
                while chunk := resp.read(CHUNK):
                    out.write(chunk)
                    size += len(chunk)
                    print(f"\r  {url}: {size / CHUNK:.1f} MiB", end="", file=sys.stderr, flush=True)
                print(file=sys.stderr)
            return url
        except urllib.error.HTTPError as exc:
            last = f"{url}: HTTP {exc.code} {exc.reason}"
            if exc.code != 404:
                break
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise DownloadError(f"cannot download {url} ({reason}). Are you offline? Fetch the archive "
                                "elsewhere and pass it with --zip, or copy the corpus folders under the "
                                "data root by hand.") from exc
    raise DownloadError(f"no archive found ({last})")


def _top_folder(names: list[str]) -> str:
    """The single top-level folder GitHub puts every archive member under ("" if there is none)."""
    tops = {PurePosixPath(n).parts[0] for n in names if PurePosixPath(n).parts}
    if len(tops) == 1 and all("/" in n for n in names):
        return tops.pop() + "/"
    return ""


def _destination(rel: str, mapping: dict[str, str]) -> str | None:
    for src, dst in mapping.items():
        if rel == src:
            return dst
        if rel.startswith(src + "/"):
            return dst + rel[len(src):]
    return None


def _extract_members(zf: zipfile.ZipFile, dataset: Dataset, tmp: Path) -> None:
    mapping = {**dataset.optional, **dataset.required}
    prefix = _top_folder(zf.namelist())
    base = tmp.resolve()
    for info in zf.infolist():
        if info.is_dir() or not info.filename.startswith(prefix):
            continue
        rel = _destination(info.filename[len(prefix):], mapping)
        if rel is None:
            continue
        dest = (tmp / rel).resolve()
        if base not in dest.parents:
            raise DownloadError(f"archive member {info.filename!r} points outside the target folder")
        dest.parent.mkdir(parents=True, exist_ok=True)
        with zf.open(info) as src, open(dest, "wb") as out:
            shutil.copyfileobj(src, out, CHUNK)
    missing = [src for src, dst in dataset.required.items() if not (tmp / dst).exists()]
    if missing:
        raise DownloadError(f"the archive lacks {', '.join(missing)} (has the repository layout changed?)")


def extract_dataset(zip_path: str | os.PathLike, dataset: Dataset, root: str | os.PathLike,
                    force: bool = False) -> Path | None:
    """Extract a corpus from its repository archive into ``<root>/<dataset.target>`` atomically.

    Args:
        zip_path: the GitHub zip archive of the repository.
        dataset: what to extract (see :data:`DATASETS`).
        root: the data root (created if needed).
        force: replace an existing target folder.

    Returns:
        The target folder, or None if it already existed and ``force`` is false. Raises
        :class:`DownloadError` (leaving nothing behind) if a required folder is absent or unsafe.
    """
    root = Path(root)
    target = root / dataset.target
    if target.exists() and not force:
        return None
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dataset.target}.tmp-", dir=root))
    try:
        try:
            with zipfile.ZipFile(zip_path) as zf:
                _extract_members(zf, dataset, tmp)
        except zipfile.BadZipFile as exc:
            raise DownloadError(f"{zip_path} is not a zip archive ({exc})") from exc
        old = None
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{dataset.target}.old-", dir=root))
            os.replace(target, old / "data")
        os.replace(tmp, target)
        if old is not None:
            shutil.rmtree(old)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return target


def fetch(name: str, root: Path, force: bool, timeout: float, zip_path: str | None = None) -> str:
    """Download (unless ``zip_path`` is given) and install one corpus.

    Args:
        name: a key of :data:`DATASETS`.
        root: the data root.
        force: replace the corpus if it is already there.
        timeout: network timeout in seconds.
        zip_path: an already downloaded repository archive to install instead of downloading.

    Returns:
        A status line. Raises :class:`DownloadError` on network or archive problems.
    """
    dataset = DATASETS[name]
    target = root / dataset.target
    if target.exists() and not force:
        return f"{name}: {target} exists, skipped (use --force to replace it)"
    if zip_path is not None:
        extract_dataset(zip_path, dataset, root, force=force)
        return f"{name}: installed {target} from {zip_path}"
    root.mkdir(parents=True, exist_ok=True)
    fd, tmp_zip = tempfile.mkstemp(prefix=f".{dataset.target}.", suffix=".zip", dir=root)
    os.close(fd)
    try:
        url = download(dataset.urls, Path(tmp_zip), timeout=timeout)
        extract_dataset(tmp_zip, dataset, root, force=force)
    finally:
        os.unlink(tmp_zip)
    return f"{name}: installed {target} from {url}"


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status (1 if any corpus failed)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=None,
                        help=f"data root (default: ${DATA_ROOT_ENV} or {DEFAULT_DATA_ROOT})")
    parser.add_argument("--only", choices=sorted(DATASETS), action="append",
                        help="fetch only this corpus (repeatable; default: all)")
    parser.add_argument("--force", action="store_true", help="replace corpora that are already there")
    parser.add_argument("--timeout", type=float, default=60.0, help="network timeout in seconds")
    parser.add_argument("--zip", default=None,
                        help="install from an already downloaded repository zip (needs exactly one --only)")
    args = parser.parse_args(argv)
    names = args.only or sorted(DATASETS)
    if args.zip and len(names) != 1:
        parser.error("--zip needs exactly one --only")
    root = args.root or default_root()
    status = 0
    for name in names:
        try:
            print(fetch(name, root, args.force, args.timeout, args.zip))
        except DownloadError as exc:
            print(f"error: {name}: {exc}", file=sys.stderr)
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
