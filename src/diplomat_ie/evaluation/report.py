"""The main job's report (``build_report``); one evaluation's ``report.md`` is in :mod:`.tables`.

``build_report`` runs the test split (full + diplomatic subset), factRuEval-2016 test (out of domain
PER/ORG/LOC), the Natasha comparison, extracts the seed articles, draws the plots, and writes
``metrics.json`` + ``report.md``; it also re-writes the model card with the test metrics.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

from ..data.corpora import load_docs
from ..utils import atomic_write_json, atomic_write_text
from .run import run_evaluation
from .tables import coarse_table, detail_sections, headline_table, md_table, own_head_section


def load_run_summary(run_dir, model_dir) -> dict | None:
    """``<run_dir>/train_summary.json``, else ``runs/<model dir name>/train_summary.json``, else None."""
    candidates = [Path(run_dir)] if run_dir else [Path("runs") / Path(model_dir).resolve().name]
    for folder in candidates:
        path = folder / "train_summary.json"
        if path.is_file():
            return json.loads(path.read_text(encoding="utf-8"))
    if run_dir:
        raise FileNotFoundError(f"{Path(run_dir) / 'train_summary.json'} not found")
    return None


def extract_seeds(model, tokenizer, seeds_dir, out: Path, batch_size: int = 32) -> dict | None:
    """Run the Extractor over ``seeds_dir/*.txt``; write ``seeds.jsonl`` and ``seed_article.html``, and
    ``seeds_lexicon.jsonl``: the same with the packaged trigger lexicon (``--trigger-lexicon default``).

    Args:
        model, tokenizer: the loaded model.
        seeds_dir: folder of seed articles (missing or empty: nothing is done).
        out: the report folder.
        batch_size: windows per forward pass.

    Returns:
        Counts and the results (``{"documents", "entities", "events", "by_type", "results",
        "lexicon_events", "lexicon_results"}``), or None.
    """
    from ..inference.extractor import Extractor
    from ..inference.html import render_html

    files = sorted(Path(seeds_dir).glob("*.txt")) if seeds_dir and Path(seeds_dir).is_dir() else []
    if not files:
        return None
    texts = [f.read_text(encoding="utf-8") for f in files]

    def run(lexicon: str | None, name: str) -> list[dict]:
        extractor = Extractor(model, tokenizer, batch_size=batch_size, trigger_lexicon=lexicon)
        rows = [dict(id=f.stem, **r.to_dict()) for f, r in zip(files, extractor(texts), strict=True)]
        atomic_write_text(out / name, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
        return rows

    results = run(None, "seeds.jsonl")
    with_lexicon = run("default", "seeds_lexicon.jsonl")
    atomic_write_text(out / "seed_article.html", render_html(results, title="diplomat-ie: seed articles"))
    by_type = Counter(e["type"] for r in results for e in r["entities"])
    return {"documents": len(results), "entities": sum(by_type.values()),
            "events": sum(len(r["events"]) for r in results), "by_type": dict(by_type.most_common()),
            "lexicon_events": sum(len(r["events"]) for r in with_lexicon),
            "results": results, "lexicon_results": with_lexicon}


def _label(corpus, split: str) -> str:
    from ..data.corpora import corpus_name

    return f"{corpus_name(str(corpus)) or Path(corpus).name}-{split}"


def natasha_row(result: dict, docs_fn, run: bool) -> dict:
    """The Natasha comparison row for one evaluated corpus (measured, or the reference figure).

    Args:
        result: the :func:`run_evaluation` result of the model on that corpus.
        docs_fn: returns the same gold documents (called only when Natasha runs).
        run: whether to run Natasha at all.

    Returns:
        ``{"system", "corpus", "precision", "recall", "f1", "source"}``.
    """
    from ..data.corpora import FACTRUEVAL_TO_COARSE, NEREL_TO_COARSE
    from .baselines import natasha_available, natasha_scores

    row = {"system": "Natasha", "corpus": _label(result["corpus"], result["split"]),
           "precision": None, "recall": None, "f1": None}
    scores = None
    if run and natasha_available():
        mapping = FACTRUEVAL_TO_COARSE if result["scheme"] == "factrueval" else NEREL_TO_COARSE
        scores = natasha_scores(docs_fn(), mapping)
    if scores is not None:
        mi = scores["per_org_loc"]["micro"]
        row.update(precision=mi["precision"], recall=mi["recall"], f1=mi["f1"], documents=scores["documents"],
                   source=f"measured by diplomat-ie's scorer (natasha {scores['version']}, "
                          f"{scores['documents']} docs, {scores['seconds']} s)", scores=scores)
        return row
    # No stored figure stands in for a missing run: a number in the report is one this run measured.
    row.update(source="natasha not installed (pip install 'diplomat-ie[baselines]')" if run else
               "natasha not run (disabled)")
    return row


def comparison_rows(evals: list[dict], natasha: bool, docs_for) -> list[dict]:
    """PER/ORG/LOC micro scores of the model and of Natasha on each evaluated corpus."""
    rows = []
    for r in evals:
        mi = r["metrics"]["per_org_loc"]["micro"]
        rows.append({"system": "diplomat-ie", "corpus": _label(r["corpus"], r["split"]),
                     "precision": mi["precision"], "recall": mi["recall"], "f1": mi["f1"],
                     "source": f"this report ({r['documents']} docs)"})
        if own := r.get("own_head"):
            mi = own["metrics"]["per_org_loc"]["micro"]
            rows.append({"system": f"diplomat-ie ({own['head']} head)", "corpus": _label(r["corpus"], r["split"]),
                         "precision": mi["precision"], "recall": mi["recall"], "f1": mi["f1"],
                         "source": f"this report, own head ({own['documents']} docs)"})
    rows += [natasha_row(r, lambda r=r: docs_for(r), natasha) for r in evals]
    return rows


def test_metrics_for_card(evals: list[dict]) -> dict[str, float]:
    """Flat ``{"<corpus>-<split> <metric>": value}`` for the model card's Test table."""
    out = {}
    for r in evals:
        label = _label(r["corpus"], r["split"])
        out.update({f"{label} {k}": v for k, v in r["headline"].items()})
        out.update({f"{label} diplomatic {k}": v for k, v in r["diplomatic"]["headline"].items()})
        if own := r.get("own_head"):
            out.update({f"{label} {own['head']} head {k}": v for k, v in own["headline"].items()})
    return out


def rewrite_card(model_dir, summary: dict, test_metrics: dict) -> Path:
    """Re-write ``<model_dir>/README.md`` with the test metrics (the saved model's config, the run's summary).

    Args:
        model_dir: the model directory.
        summary: the run's ``train_summary.json``.
        test_metrics: flat metric -> value.

    Returns:
        The card's path.
    """
    from ..modeling.configuration import DiplomatConfig
    from ..training.card import model_card

    config = DiplomatConfig.from_pretrained(str(model_dir))
    path = Path(model_dir) / "README.md"
    atomic_write_text(path, model_card(config, summary, test_metrics))
    return path


def _plots(out: Path, main: dict, summary: dict | None) -> dict[str, str]:
    from .plots import f1_per_role, f1_per_type, training_curves

    m = main["metrics"]
    made = {"training_curves": training_curves(summary, out / "training_curves.png") if summary else None,
            "f1_per_type": f1_per_type(m["nested"]["per_type"], out / "f1_per_type.png") if "nested" in m
            else None,
            "f1_per_role": f1_per_role(m["roles_gold_triggers"]["per_type"], m["roles_end_to_end"]["per_type"],
                                       out / "f1_per_role.png") if "roles_gold_triggers" in m else None}
    return {k: Path(v).name for k, v in made.items() if v is not None}


def build_report(model_dir, output, run_dir=None, seeds_dir="../shared/seeds", root=None, batch_size: int = 32,
                 max_docs: int | None = None, corpus: str = "nerel", split: str = "test",
                 ood_corpus: str | None = "factrueval", ood_split: str = "test", natasha: bool = True,
                 lenient: bool = True, update_card: bool = True) -> dict:
    """The main job's report: test + diplomatic subset, factRuEval, Natasha, seeds, plots, model card.

    Args:
        model_dir: the trained model directory.
        output: the report folder (sub-folders ``<corpus>-<split>/`` hold each evaluation's files).
        run_dir: the run folder with ``train_summary.json`` (default ``runs/<model dir name>`` if present).
        seeds_dir: folder of seed ``*.txt`` articles (None to skip).
        root: the corpora folder.
        batch_size: windows per forward pass.
        max_docs: evaluate only the first N documents of each corpus.
        corpus, split: the main evaluation (a named corpus or a folder of split folders).
        ood_corpus, ood_split: the out-of-domain PER/ORG/LOC evaluation (None to skip).
        natasha: run the Natasha comparison when natasha is installed.
        lenient: skip and count malformed annotation lines.
        update_card: re-write the model card (needs the run summary).

    Returns:
        The dict written to ``metrics.json`` plus ``"output"``.
    """
    from ..modeling.io import load_model_dir

    t0 = time.time()
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    summary = load_run_summary(run_dir, model_dir)
    loaded = load_model_dir(model_dir)
    kw = {"root": root, "max_docs": max_docs, "lenient": lenient, "batch_size": batch_size, "loaded": loaded}
    evals = [run_evaluation(model_dir, corpus, split, output=out / _label(corpus, split), **kw)]
    if ood_corpus:
        evals.append(run_evaluation(model_dir, ood_corpus, ood_split, output=out / _label(ood_corpus, ood_split),
                                    **kw))
    docs_for = lambda r: load_docs(r["corpus"], r["split"], root=root, lenient=lenient)[:max_docs]  # noqa: E731
    seeds = extract_seeds(*loaded, seeds_dir, out, batch_size) if seeds_dir else None
    metrics = {"model": str(model_dir), "evaluations": {_label(r["corpus"], r["split"]): r for r in evals},
               "comparison": comparison_rows(evals, natasha, docs_for),
               "seeds": {k: v for k, v in seeds.items() if not k.endswith("results")} if seeds else None,
               "training": _training_facts(summary), "images": _plots(out, evals[0], summary)}
    card = None
    if update_card and summary:
        card = str(rewrite_card(model_dir, summary, test_metrics_for_card(evals)))
    metrics["model_card"] = card
    metrics["seconds"] = round(time.time() - t0, 1)
    atomic_write_json(out / "metrics.json", metrics)
    atomic_write_text(out / "report.md", report_markdown(metrics, seeds))
    return dict(metrics, output=str(out))


def _training_facts(summary: dict | None) -> dict | None:
    if not summary:
        return None
    keys = ("name", "train_docs", "dev_docs", "train_windows", "seconds", "seconds_per_epoch", "epochs_run",
            "train_loss", "best_dev", "peak_rss_mb", "seconds_known_total", "seconds_this_process", "resumed_from")
    facts = {k: summary.get(k) for k in keys}
    facts["backbone"] = (summary.get("config") or {}).get("model", {}).get("backbone")
    return facts


def _seed_section(seeds: dict | None, results: list[dict]) -> str:
    if not seeds:
        return "## Seed articles\n\nNo seed articles found.\n"
    lines = [f"## Seed articles\n\n{seeds['documents']} article(s): {seeds['entities']} entities, "
             f"{seeds['events']} events. Highlighted: [seed_article.html](seed_article.html); "
             f"JSON: `seeds.jsonl`.\n",
             md_table(["entity type", "count"], [[t, c] for t, c in list(seeds["by_type"].items())[:12]])]
    for what, rows in (("", results), (" with the trigger lexicon (`seeds_lexicon.jsonl`)",
                                       seeds.get("lexicon_results") or [])):
        for r in rows[:1]:
            lines.append(f"\nEvents in `{r['id']}`{what} (first 12):\n")
            for ev in r["events"][:12]:
                args = "; ".join(f"{a['role']}: {a['text']}" for a in ev["arguments"]) or "no arguments"
                lines.append(f"- **{ev['trigger']['text']}** — {args}")
    return "\n".join(lines) + "\n"


def _training_section(t: dict | None) -> str:
    if not t:
        return "## Training\n\nNo run summary (pass --run-dir runs/NAME).\n"
    best = t.get("best_dev") or {}
    what = "training time"
    if t.get("resumed_from"):  # an older summary has no seconds_known_total: its seconds were this part's
        what += ", all parts" if t.get("seconds_known_total") else " of the last resumed part"
    rows = [["backbone", t.get("backbone")], [f"{what} (s)", t.get("seconds")],
            [f"{what} (h)", round(t["seconds"] / 3600, 2) if t.get("seconds") else None],
            ["epochs", t.get("epochs_run")], ["s / epoch", t.get("seconds_per_epoch")],
            ["train documents", t.get("train_docs")], ["train windows", t.get("train_windows")],
            ["peak RSS (MB)", t.get("peak_rss_mb")]]
    if t.get("resumed_from"):
        rows.append(["resumed from", f"{t['resumed_from']} (this part: {t.get('seconds_this_process')} s)"])
    rows += [[f"best dev {k[5:]}", v] for k, v in best.items() if k.startswith("eval_") and k.endswith("f1")]
    return f"## Training\n\n{md_table(['', 'value'], rows)}"


def report_markdown(metrics: dict, seeds: dict | None = None) -> str:
    """The main ``report.md`` from :func:`build_report`'s metrics.

    Args:
        metrics: the dict written to ``metrics.json``.
        seeds: :func:`extract_seeds` output (with ``results``) or None.

    Returns:
        Markdown text.
    """
    (label, main), *ood = metrics["evaluations"].items()
    img = metrics["images"]
    cmp_rows = [[r["system"], r["corpus"], r["precision"], r["recall"], r["f1"], r["source"]]
                for r in metrics["comparison"]]
    parts = [f"# diplomat-ie report: `{Path(metrics['model']).name}`\n",
             f"Model `{metrics['model']}`; report built in {metrics['seconds']} s. Each evaluation's "
             f"own report, metrics and errors are in its sub-folder ({', '.join(metrics['evaluations'])}).\n",
             f"## Headline: {label}\n\n{headline_table(main)}",
             "## PER/ORG/LOC comparison\n\nOutermost PER/ORG/LOC spans, exact match, micro average.\n\n"
             + md_table(["system", "corpus", "P", "R", "F1", "source"], cmp_rows)]
    for key, title in (("f1_per_type", "F1 per type"), ("f1_per_role", "F1 per role")):
        if key in img:
            parts.append(f"![{title}]({img[key]})\n")
    parts += [s.replace("## ", f"## {label}: ", 1) for s in detail_sections(main)]
    for olabel, r in ood:
        parts.append(f"## Out of domain: {olabel}\n\n{headline_table(r)}\n{coarse_table(r['metrics'])}")
        if r.get("own_head"):
            parts.append(own_head_section(r, "###"))
    parts += [_seed_section(seeds, (seeds or {}).get("results", [])), _training_section(metrics["training"])]
    if "training_curves" in img:
        parts.append(f"![training curves]({img['training_curves']})\n")
    if metrics.get("model_card"):
        parts.append(f"Model card updated with the test metrics: `{metrics['model_card']}`.\n")
    return "\n".join(parts)
