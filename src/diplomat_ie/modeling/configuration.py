"""The saved model's configuration: encoder config, label lists, windowing, format version."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

from transformers import AutoConfig, PretrainedConfig

from ..config import ConfigError
from ..data.labels import bio_labels
from ..data.roles import ROLES

# 1: head weights at the top level (ner_head.*, role_head.*, role_marker); 2: under heads.* (DiplomatHeads).
# io.load_model_dir reads every version up to this one.
FORMAT_VERSION = 2

ARCHITECTURE, RUNTIME = "architecture", "runtime"


class Setting(NamedTuple):
    """One model setting of the run config and the :class:`DiplomatConfig` field that stores it.

    ``kind``: ARCHITECTURE settings are fixed once a model is trained (``model.init_from`` must match
    them); RUNTIME settings may change when training continues. Learning rates, epochs and
    ``model.freeze_word_embeddings`` are training-only: they live in the run summary, not the model.
    """

    key: str
    field: str
    kind: str
    label: str


# The one mapping RunConfig -> DiplomatConfig (training, model.init_from and the model card use it).
SETTINGS: tuple[Setting, ...] = (
    Setting("model.backbone", "backbone_name", ARCHITECTURE, "backbone"),
    Setting("model.max_length", "window_length", ARCHITECTURE, "window length (subwords)"),
    Setting("model.num_layers", "num_layers", ARCHITECTURE, "nesting layers"),
    Setting("model.entity_types", "entity_types", ARCHITECTURE, "entity types"),
    Setting("roles.enabled", "roles", ARCHITECTURE, "event roles"),
    Setting("roles.hidden_size", "role_hidden_size", ARCHITECTURE, "role pair layer width"),
    Setting("roles.max_distance", "max_distance", ARCHITECTURE, "role distances bucketed up to"),
    Setting("roles.marker_layer", "role_marker_layer", ARCHITECTURE, "role marker layer"),
    Setting("roles.trigger_types", "trigger_types", RUNTIME, "trigger types"),
    Setting("model.overlap", "overlap", RUNTIME, "window overlap (subwords)"),
    Setting("model.dropout", "dropout", RUNTIME, "dropout before the heads"),
    Setting("roles.loss_weight", "role_loss_weight", RUNTIME, "role loss weight"),
    Setting("model.word_vectors", "word_vectors", ARCHITECTURE, "word vectors"),
    Setting("model.word_vectors_size", "word_vectors_size", ARCHITECTURE, "word vector projection width"),
    Setting("model.word_lexicon", "word_lexicon", ARCHITECTURE, "word lexicon features"),
    Setting("model.word_lexicon_size", "word_lexicon_size", ARCHITECTURE, "word lexicon embedding width"),
    Setting("model.word_feature_dropout", "word_feature_dropout", RUNTIME, "word feature dropout"),
)

# Encoders whose position ids start at padding_idx + 1 (XLM-R: 514 positions, 512 usable).
_OFFSET_POSITION_TYPES = frozenset({"roberta", "xlm-roberta", "xlm-roberta-xl", "camembert", "data2vec-text",
                                    "xmod"})


def _run_value(run_cfg, key: str):
    section, name = key.split(".")
    return getattr(getattr(run_cfg, section), name)


def usable_positions(encoder: dict) -> int | None:
    """Subwords (special tokens included) the encoder can take in one window; None when unbounded."""
    n = encoder.get("max_position_embeddings")
    if not isinstance(n, int):
        return None
    if encoder.get("model_type") in _OFFSET_POSITION_TYPES:
        pad = encoder.get("pad_token_id")
        n -= (1 if pad is None else int(pad)) + 1
    return n


class DiplomatConfig(PretrainedConfig):
    """Everything needed to rebuild the model from one directory (no remote code).

    Args:
        encoder: the backbone's config as a dict (``model_type`` included).
        entity_types: NER types; each nesting layer tags ``O``/``B-T``/``I-T`` over them.
        num_layers: nesting depth K (one BIO layer per depth).
        roles: event roles; the role head tags ``O``/``B-R``/``I-R``.
        trigger_types: entity types that are event triggers.
        window_length, overlap: windowing in subwords (special tokens included).
        role_marker_layer: None = the role head reads the shared encoder pass only (all triggers of a
            window in one pass); ``L`` = re-run encoder layers ``L..`` once per trigger with a learned
            marker added to the trigger's subwords (``0`` is the classic marker-per-trigger model).
        word_vectors: None, or the navec table (``"navec"`` or a navec ``.tar`` path) whose vectors,
            projected to ``word_vectors_size``, are concatenated to each word (:mod:`.word_features`).
        word_vectors_table: the table's shape and word-list sha256 (filled in when the model is built).
        word_lexicon: None, or the lexicon feature groups (:mod:`.word_lexicon`), embedded to
            ``word_lexicon_size`` and concatenated to each word.
        word_feature_dropout: training-time chance that a word's features are dropped.
    """

    model_type = "diplomat_ie"

    def __init__(self, encoder: dict | None = None, entity_types: list[str] | None = None,
                 num_layers: int = 4, roles: list[str] | None = None,
                 trigger_types: list[str] | None = None, window_length: int = 160, overlap: int = 32,
                 dropout: float = 0.1, role_hidden_size: int = 192, max_distance: int = 64, role_loss_weight: float = 1.0,
                 role_marker_layer: int | None = None, word_vectors: str | None = None,
                 word_vectors_size: int = 64, word_vectors_table: dict | None = None,
                 word_lexicon: list[str] | None = None, word_lexicon_size: int = 16,
                 word_feature_dropout: float = 0.1,
                 format_version: int = FORMAT_VERSION, backbone_name: str | None = None,
                 training_summary: dict | None = None, **kwargs):
        self.encoder = encoder or {}
        self.entity_types = list(entity_types or [])
        self.num_layers = num_layers
        self.roles = list(roles or [])
        self.trigger_types = list(trigger_types or ["EVENT"])
        self.window_length = window_length
        self.overlap = overlap
        self.dropout = dropout
        self.role_hidden_size = role_hidden_size
        self.max_distance = max_distance
        self.role_loss_weight = role_loss_weight
        self.role_marker_layer = role_marker_layer
        self.word_vectors = word_vectors
        self.word_vectors_size = word_vectors_size
        self.word_vectors_table = word_vectors_table
        self.word_lexicon = list(word_lexicon) if word_lexicon else None
        self.word_lexicon_size = word_lexicon_size
        self.word_feature_dropout = word_feature_dropout
        self.format_version = format_version
        self.backbone_name = backbone_name
        self.training_summary = training_summary or {}
        super().__init__(**kwargs)

    @classmethod
    def from_run_config(cls, run_cfg, *, entity_types: list[str], encoder: dict | None = None) -> DiplomatConfig:
        """The config of a fresh model for a run, through :data:`SETTINGS`.

        Args:
            run_cfg: the :class:`~diplomat_ie.config.RunConfig`.
            entity_types: the types the model tags (``model.entity_types``, or the training data's).
            encoder: the backbone's config dict (:func:`~diplomat_ie.modeling.io.build_model` fills it).

        Returns:
            The config; :class:`ConfigError` names a setting the model cannot have.
        """
        values: dict[str, Any] = {}
        for s in SETTINGS:
            v = _run_value(run_cfg, s.key)
            values[s.field] = list(v) if isinstance(v, list) else v
        values["entity_types"] = list(entity_types)
        values["roles"] = list(ROLES) if run_cfg.roles.enabled else []
        if not run_cfg.roles.enabled:
            values["role_marker_layer"] = None
        elif problem := _trigger_problem(values["trigger_types"], values["entity_types"], "the model"):
            raise ConfigError(f"roles.trigger_types: {problem}")
        return cls(encoder=encoder, **values)

    def run_config_changes(self, run_cfg, *, source: str) -> dict[str, Any]:
        """What a run continuing from this (saved) config changes, through :data:`SETTINGS`.

        Only settings the run gives (``run_cfg.is_given``) count; the others keep the saved values.

        Args:
            run_cfg: the run configuration.
            source: the saved model's directory (for messages).

        Returns:
            ``{field: new value}`` for the given runtime settings, plus ``role_marker_layer`` when the
            run switches a shared-pass model to marker mode (the one architecture change honoured).
            A given architecture setting that differs raises :class:`ConfigError` naming every such
            setting with both values.
        """
        changes: dict[str, Any] = {}
        conflicts: list[str] = []
        problems: list[str] = []
        for s in SETTINGS:
            if not run_cfg.is_given(s.key):
                continue
            asked, have = _run_value(run_cfg, s.key), getattr(self, s.field)
            if s.kind == RUNTIME:
                problem = self._runtime_problem(s.key, asked, source)
                if problem:
                    problems.append(f"{s.key}: {problem}")
                elif asked != have:
                    changes[s.field] = list(asked) if isinstance(asked, list) else asked
            elif s.key == "roles.marker_layer" and have is None and asked is not None and self.roles:
                changes[s.field] = asked  # the marker starts at zero: same predictions as before
            elif not _same_architecture(s.key, have, asked):
                shown = bool(have) if s.key == "roles.enabled" else have
                conflicts.append(f"{s.key}: {source} was trained with {_show(shown)}, the run asks for "
                                 f"{_show(asked)}")
        if conflicts:
            problems.insert(0, "; ".join(conflicts) + "; architecture settings cannot change with "
                            "model.init_from (leave them out of the run config to keep the saved model's "
                            "values, or train a fresh model without model.init_from)")
        if problems:
            raise ConfigError("; ".join(problems))
        return changes

    def _runtime_problem(self, key: str, asked, source: str) -> str | None:
        if key == "model.overlap" and not asked < self.window_length // 2:
            return f"must be below half of {source}'s window ({self.window_length} subwords), got {asked}"
        if key == "roles.trigger_types" and self.roles:
            return _trigger_problem(asked, self.entity_types, source)
        return None

    def check_window(self) -> None:
        """Refuse a window longer than the encoder's usable positions (rather than clamping it silently)."""
        usable = usable_positions(self.encoder)
        if usable is not None and self.window_length > usable:
            n = int(self.encoder["max_position_embeddings"])
            why = (f"{n} position embeddings, the first {n - usable} reserved by "
                   f"{self.encoder.get('model_type')}" if n != usable else f"{n} position embeddings")
            raise ConfigError(f"model.max_length: {self.window_length} subwords do not fit the backbone "
                              f"{self.backbone_name} ({why}); use --model.max_length {usable} or less")

    @property
    def ner_labels(self) -> list[str]:
        return bio_labels(self.entity_types)

    @property
    def role_labels(self) -> list[str]:
        return bio_labels(self.roles)

    def encoder_config(self) -> PretrainedConfig:
        enc = dict(self.encoder)
        model_type = enc.pop("model_type", None)
        if not model_type:
            raise ValueError("DiplomatConfig.encoder lacks 'model_type'")
        return AutoConfig.for_model(model_type, **enc)


def _trigger_problem(trigger_types: list[str], entity_types: list[str], owner: str) -> str | None:
    missing = [t for t in trigger_types if t not in entity_types]
    if not missing:
        return None
    return (f"{missing} are not entity types of {owner} ({', '.join(entity_types) or 'none'}); a trigger "
            f"must be a type the NER layers tag (add it to model.entity_types / the training data, or set "
            f"roles.enabled false)")


def _same_architecture(key: str, have, asked) -> bool:
    if key == "model.backbone":
        if have is None or have == asked:  # models saved before backbone_name existed: unknown
            return True
        a, b = Path(have), Path(asked)
        return a.exists() and b.exists() and a.resolve() == b.resolve()
    if key == "model.entity_types":  # null: the saved model's types (the data's are checked apart)
        return asked is None or set(asked) == set(have)
    if key == "roles.enabled":
        return bool(have) == asked
    return have == asked


def _show(v) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return str(v).lower()
    return str(v)


def _register() -> None:
    AutoConfig.register(DiplomatConfig.model_type, DiplomatConfig, exist_ok=True)


_register()
