"""Markdown tables of evaluation results, and the ``report.md`` of one evaluation."""

from __future__ import annotations

HEADLINE_NAMES = {"nested_f1": "nested NER micro F1", "nested_macro_f1": "nested NER macro F1",
                  "per_org_loc_f1": "PER/ORG/LOC micro F1", "per_org_loc_macro_f1": "PER/ORG/LOC macro F1",
                  "roles_gold_f1": "roles F1, gold triggers", "roles_e2e_f1": "roles F1, end to end",
                  "roles_gold_ent_f1": "roles F1, gold triggers and gold entities", "event_f1": "EVENT F1",
                  "inner_f1": "inner (nested inside another entity) micro F1"}


def fmt(v) -> str:
    """Two decimals for floats, ``str`` otherwise (``—`` for None)."""
    return "—" if v is None else f"{v:.2f}" if isinstance(v, float) else str(v)


def md_table(headers: list[str], rows: list[list]) -> str:
    """A Markdown table (cells formatted with :func:`fmt`, pipes escaped)."""
    cell = lambda v: fmt(v).replace("|", "\\|")  # noqa: E731
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def prf_table(scores: dict, label: str = "type") -> str:
    """Per-type P/R/F1 (most frequent first) with micro and macro rows, from ``score_sets`` output."""
    items = sorted(scores["per_type"].items(), key=lambda kv: (-kv[1]["support"], kv[0]))
    rows = [[t, m["precision"], m["recall"], m["f1"], m["support"], m["tp"], m["fp"], m["fn"]] for t, m in items]
    mi, ma = scores["micro"], scores["macro"]
    rows.append(["**micro**", mi["precision"], mi["recall"], mi["f1"], mi["support"], mi["tp"], mi["fp"], mi["fn"]])
    rows.append(["**macro**", ma["precision"], ma["recall"], ma["f1"], "", "", "", ""])
    return md_table([label, "P", "R", "F1", "support", "tp", "fp", "fn"], rows)


def headline_table(result: dict) -> str:
    """Headline metrics of one evaluation: full split vs the diplomatic subset."""
    dip = result["diplomatic"]
    rows = [[HEADLINE_NAMES.get(k, k), v, dip["headline"].get(k)] for k, v in result["headline"].items()]
    return md_table(["metric", f"full ({result['documents']} docs)",
                     f"diplomatic subset ({dip['documents']} docs)"], rows)


def layers_table(layers: dict) -> str:
    """The seqeval summary rows (micro / macro / weighted average) of each nesting layer."""
    rows = []
    for name, rep in layers.items():
        for avg in ("micro avg", "macro avg", "weighted avg"):
            if avg in rep:
                m = rep[avg]
                rows.append([name, avg, 100 * m["precision"], 100 * m["recall"], 100 * m["f1-score"],
                             int(m["support"])])
    return md_table(["layer", "average", "P", "R", "F1", "support"], rows)


def mapping_line(mapping: dict[str, str] | None) -> str:
    """Which predicted types were scored as which coarse type (older metrics.json files lack it)."""
    if not mapping:
        return ""
    by_coarse: dict[str, list[str]] = {}
    for fine, c in mapping.items():
        by_coarse.setdefault(c, []).append(fine)
    return "\nPredicted types scored as: " + "; ".join(
        f"{c} = {', '.join(sorted(f))}" for c, f in sorted(by_coarse.items())) + ".\n"


def coarse_table(metrics: dict) -> str:
    """The PER/ORG/LOC table of one evaluation's metrics, with the prediction mapping when recorded."""
    return prf_table(metrics["per_org_loc"]) + mapping_line(metrics.get("pred_mapping"))


