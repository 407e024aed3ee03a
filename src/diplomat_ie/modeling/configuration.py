"""The saved model's configuration: encoder config, label lists, windowing, format version."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, NamedTuple

from transformers import AutoConfig, PretrainedConfig

from ..config import ConfigError
from ..data.labels import bio_labels
from ..data.roles import ROLES

logger = logging.getLogger(__name__)

# 1: head weights at the top level (ner_head.*, role_head.*, role_marker); 2: under heads.* (DiplomatHeads).
# io.load_model_dir reads every version up to this one.
FORMAT_VERSION = 2

ARCHITECTURE, RUNTIME = "architecture", "runtime"
SPAN_NONE = "none"  # the span head's class 0: the span is no entity


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
    Setting("model.ner_head", "ner_head", ARCHITECTURE, "NER head"),
    Setting("model.max_span_width", "max_span_width", ARCHITECTURE, "span head: longest span (words)"),
    Setting("model.entity_types", "entity_types", ARCHITECTURE, "entity types"),
    Setting("model.scalar_mix", "scalar_mix", ARCHITECTURE, "scalar mix of the last encoder layers (0: top only)"),
    Setting("roles.enabled", "roles", ARCHITECTURE, "event roles"),
    Setting("roles.hidden_size", "role_hidden_size", ARCHITECTURE, "role pair layer width"),
    Setting("roles.max_distance", "max_distance", ARCHITECTURE, "role distances bucketed up to"),
    Setting("roles.marker_layer", "role_marker_layer", ARCHITECTURE, "role marker layer"),
    Setting("roles.head", "role_head", ARCHITECTURE, "role head (bio tagger or entity-pair classifier)"),
    Setting("roles.pair_context", "pair_context", ARCHITECTURE, "pair head: words between trigger and candidate"),
    Setting("roles.pair_sentence", "pair_sentence", ARCHITECTURE, "pair head: same-sentence embedding"),
    Setting("roles.trigger_types", "trigger_types", RUNTIME, "trigger types"),
    Setting("model.overlap", "overlap", RUNTIME, "window overlap (subwords)"),
    Setting("model.window_breaks", "window_breaks", RUNTIME, "windows across paragraphs (none) or within (paragraph)"),
    Setting("model.dropout", "dropout", RUNTIME, "dropout before the heads"),
    Setting("model.ner_decoding", "ner_decoding", RUNTIME, "layered head decoding (argmax or viterbi)"),
    Setting("model.type_lexicon", "type_lexicon", RUNTIME, "decoding: types corrected by the training-set lexicon"),
    Setting("model.type_lexicon_min_count", "type_lexicon_min_count", RUNTIME, "type lexicon: entities a name needs"),
    Setting("model.type_lexicon_min_share", "type_lexicon_min_share", RUNTIME, "type lexicon: share the type needs"),
    Setting("model.type_lexicon_places", "type_lexicon_places", RUNTIME, "type lexicon: place lookup for rarer names"),
    Setting("model.type_biases", "type_biases", RUNTIME, "decoding: added to each entity type's logits"),
    Setting("model.span_none_weight", "span_none_weight", RUNTIME, "span head: loss weight of none"),
    Setting("model.span_loss_scale", "span_loss_scale", RUNTIME, "span head: loss scale (cells or words)"),
    Setting("roles.loss_weight", "role_loss_weight", RUNTIME, "role loss weight"),
    Setting("roles.class_balance", "role_class_balance", RUNTIME, "role loss class balance (power)"),
    Setting("roles.none_bias", "role_none_bias", RUNTIME, "role decoding: none / O logit lowered by"),
    Setting("roles.single_roles", "role_single_roles", RUNTIME, "role decoding: at most one argument per trigger"),
    Setting("roles.cross_sentence_bias", "role_cross_sentence_bias", RUNTIME,
            "role decoding: none / O logit raised for arguments in another sentence"),
    Setting("roles.role_biases", "role_biases", RUNTIME, "role decoding: added to each role's logit"),
    Setting("roles.pair_negatives", "pair_negatives", RUNTIME, "pair head: predicted negatives per window"),
    Setting("roles.pair_negatives_from", "pair_negatives_from", RUNTIME,
            "pair head: share of training before predicted negatives join"),
    # the heads' names, types and layers are architecture; a given loss weight is applied (see
    # run_config_changes); the run's value is turned into the field's by extra_heads_from_run
    Setting("data.extra_corpora", "extra_heads", ARCHITECTURE, "extra NER heads"),
    Setting("model.word_vectors", "word_vectors", ARCHITECTURE, "word vectors"),
    Setting("model.word_vectors_size", "word_vectors_size", ARCHITECTURE, "word vector projection width"),
    Setting("model.word_lexicon", "word_lexicon", ARCHITECTURE, "word lexicon features"),
    Setting("model.word_lexicon_size", "word_lexicon_size", ARCHITECTURE, "word lexicon embedding width"),
    Setting("model.word_feature_dropout", "word_feature_dropout", RUNTIME, "word feature dropout"),
)
EXTRA_ARCHITECTURE = ("entity_types", "num_layers")  # the parts of an extra head fixed once trained

# Encoders whose position ids start at padding_idx + 1 (XLM-R: 514 positions, 512 usable).
_OFFSET_POSITION_TYPES = frozenset({"roberta", "xlm-roberta", "xlm-roberta-xl", "camembert", "data2vec-text",
                                    "xmod"})


def _run_value(run_cfg, key: str):
    section, name = key.split(".")
    return getattr(getattr(run_cfg, section), name)


def extra_heads_from_run(run_cfg, types: dict[str, list[str]] | None = None) -> dict[str, dict]:
    """``{head: {"entity_types", "num_layers", "loss_weight"}}`` of the run's ``data.extra_corpora``.

    Args:
        run_cfg: the run configuration.
        types: each head's types found in its corpora (used where the entry gives no ``types``).

    Returns:
        The heads in the order they first appear; ``main`` (the main head) is not among them.
    """
    from ..config import MAIN_HEAD

    out: dict[str, dict] = {}
    for e in run_cfg.data.extra_corpora:
        if e.head == MAIN_HEAD or e.head in out:
            continue
        found = list(e.types) if e.types else list((types or {}).get(e.head, []))
        out[e.head] = {"entity_types": found, "num_layers": e.layers, "loss_weight": e.loss_weight}
    return out


def describe_extra_heads(heads: dict[str, dict]) -> str:
    """One line for the model card: ``factrueval (4 types, 2 layers)``."""
    if not heads:
        return "none"
    return "; ".join(f"{name} ({len(h['entity_types'])} types: {', '.join(h['entity_types'])}; "
                     f"{h['num_layers']} layers)" for name, h in heads.items())


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
        num_layers: nesting depth K (one BIO layer per depth; the layered head).
        ner_head: ``"layered"`` (K BIO layers) or ``"span"`` (:class:`~.heads.SpanHead`: every word span
            up to ``max_span_width`` words classified as one of the entity types or none).
        max_span_width: the span head's longest span, in words.
        span_none_weight: the span head's loss weight of the ``none`` class.
        scalar_mix: ``N`` >= 2: the heads read a learned mix of the encoder's last ``N`` hidden states
            (:mod:`.scalar_mix`); 0 (configs saved without it): the top layer.
        ner_decoding: the layered heads' decoding, ``"argmax"`` or ``"viterbi"`` (:mod:`.bio_decoding`);
            configs saved without it are ``"argmax"``.
        type_lexicon: None, or the entity types decoding corrects by the training-set name lexicon
            (:mod:`.type_lexicon`), with ``type_lexicon_min_count`` / ``_min_share`` / ``_places``.
        type_biases: decoding: ``{type: b}``, ``b`` added to that type's ``B-`` / ``I-`` logits in every layer
            (layered heads) or to its class logit (span head) before decoding (configs saved without it: none).
        span_loss_scale: ``"cells"`` (mean over the candidate spans) or ``"words"`` (their sum over start words).
        roles: event roles; the role head tags ``O``/``B-R``/``I-R``.
        trigger_types: entity types that are event triggers.
        window_length, overlap: windowing in subwords (special tokens included).
        window_breaks: ``"none"`` (windows pack sentences across paragraphs) or ``"paragraph"`` (each paragraph
            on its own); configs saved without it: ``"none"``.
        role_marker_layer: None = the role head reads the shared encoder pass only (all triggers of a
            window in one pass); ``L`` = re-run encoder layers ``L..`` once per trigger with a learned
            marker added to the trigger's subwords (``0`` is the classic marker-per-trigger model).
        role_head: ``"bio"`` (tag each word with its role per trigger) or ``"pair"`` (classify each
            trigger x candidate entity pair, :mod:`.pair_roles`); configs saved without it are ``"bio"``.
        pair_context: pair head: each pair also reads the mean of the words between its two spans
            (configs saved without it: False).
        pair_sentence: pair head: each pair also reads a learned vector for "the candidate shares a sentence
            with the trigger" or not (configs saved without it: False).
        role_class_balance: training only: the power of the role loss class weights (0: none).
        role_class_weights: ``{role: weight}`` of the role loss (filled in by training from its documents
            when ``role_class_balance`` > 0; None: plain cross-entropy).
        role_none_bias: decoding: the role head's ``none`` / ``O`` logit is lowered by this much (0: argmax).
        role_single_roles: decoding: roles that go to at most one argument per trigger (configs saved
            without it: none).
        role_cross_sentence_bias: decoding: the ``none`` / ``O`` logit is raised by this much where the argument
            and its trigger share no sentence (0: off; configs saved without it: 0).
        role_biases: decoding: ``{role: b}``, ``b`` added to that role's logit (pair head) or to its ``B-`` / ``I-``
            tags' (bio head) before the argmax (configs saved without it: none).
        pair_negatives: training only: predicted entities added per window as ``none`` pairs.
        pair_negatives_from: training only: the share of the training steps (``DiplomatModel.train_progress``,
            set by the trainer) after which ``pair_negatives`` apply.
        extra_heads: more NER heads on the shared encoder, one per extra training corpus label set:
            ``{name: {"entity_types": [...], "num_layers": K, "loss_weight": w}}`` (``data.extra_corpora``);
            always layered BIO taggers, whatever ``ner_head`` the main head is.
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
                 window_breaks: str = "none",
                 dropout: float = 0.1, role_hidden_size: int = 192, max_distance: int = 64, role_loss_weight: float = 1.0,
                 role_marker_layer: int | None = None, ner_head: str = "layered", max_span_width: int = 12,
                 span_none_weight: float = 1.0, span_loss_scale: str = "cells", ner_decoding: str = "argmax",
                 type_lexicon: list[str] | None = None, type_lexicon_min_count: int = 2,
                 type_lexicon_min_share: float = 0.7, type_lexicon_places: bool = True,
                 type_biases: dict[str, float] | None = None,
                 scalar_mix: int = 0, role_head: str = "bio", pair_context: bool = False,
                 pair_sentence: bool = False,
                 role_class_balance: float = 0.0, role_class_weights: dict[str, float] | None = None,
                 role_none_bias: float = 0.0, role_single_roles: list[str] | None = None,
                 role_cross_sentence_bias: float = 0.0, role_biases: dict[str, float] | None = None,
                 pair_negatives: int = 0, pair_negatives_from: float = 0.0, extra_heads: dict[str, dict] | None = None,
                 word_vectors: str | None = None,
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
        self.window_breaks = window_breaks
        self.dropout = dropout
        self.role_hidden_size = role_hidden_size
        self.max_distance = max_distance
        self.role_loss_weight = role_loss_weight
        self.role_marker_layer = role_marker_layer
        self.ner_head = ner_head
        self.max_span_width = max_span_width
        self.span_none_weight = span_none_weight
        self.span_loss_scale = span_loss_scale
        self.ner_decoding = ner_decoding
        self.type_lexicon = list(type_lexicon) if type_lexicon else None
        self.type_lexicon_min_count = type_lexicon_min_count
        self.type_lexicon_min_share = type_lexicon_min_share
        self.type_lexicon_places = bool(type_lexicon_places)
        self.type_biases = {str(k): float(v) for k, v in (type_biases or {}).items()}
        self.scalar_mix = scalar_mix
        self.role_head = role_head
        self.pair_context = bool(pair_context)
        self.pair_sentence = bool(pair_sentence)
        self.role_class_balance = role_class_balance
        self.role_none_bias = role_none_bias
        self.role_single_roles = list(role_single_roles or [])
        self.role_cross_sentence_bias = float(role_cross_sentence_bias)
        self.role_biases = {str(k): float(v) for k, v in (role_biases or {}).items()}
        self.role_class_weights = dict(role_class_weights) if role_class_weights else None
        self.pair_negatives = pair_negatives
        self.pair_negatives_from = pair_negatives_from
        self.extra_heads = {str(k): dict(v) for k, v in (extra_heads or {}).items()}
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
    def from_run_config(cls, run_cfg, *, entity_types: list[str], encoder: dict | None = None,
                        extra_types: dict[str, list[str]] | None = None) -> DiplomatConfig:
        """The config of a fresh model for a run, through :data:`SETTINGS`.

        Args:
            run_cfg: the :class:`~diplomat_ie.config.RunConfig`.
            entity_types: the types the model tags (``model.entity_types``, or the training data's).
            encoder: the backbone's config dict (:func:`~diplomat_ie.modeling.io.build_model` fills it).
            extra_types: each extra head's types found in its corpora (where the run gives none).

        Returns:
            The config; :class:`ConfigError` names a setting the model cannot have.
        """
        values: dict[str, Any] = {}
        for s in SETTINGS:
            v = _run_value(run_cfg, s.key)
            values[s.field] = list(v) if isinstance(v, list) else dict(v) if isinstance(v, dict) else v
        values["entity_types"] = list(entity_types)
        values["extra_heads"] = extra_heads_from_run(run_cfg, extra_types)
        if empty := [name for name, h in values["extra_heads"].items() if not h["entity_types"]]:
            raise ConfigError(f"data.extra_corpora: the head(s) {empty} have no entity types (their corpora "
                              f"hold no entities; give types)")
        values["roles"] = list(ROLES) if run_cfg.roles.enabled else []
        if problem := _single_roles_problem(values["role_single_roles"]):
            raise ConfigError(f"roles.single_roles: {problem}")
        if problem := _single_roles_problem(list(values["role_biases"])):
            raise ConfigError(f"roles.role_biases: {problem}")
        if problem := _types_problem(list(values["type_biases"]), values["entity_types"], "the model"):
            # a config's biases (the packaged default's EVENT) may name types another corpus lacks: drop,
            # loudly; a saved model's runtime change (run_config_changes) stays an error
            logger.warning("model.type_biases: %s; their biases are dropped", problem)
            values["type_biases"] = {t: b for t, b in values["type_biases"].items() if t in values["entity_types"]}
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
            if s.key == "data.extra_corpora":
                asked = extra_heads_from_run(run_cfg, {k: v["entity_types"] for k, v in have.items()})
                if _same_extra_heads(have, asked) and asked != have:
                    # only loss weights differ: applied (the saved label order is kept)
                    changes[s.field] = {n: dict(h, loss_weight=asked[n]["loss_weight"]) for n, h in have.items()}
                    continue
            if s.kind == RUNTIME:
                problem = self.runtime_problem(s.key, asked, source)
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

    def runtime_problem(self, key: str, asked, source: str) -> str | None:
        """Why runtime setting ``key`` cannot take value ``asked`` on this saved model, or None."""
        if key == "model.overlap" and asked < 0:
            return f"must be 0 or more, got {asked}"
        if key == "model.overlap" and not asked < self.window_length // 2:
            return f"must be below half of {source}'s window ({self.window_length} subwords), got {asked}"
        if key == "roles.trigger_types" and self.roles:
            return _trigger_problem(asked, self.entity_types, source)
        if key == "roles.single_roles":
            return _single_roles_problem(asked)
        if key == "roles.role_biases":
            return _single_roles_problem(list(asked))
        if key == "model.type_biases":
            return _types_problem(list(asked), self.entity_types, source)
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
    def is_span(self) -> bool:
        """The NER head is the span classifier (``model.ner_head: span``)."""
        return self.ner_head == "span"

    @property
    def span_labels(self) -> list[str]:
        """The span head's classes: :data:`SPAN_NONE` (id 0), then the entity types."""
        return [SPAN_NONE, *self.entity_types]

    @property
    def role_labels(self) -> list[str]:
        return bio_labels(self.roles)

    @property
    def pair_labels(self) -> list[str]:
        """The pair head's classes: ``none`` (id 0), then the roles."""
        return ["none", *self.roles]

    def extra_ner_labels(self, head: str) -> list[str]:
        """The BIO labels of the extra head ``head`` (:class:`KeyError` naming the known heads)."""
        if head not in self.extra_heads:
            raise KeyError(f"this model has no NER head {head!r} (extra heads: "
                           f"{', '.join(self.extra_heads) or 'none'})")
        return bio_labels(self.extra_heads[head]["entity_types"])

    def encoder_config(self) -> PretrainedConfig:
        enc = dict(self.encoder)
        model_type = enc.pop("model_type", None)
        if not model_type:
            raise ValueError("DiplomatConfig.encoder lacks 'model_type'")
        return AutoConfig.for_model(model_type, **enc)


def _single_roles_problem(names: list[str]) -> str | None:
    unknown = sorted(set(names) - set(ROLES))
    return f"{unknown} are not roles (roles: {', '.join(ROLES)})" if unknown else None


def _types_problem(names: list[str], entity_types: list[str], owner: str) -> str | None:
    unknown = sorted(set(names) - set(entity_types))
    return f"{unknown} are not entity types of {owner} ({', '.join(entity_types) or 'none'})" if unknown else None


def _trigger_problem(trigger_types: list[str], entity_types: list[str], owner: str) -> str | None:
    missing = [t for t in trigger_types if t not in entity_types]
    if not missing:
        return None
    return (f"{missing} are not entity types of {owner} ({', '.join(entity_types) or 'none'}); a trigger "
            f"must be a type the NER layers tag (add it to model.entity_types / the training data, or set "
            f"roles.enabled false)")


def _same_extra_heads(have: dict[str, dict], asked: dict[str, dict]) -> bool:
    """Same head names with the same types (as sets) and layers; loss weights may differ."""
    if set(have) != set(asked):
        return False
    return all(set(have[n]["entity_types"]) == set(asked[n]["entity_types"])
               and have[n]["num_layers"] == asked[n]["num_layers"] for n in have)


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
    if key == "data.extra_corpora":
        return _same_extra_heads(have, asked)
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
