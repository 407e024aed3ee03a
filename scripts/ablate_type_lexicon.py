"""Type-lexicon ablation on one trained model: the same weights scored with each ``model.type_lexicon``
setting (decoding only, so one model is an equal budget for every row).

    python scripts/ablate_type_lexicon.py --model models/default --split dev --lenient \
        --out reports/ablations/type-lexicon-default

The lookups are built from the corpus's ``--train-split`` documents (as training builds them) unless
``--saved`` uses the model's own
(``--train-corpus nerel`` to score a NEREL model on factRuEval). Rows: off, then every type set x min count x min share x place lookup
given. A type set is ``places`` (:data:`PLACES`), ``all`` (the model's types), ``all-but-<TYPE>``, or a
comma list. The encoder runs once (:class:`~diplomat_ie.modeling.runners.MemoWindowRunner`); each row's
evaluation folder goes to ``<out>/<row>/``, the table to ``<out>.json`` / ``<out>.md``. A benchmark of
the model, not a test.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

from diplomat_ie.data.corpora import load_docs
from diplomat_ie.evaluation.run import run_evaluation, write_ablation
from diplomat_ie.evaluation.tables import ABLATION_COLUMNS, ablation_markdown
from diplomat_ie.modeling.io import load_model_dir
from diplomat_ie.modeling.runners import MemoWindowRunner, torch_window_outputs
from diplomat_ie.modeling.type_lexicon import build_type_lexicon

PLACES = ("CITY", "COUNTRY", "DISTRICT", "LOCATION", "STATE_OR_PROVINCE")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, help="a trained model directory")
    p.add_argument("--corpus", default="nerel")
    p.add_argument("--split", default="dev")
    p.add_argument("--train-corpus", help="the corpus the lookups are built from (default: --corpus)")
    p.add_argument("--train-split", default="train", help="the documents the lookups are built from")
    p.add_argument("--saved", action="store_true", help="use the model's saved type lexicon")
    p.add_argument("--type-sets", nargs="+", default=["places", "all", "all-but-NATIONALITY"])
    p.add_argument("--min-counts", nargs="+", type=int, default=[2])
    p.add_argument("--min-shares", nargs="+", type=float, default=[0.7])
    p.add_argument("--places", nargs="+", choices=("on", "off"), default=["on"], help="the place lookup")
    p.add_argument("--lenient", action="store_true", help="skip malformed annotation lines")
    p.add_argument("--out", required=True, help="output path without extension")
    return p.parse_args(argv)


def type_set(name: str, model_types: list[str]) -> list[str]:
    """The types a ``--type-sets`` name stands for (unknown types: an error naming them)."""
    if name == "places":
        types = list(PLACES)
    elif name == "all" or name.startswith("all-but-"):
        drop = set(name.removeprefix("all-but-").split(",")) if name != "all" else set()
        types = [t for t in model_types if t not in drop]
    else:
        types = [t.strip() for t in name.split(",") if t.strip()]
    if unknown := sorted(set(types) - set(model_types)):
        raise SystemExit(f"ablate_type_lexicon: error: --type-sets {name}: {unknown} are not the model's types")
    return [t for t in types if t in model_types]


def markdown(model: str, split: str, rows: list[dict]) -> str:
    lead = {"type_lexicon": lambda r: r["name"], "min count": lambda r: str(r["min_count"] or ""),
            "min share": lambda r: f"{r['min_share']:g}" if r["min_share"] else "",
            "places": lambda r: r["places"] or ""}
    extra = {t: (lambda r, t=t: f"{r['per_type'].get(t, 0.0):.2f}") for t in (*PLACES, "NATIONALITY")}
    return ablation_markdown(f"Type lexicon on {model} ({split})", rows, lead, extra)


def main(argv=None) -> int:
    a = parse_args(argv)
    model, tokenizer = load_model_dir(a.model)
    if not a.saved or model.type_lexicon is None:
        model.heads.type_lexicon = build_type_lexicon(load_docs(a.train_corpus or a.corpus, a.train_split, lenient=a.lenient),
                                                      places="on" in a.places)
    cfg, out, rows = model.config, Path(a.out), []
    runner = MemoWindowRunner(torch_window_outputs(model))  # one encoder pass for all rows
    grid = [("off", None, None, None, None)] + [
        (name, type_set(name, cfg.entity_types), c, s, p)
        for name, c, s, p in itertools.product(a.type_sets, a.min_counts, a.min_shares, a.places)]
    for name, types, count, share, places in grid:
        cfg.type_lexicon = types
        if types:
            cfg.type_lexicon_min_count, cfg.type_lexicon_min_share = count, share
            cfg.type_lexicon_places = places == "on"
        label = name if types is None else f"{name}-c{count}-s{share:g}-places-{places}"
        res = run_evaluation(a.model, corpus=a.corpus, split=a.split, output=out / label, lenient=a.lenient,
                             loaded=(model, tokenizer), window_fn=runner)
        per_type = res["metrics"].get("nested", {}).get("per_type", {})  # factRuEval: PER/ORG/LOC only
        rows.append({"name": name, "types": types, "min_count": count, "min_share": share, "places": places,
                     "per_type": {t: per_type[t]["f1"] for t in per_type},
                     **{k: res["headline"].get(k) for k in ABLATION_COLUMNS}})
        print(f"{label}: {res['headline']}", flush=True)
    print(write_ablation(out, {"model": a.model, "split": a.split, "rows": rows}, markdown(a.model, a.split, rows)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
