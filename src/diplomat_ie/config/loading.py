"""Loading a :class:`RunConfig`: a packaged config name or a YAML path, then ``--section.key value`` overrides,
each value coerced to its field's annotated type (lists and mappings as YAML flow values)."""

from __future__ import annotations

import dataclasses
import math
import os
import typing
from pathlib import Path

import yaml

from ..resources import ResourceNotFoundError, resolve
from .schema import ConfigError, DataConfig, ModelConfig, RolesConfig, RunConfig, TrainingConfig

SECTIONS = {"data": DataConfig, "model": ModelConfig, "roles": RolesConfig, "training": TrainingConfig}


def _flow_list(value: str, key: str):
    try:
        return yaml.safe_load(value)
    except yaml.YAMLError as e:
        raise ConfigError(f"{key}: not a YAML list: {value!r} ({str(e).splitlines()[0]})") from None


def _coerce(value, tp, key: str):
    """Convert a YAML/CLI value to the annotated type of a dataclass field."""
    origin = typing.get_origin(tp)
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if value is None or (isinstance(value, str) and value.lower() in ("none", "null") and type(None) in
                         typing.get_args(tp)):
        if type(None) in typing.get_args(tp):
            return None
        raise ConfigError(f"{key}: may not be null")
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)) and args:
        return _coerce(value, args[0], key)
    if origin is dict:
        return parse_mapping(value, args, key)
    if origin is list:
        if args and dataclasses.is_dataclass(args[0]):
            return _coerce_records(value, args[0], key)
        if isinstance(value, str) and value.strip().startswith("["):
            value = _flow_list(value, key)  # the YAML flow style data.extra_corpora takes too
        elif isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        return [_coerce(v, args[0], key) for v in value] if args else value
    try:
        if tp in (bool, int, float, str) and isinstance(value, (list, dict)):
            raise TypeError(value)  # str([...]) would silently "work"
        if tp is bool:
            if isinstance(value, str):
                if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError(value)
                return value.lower() in ("true", "1", "yes")
            if value not in (0, 1):  # True/False, or YAML 0/1
                raise ValueError(value)
            return bool(value)
        if tp in (int, float) and isinstance(value, bool):
            raise TypeError(value)  # YAML `batch_size: true` is not 1
        if tp in (int, float, str):
            if tp is int and isinstance(value, float) and not value.is_integer():
                raise ValueError(value)
            out = tp(value)
            if tp is float and not math.isfinite(out):
                raise ValueError(value)
            return out
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{key}: expected {tp.__name__}, got {value!r}") from exc
    return value