def detail_sections(result: dict, h: str = "##") -> list[str]:
    """Per-type, PER/ORG/LOC, role and layer sections of one evaluation."""
    m = result["metrics"]
    out = []
    if "nested" in m:
        out.append(f"{h} Nested NER, per type (strict spans)\n\n{prf_table(m['nested'])}")
    out.append(f"{h} PER/ORG/LOC (exact spans; NEREL: outermost after mapping, factRuEval: whole objects)\n\n{coarse_table(m)}")
    if "roles_gold_triggers" in m:
        out.append(f"{h} Event roles with gold triggers\n\n{prf_table(m['roles_gold_triggers'], 'role')}")
        out.append(f"{h} Event roles end to end (predicted triggers)\n\n"
                   f"{prf_table(m['roles_end_to_end'], 'role')}")
    if "roles_gold_entities" in m:
        out.append(f"{h} Event roles with gold triggers and gold entities (argument candidates)\n\n"
                   f"{prf_table(m['roles_gold_entities'], 'role')}")
    if "layers" in m:
        out.append(f"{h} Per-layer BIO (seqeval, word level)\n\n{layers_table(m['layers'])}")
    return out


def own_head_section(result: dict, h: str = "##") -> str:
    """The scores of the model's own factRuEval head (``result["own_head"]``); ``""`` without one."""
    own = result.get("own_head")
    if not own:
        return ""
    return (f"{h} Own `{own['head']}` head (trained on `data.extra_corpora`)\n\nThe same PER/ORG/LOC scoring "
            f"with the extra head's predictions instead of the main head's mapped from NEREL types.\n\n"
            f"{headline_table(own)}\n{prf_table(own['metrics']['per_org_loc'])}")


def evaluation_markdown(result: dict) -> str:
    """The ``report.md`` of one :func:`run_evaluation` result.

    Args:
        result: the dict written to ``metrics.json``.

    Returns:
        Markdown text.
    """
    t = result["timings"]
    parts = [f"# Evaluation of `{result['model']}` on {result['corpus']} / {result['split']}\n",
             f"{result['documents']} documents, {result['windows']} windows; scheme: {result['scheme']}.\n",
             f"## Headline\n\n{headline_table(result)}",
             f"The diplomatic subset holds the documents that mention a keyword of "
             f"the packaged list `diplomat_ie/resources/diplomatic_keywords.yaml` ({result['diplomatic']['documents']} of "
             f"{result['documents']}).\n",
             *detail_sections(result),
             *([own_head_section(result)] if result.get("own_head") else []),
             "## Errors\n\nFalse positives (fp) and negatives (fn) with context: `errors.jsonl`.\n\n"
             + md_table(["kind", "count"], [[k, v] for k, v in result["errors"].items()]),
             f"## Timings\n\n{md_table(['step', 'value'], [[k, v] for k, v in t.items()])}"]
    return "\n".join(parts)


# The headline scores of one evaluation, as columns of the one-model ablation tables (scripts/ablate_*.py).
ABLATION_COLUMNS = {"nested_f1": "nested F1", "nested_macro_f1": "macro F1", "per_org_loc_f1": "PER/ORG/LOC",
                    "event_f1": "EVENT", "inner_f1": "inner", "roles_gold_f1": "roles gold",
                    "roles_e2e_f1": "roles e2e", "roles_gold_ent_f1": "roles gold ent."}


def ablation_markdown(title: str, rows: list[dict], lead: dict, tail: dict | None = None) -> str:
    """A titled table with one row per variant: ``lead`` columns, the headline scores, ``tail`` columns.

    Args:
        title: the heading line.
        rows: one dict per variant, holding the :data:`ABLATION_COLUMNS` keys.
        lead: header -> function of a row giving its cell, before the scores.
        tail: the same, after the scores.

    Returns:
        Markdown text.
    """
    tail = tail or {}
    cells = [[f(r) for f in lead.values()] + [r.get(k) for k in ABLATION_COLUMNS] + [f(r) for f in tail.values()]
             for r in rows]
    return f"# {title}\n\n" + md_table([*lead, *ABLATION_COLUMNS.values(), *tail], cells)
