"""Decoding ablation on one trained model: the same weights scored with each ``model.ner_decoding``.

    python scripts/ablate_decoding.py --model models/abl-2ep-x --split dev --out reports/ablations/decoding-x

Decoding is a runtime setting (no weights), so one trained model is an equal budget for every row. Each
row's full evaluation folder goes to ``<out>/<decoding>/``; the table to ``<out>.json`` / ``<out>.md``.
A benchmark of the model, not a test.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from diplomat_ie.config import NER_DECODINGS
from diplomat_ie.evaluation.run import run_evaluation
from diplomat_ie.modeling.io import load_model_dir
from diplomat_ie.utils import atomic_write_text

COLUMNS = ("nested_f1", "nested_macro_f1", "per_org_loc_f1", "event_f1", "inner_f1", "roles_gold_f1",
           "roles_e2e_f1")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, help="a trained model directory (layered NER head)")
    p.add_argument("--corpus", default="nerel")
    p.add_argument("--split", default="dev")
    p.add_argument("--decodings", nargs="+", default=list(NER_DECODINGS), choices=NER_DECODINGS)
    p.add_argument("--lenient", action="store_true", help="skip malformed annotation lines")
    p.add_argument("--out", required=True, help="output path without extension")
    return p.parse_args(argv)


def markdown(model: str, split: str, rows: list[dict]) -> str:
    lines = [f"# `model.ner_decoding` on {model} ({split})", "",
             "| decoding | nested F1 | macro F1 | PER/ORG/LOC | EVENT | inner | roles gold | roles e2e | predict s |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        f1 = " | ".join(f"{r[k]:.2f}" if r.get(k) is not None else "-" for k in COLUMNS)
        lines.append(f"| {r['decoding']} | {f1} | {r['predict_s']:.0f} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    a = parse_args(argv)
    model, tokenizer = load_model_dir(a.model)
    if model.config.is_span:
        print(f"ablate_decoding: error: {a.model} has a span NER head; ner_decoding is for the layered head",
              file=sys.stderr)
        return 2
    out, rows = Path(a.out), []
    for decoding in a.decodings:
        model.config.ner_decoding = decoding
        res = run_evaluation(a.model, corpus=a.corpus, split=a.split, output=out / decoding, lenient=a.lenient,
                             loaded=(model, tokenizer))
        rows.append({"decoding": decoding, "predict_s": res["timings"]["predict_s"],
                     **{k: res["headline"].get(k) for k in COLUMNS}})
    atomic_write_text(out.with_suffix(".json"), json.dumps({"model": a.model, "split": a.split, "rows": rows},
                                                           indent=2) + "\n")
    text = markdown(a.model, a.split, rows)
    atomic_write_text(out.with_suffix(".md"), text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