def parse_mapping(value, args: list, key: str) -> dict:
    """A ``{name: value}`` mapping from YAML, a YAML flow string (``{agent: 0.5}``) or ``agent=0.5,place=1``."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("{"):
            value = _flow_list(text, key)
        else:
            pairs = [item.split("=", 1) for item in text.split(",") if item.strip()]
            if any(len(p) != 2 for p in pairs):
                raise ConfigError(f"{key}: expected name=value pairs separated by commas or a YAML mapping, "
                                  f"got {value!r}")
            value = {k.strip(): v.strip() for k, v in pairs}
    if not isinstance(value, dict):
        raise ConfigError(f"{key}: expected a mapping, got {value!r}")
    k_type, v_type = (args + [str, str])[:2] if args else (str, str)
    return {_coerce(k, k_type, key): _coerce(v, v_type, f"{key}.{k}") for k, v in value.items()}


def _coerce_records(value, cls, key: str) -> list:
    """A list of ``cls`` records from YAML mappings (or the same list as a YAML flow string: the CLI)."""
    if isinstance(value, str):
        try:
            value = yaml.safe_load(value) if value.strip() else []
        except yaml.YAMLError as exc:
            raise ConfigError(f"{key}: not a YAML list ({exc})") from exc
    if value is None:
        value = []
    if not isinstance(value, list):
        raise ConfigError(f"{key}: expected a list of mappings, got {value!r}")
    out = []
    for i, v in enumerate(value):
        if isinstance(v, cls):
            out.append(v)
        elif isinstance(v, dict):
            out.append(_build_section(cls, v, f"{key}[{i}]"))
        else:
            raise ConfigError(f"{key}[{i}]: expected a mapping, got {v!r}")
    return out


def _build_section(cls, values: dict, section: str):
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(values) - names
    if unknown:
        raise ConfigError(f"{section}: unknown key(s) {sorted(unknown)}; known: {sorted(names)}")
    kwargs = {k: _coerce(v, hints[k], f"{section}.{k}") for k, v in values.items()}
    return cls(**kwargs)


def load_config(path: str | os.PathLike | None = None, overrides: dict[str, str] | None = None) -> RunConfig:
    """Load a :class:`RunConfig` from YAML and apply ``section.key`` overrides.

    Args:
        path: YAML file with sections ``data``, ``model``, ``roles``, ``training`` (and ``name``), or the
            name of a packaged config (``"default"``, ``"quick"``, ...; a file of that name wins).
        overrides: ``{"training.batch_size": "8", ...}`` from the command line.

    Returns:
        The validated configuration; :class:`ConfigError` names a bad key or value.
    """
    raw: dict = {}
    if path is not None:
        try:
            file: Path = resolve(path, "config")
        except ResourceNotFoundError as exc:
            raise ConfigError(f"cannot read {exc}") from exc
        try:
            raw = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read config {path}: {exc}") from exc
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: top level must be a mapping")
    unknown = set(raw) - set(SECTIONS) - {"name"}
    if unknown:
        raise ConfigError(f"{path}: unknown section(s) {sorted(unknown)}; known: {sorted(SECTIONS)}")
    for s in SECTIONS:
        if raw.get(s) is not None and not isinstance(raw[s], dict):
            raise ConfigError(f"{s}: expected a mapping of keys, got {type(raw[s]).__name__} {raw[s]!r}")
    values = {s: dict(raw.get(s) or {}) for s in SECTIONS}
    name = raw.get("name", "default")
    for key, value in (overrides or {}).items():
        if key == "name":
            name = value
            continue
        section, _, sub = key.partition(".")
        if section not in SECTIONS or not sub:
            raise ConfigError(f"--{key}: expected --section.key with section in {sorted(SECTIONS)}")
        values[section][sub] = value
    sections = {s: _build_section(cls, values[s], s) for s, cls in SECTIONS.items()}
    given = frozenset(f"{s}.{k}" for s in SECTIONS for k in values[s])
    return RunConfig(name=str(name), given=given, **sections)


def run_config_from_dict(d: dict) -> RunConfig:
    """Rebuild a :class:`RunConfig` from ``RunConfig.to_dict()`` (unknown keys are ignored).

    Args:
        d: e.g. ``train_summary.json["config"]``.

    Returns:
        The validated configuration.
    """
    overrides = {"name": str(d.get("name", "default"))}
    for section, cls in SECTIONS.items():
        known = {f.name for f in dataclasses.fields(cls)}
        for k, v in (d.get(section) or {}).items():
            if k in known:
                overrides[f"{section}.{k}"] = v
    return load_config(None, overrides)


def parse_overrides(args: list[str]) -> dict[str, str]:
    """Turn ``["--training.batch_size", "8", "--model.dropout=0.2"]`` into a dict."""
    out: dict[str, str] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        if not arg.startswith("--") or "." not in arg:
            raise ConfigError(f"unexpected argument {arg!r}; overrides look like --section.key VALUE")
        if "=" in arg:
            k, v = arg[2:].split("=", 1)
            i += 1
        else:
            if i + 1 >= len(args) or (args[i + 1].startswith("--") and "." in args[i + 1]):
                raise ConfigError(f"{arg} needs a value")
            k, v = arg[2:], args[i + 1]
            i += 2
        out[k] = v
    return out
