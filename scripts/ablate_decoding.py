"""Decoding ablation on one trained model: the same weights scored with each ``model.ner_decoding``
and, with ``--role-biases``, each ``roles.none_bias`` (with ``--single-role-sets``, each ``roles.single_roles``; with ``--cross-sentence-biases``, each
``roles.cross_sentence_bias``; with ``--role-bias-sets``, each ``roles.role_biases``; with ``--type-bias-sets``,
each ``model.type_biases``; with ``--window-breaks``, each ``model.window_breaks``; with ``--overlaps``, each
``model.overlap`` at prediction).

    python scripts/ablate_decoding.py --model models/abl-2ep-x --split dev --out reports/ablations/decoding-x
    python scripts/ablate_decoding.py --model models/default --decodings viterbi --role-biases 0 0.5 1 \
        --split dev --out reports/ablations/role-bias-default
    python scripts/ablate_decoding.py --model models/default --decodings viterbi --single-role-sets none time \
        time,place --split dev --out reports/ablations/single-roles-default

Decoding is a runtime setting (no weights), so one trained model is an equal budget for every row. Each
row's full evaluation folder goes to ``<out>/<decoding>/`` (``<out>/<decoding>-bias<b>/`` with
``--role-biases``, ``-single<roles>`` added with ``--single-role-sets``); the table to ``<out>.json`` / ``<out>.md``. The encoder runs once: every row after
the first reuses its window outputs (``predict s`` is then the decoding and the heads only). A benchmark
of the model, not a test.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

from diplomat_ie.config import NER_DECODINGS, WINDOW_BREAKS, ConfigError, parse_mapping
from diplomat_ie.evaluation.run import run_evaluation, write_ablation
from diplomat_ie.evaluation.tables import ABLATION_COLUMNS, ablation_markdown
from diplomat_ie.modeling.io import load_model_dir
from diplomat_ie.modeling.runners import MemoWindowRunner, torch_window_outputs


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, help="a trained model directory (layered NER head)")
    p.add_argument("--corpus", default="nerel")
    p.add_argument("--split", default="dev")
    p.add_argument("--decodings", nargs="+", default=list(NER_DECODINGS), choices=NER_DECODINGS)
    p.add_argument("--role-biases", nargs="+", type=float,
                   help="roles.none_bias values to score (default: the model's own only)")
    p.add_argument("--single-role-sets", nargs="+",
                   help="roles.single_roles values to score, each comma-separated roles or 'none' (default: the "
                        "model's own only)")
    p.add_argument("--cross-sentence-biases", nargs="+", type=float,
                   help="roles.cross_sentence_bias values to score (default: the model's own only)")
    p.add_argument("--role-bias-sets", nargs="+",
                   help="roles.role_biases values to score, each role=bias pairs joined by commas (agent=0.5,"
                        "object=1) or 'none' (default: the model's own only)")
    p.add_argument("--type-bias-sets", nargs="+",
                   help="model.type_biases values to score, each TYPE=bias pairs joined by commas (EVENT=0.5) or "
                        "'none' (default: the model's own only)")
    p.add_argument("--window-breaks", nargs="+", choices=list(WINDOW_BREAKS),
                   help="model.window_breaks values to score (default: the model's own only); each value runs the "
                        "encoder again (other windows)")
    p.add_argument("--overlaps", nargs="+", type=int,
                   help="model.overlap values to predict with (default: the model's own only; the weights keep "
                        "the overlap they were trained with); each value runs the encoder again (other windows)")
    p.add_argument("--lenient", action="store_true", help="skip malformed annotation lines")
    p.add_argument("--out", required=True, help="output path without extension")
    return p.parse_args(argv)


def markdown(model: str, split: str, rows: list[dict]) -> str:
    lead = {"decoding": lambda r: r["decoding"], "roles.none_bias": lambda r: f"{r['role_none_bias']:g}",
            "roles.single_roles": lambda r: ", ".join(r.get("role_single_roles") or []) or "-",
            "roles.cross_sentence_bias": lambda r: f"{r.get('role_cross_sentence_bias', 0.0):g}",
            "roles.role_biases": lambda r: ", ".join(f"{k} {v:g}" for k, v in (r.get("role_biases") or {}).items()) or "-",
            "model.type_biases": lambda r: ", ".join(f"{k} {v:g}" for k, v in (r.get("type_biases") or {}).items()) or "-",
            "model.window_breaks": lambda r: r.get("window_breaks", "none"),
            "model.overlap": lambda r: str(r.get("overlap", ""))}
    return ablation_markdown(f"Decoding on {model} ({split})", rows, lead,
                             {"predict s": lambda r: f"{r['predict_s']:.0f}"})


def bias_sets(values: list[str] | None, flag: str, names: list[str], what: str, model: str,
              default: dict | None) -> list[dict[str, float]]:
    """Each ``name=bias,...`` value (or 'none') as a mapping; without values, the model's own."""
    if not values:
        return [dict(default or {})]
    sets = [{} if x == "none" else parse_mapping(x, [str, float], flag) for x in values]
    if unknown := sorted({k for b in sets for k in b} - set(names)):
        raise ConfigError(f"{flag}: {unknown} are not {what} of {model}")
    return sets


