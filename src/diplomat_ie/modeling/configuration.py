"""The saved model's configuration: encoder config, label lists, windowing, format version."""

from __future__ import annotations

from transformers import AutoConfig, PretrainedConfig

from ..data.labels import bio_labels

# 1: head weights at the top level (ner_head.*, role_head.*, role_marker); 2: under heads.* (DiplomatHeads).
# io.load_model_dir reads every version up to this one.
FORMAT_VERSION = 2


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
    """

    model_type = "diplomat_ie"

    def __init__(self, encoder: dict | None = None, entity_types: list[str] | None = None,
                 num_layers: int = 4, roles: list[str] | None = None,
                 trigger_types: list[str] | None = None, window_length: int = 160, overlap: int = 32,
                 dropout: float = 0.1, role_hidden_size: int = 192, max_distance: int = 64, role_loss_weight: float = 1.0,
                 role_marker_layer: int | None = None,
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
        self.format_version = format_version
        self.backbone_name = backbone_name
        self.training_summary = training_summary or {}
        super().__init__(**kwargs)

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


def _register() -> None:
    AutoConfig.register(DiplomatConfig.model_type, DiplomatConfig, exist_ok=True)


_register()