def main(argv=None) -> int:
    a = parse_args(argv)
    model, tokenizer = load_model_dir(a.model)
    if model.config.is_span:
        print(f"ablate_decoding: error: {a.model} has a span NER head; ner_decoding is for the layered head",
              file=sys.stderr)
        return 2
    out, rows = Path(a.out), []
    runner = MemoWindowRunner(torch_window_outputs(model))  # one encoder pass for all rows
    biases = a.role_biases or [float(getattr(model.config, "role_none_bias", 0.0))]
    singles = [[] if x == "none" else x.split(",") for x in a.single_role_sets] if a.single_role_sets else \
        [list(getattr(model.config, "role_single_roles", None) or [])]
    if unknown := sorted({r for roles in singles for r in roles} - set(model.config.roles)):
        print(f"ablate_decoding: error: --single-role-sets: {unknown} are not roles of {a.model}", file=sys.stderr)
        return 2
    crosses = a.cross_sentence_biases or [float(getattr(model.config, "role_cross_sentence_bias", 0.0))]
    try:
        role_sets = bias_sets(a.role_bias_sets, "--role-bias-sets", model.config.roles, "roles", a.model,
                              getattr(model.config, "role_biases", {}))
        type_sets = bias_sets(a.type_bias_sets, "--type-bias-sets", model.config.entity_types, "entity types",
                              a.model, getattr(model.config, "type_biases", {}))
    except ConfigError as exc:
        print(f"ablate_decoding: error: {exc}", file=sys.stderr)
        return 2
    breaks = a.window_breaks or [getattr(model.config, "window_breaks", "none")]
    overlaps = a.overlaps or [int(model.config.overlap)]
    if problems := [p for o in overlaps if (p := model.config.runtime_problem("model.overlap", o, a.model))]:
        print(f"ablate_decoding: error: --overlaps: {problems[0]}", file=sys.stderr)
        return 2
    for decoding, bias, single, cross, role_biases, type_biases, brk, overlap in itertools.product(
            a.decodings, biases, singles, crosses, role_sets, type_sets, breaks, overlaps):
        model.config.ner_decoding, model.config.role_none_bias = decoding, bias
        model.config.window_breaks, model.config.overlap = brk, overlap
        model.config.role_single_roles, model.config.role_cross_sentence_bias = single, cross
        model.config.role_biases, model.config.type_biases = role_biases, type_biases
        name = f"{decoding}-bias{bias:g}" if a.role_biases else decoding
        if a.single_role_sets:
            name += "-single" + ("+".join(single) or "none")
        if a.cross_sentence_biases:
            name += f"-cross{cross:g}"
        if a.role_bias_sets:
            name += "-roles" + ("+".join(f"{k}{v:g}" for k, v in role_biases.items()) or "none")
        if a.type_bias_sets:
            name += "-types" + ("+".join(f"{k}{v:g}" for k, v in type_biases.items()) or "none")
        if a.window_breaks:
            name += f"-breaks{brk}"
        if a.overlaps:
            name += f"-overlap{overlap}"
        res = run_evaluation(a.model, corpus=a.corpus, split=a.split, output=out / name, lenient=a.lenient,
                             loaded=(model, tokenizer), window_fn=runner)
        rows.append({"decoding": decoding, "role_none_bias": bias, "role_single_roles": single,
                     "role_cross_sentence_bias": cross, "role_biases": role_biases, "type_biases": type_biases,
                     "window_breaks": brk, "overlap": overlap,
                     "predict_s": res["timings"]["predict_s"],
                     **{k: res["headline"].get(k) for k in ABLATION_COLUMNS}})
    print(write_ablation(out, {"model": a.model, "split": a.split, "rows": rows}, markdown(a.model, a.split, rows)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
