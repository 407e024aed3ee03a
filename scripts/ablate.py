"""Ablations at equal budget on NEREL dev: each candidate is the default recipe plus a few overrides,
trained from the backbone for the same number of epochs with the same seed, then scored on dev by the
trainer's own dev scorer (the run's ``train_summary.json``).

    python scripts/ablate.py --epochs 1 --parallel 2 baseline fp32          # run two, one thread each
    python scripts/ablate.py --epochs 1 --collect baseline fp32 unfrozen    # only rebuild the table

Each run writes ``models/abl-<epochs>ep-[<tag>-]<name>`` and ``runs/abl-<epochs>ep-[<tag>-]<name>``; the table (JSON +
Markdown) goes to ``<out>.json`` / ``<out>.md`` (default ``reports/ablations/dev``) and keeps the rows
of earlier invocations (same name + epochs = replaced). A benchmark of the model, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from diplomat_ie.utils import atomic_write_text

# name -> the overrides of the default config that make the candidate
CANDIDATES: dict[str, list[str]] = {
    "baseline": [],
    "fp32": ["--training.bf16", "false"],
    "unfrozen-embeddings": ["--model.freeze_word_embeddings", "false"],
    "freeze4": ["--model.freeze_layers", "4"],
    "full-vocabulary": ["--model.backbone", "models/backbones/multilingual-e5-small"],
    "span-head": ["--model.ner_head", "span"],
    "span-head-words": ["--model.ner_head", "span", "--model.span_loss_scale", "words"],
    "pair-roles": ["--roles.head", "pair"],
    "pair-roles-negatives": ["--roles.head", "pair", "--roles.pair_negatives", "8"],
    "pair-roles-late-negatives": ["--roles.head", "pair", "--roles.pair_negatives", "8",
                                  "--roles.pair_negatives_from", "0.5"],
    "span-head+pair-roles": ["--model.ner_head", "span", "--roles.head", "pair"],
    "layer-lr-decay": ["--training.layer_lr_decay", "0.8"],
    "role-class-balance": ["--roles.class_balance", "0.5"],
    "top-layer": ["--model.scalar_mix", "0"],  # the heads read e5-small's top layer only
    "scalar-mix": ["--model.scalar_mix", "4"],  # the last 4 of e5-small's 13 hidden states
    "scalar-mix-8": ["--model.scalar_mix", "8"],  # won at 2 epochs, lost over the full schedule (README)
    "scalar-mix-13": ["--model.scalar_mix", "13"],  # every hidden state, the embeddings included
    "pair-context": ["--roles.pair_context", "true"],  # + mean of the words between trigger and candidate
    "pair-sentence": ["--roles.pair_sentence", "true"],  # + learned same-sentence / other-sentence vector
    "batch-8": ["--training.batch_size", "8"],  # twice the optimiser steps per epoch, same windows
    "window-256": ["--model.max_length", "256"],  # longer windows: more context, fewer windows per epoch
    "encoder-lr-12e-5": ["--training.encoder_lr", "1.2e-4"],  # 1.5x the default's encoder rate (8e-5)
    "head-lr-2e-3": ["--training.head_lr", "2e-3"],  # 2x the old default's head rate (1e-3), now the default
    "head-lr-4e-3": ["--training.head_lr", "4e-3"],  # 2x the default's head rate (2e-3)
    "role-head-lr-4e-3": ["--training.role_head_lr", "4e-3"],  # the role head alone at head-lr-4e-3's rate
    "window-breaks-paragraph": ["--model.window_breaks", "paragraph"],  # no window crosses a blank line
    "overlap-48": ["--model.overlap", "48"],  # adopted: 1.5x the earlier window overlap (32), more context at window edges
    "overlap-64": ["--model.overlap", "64"],  # adopted: 4/3 of the earlier overlap (48), the next step of the overlap-48 win
    "overlap-72": ["--model.overlap", "72"],  # 9/8 of the default's overlap (64); below half the 160-subword window
    "role-hidden-384": ["--roles.hidden_size", "384"],  # 2x the pair role head's projection width (192)
    "role-loss-3": ["--roles.loss_weight", "3"],  # 0.6x the default role loss weight (5): more of the encoder for NER
    "role-loss-8": ["--roles.loss_weight", "8"],  # 1.6x the default role loss weight (5, chosen for the BIO role head)
    "dropout-0.2": ["--model.dropout", "0.2"],  # 2x the default's dropout before the heads (0.1)
    "ema-0.997": ["--training.ema_decay", "0.997"],  # weight average, ~1 epoch (355 steps at batch 8) horizon
    "head-lr-2e-3-ema-0.997": ["--training.head_lr", "2e-3", "--training.ema_decay", "0.997"],  # the two dev winners
    "bio-roles": ["--roles.head", "bio", "--roles.pair_negatives", "0", "--roles.pair_negatives_from", "0"],
    "word-vectors": ["--model.word_vectors", "navec"],
    "word-lexicon": ["--model.word_lexicon", "[morph, places, train]"],
    "factrueval-corpus": ["--data.extra_corpora", "[{corpus: factrueval, split: dev}]"],
}
HEADLINE = ("eval_nested_f1", "eval_nested_macro_f1", "eval_per_org_loc_f1", "eval_event_f1", "eval_inner_f1",
            "eval_roles_gold_f1", "eval_roles_e2e_f1")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("candidates", nargs="+", choices=list(CANDIDATES), help="what to compare")
    p.add_argument("--epochs", type=float, default=1.0, help="training epochs of every candidate")
    p.add_argument("--parallel", type=int, default=1, help="runs at once (each gets cores / parallel threads)")
    p.add_argument("--collect", action="store_true", help="do not train: rebuild the table from finished runs")
    p.add_argument("--bin", default=str(Path(sys.executable).with_name("diplomat-ie")), help="the CLI")
    p.add_argument("--tag", default="", help="run names abl-<epochs>ep-<tag>-<name> (when the default config "
                   "changed since earlier runs)")
    p.add_argument("--out", default="reports/ablations/dev", help="output path without extension")
    p.epilog = "after --: overrides for every candidate (e.g. -- --model.ner_decoding argmax)"
    argv = list(sys.argv[1:] if argv is None else argv)
    cut = argv.index("--") if "--" in argv else len(argv)  # argparse would take the overrides for candidates
    a = p.parse_args(argv[:cut])
    a.extra = argv[cut + 1 :]
    return a


def run_name(name: str, epochs: float, tag: str = "") -> str:
    return f"abl-{epochs:g}ep-{tag + '-' if tag else ''}{name}"


def command(a, name: str, threads: int) -> list[str]:
    run = run_name(name, a.epochs, a.tag)
    extra = [x for x in a.extra if x != "--"]
    return [a.bin, "train", "--config", "default", "--name", run, "--training.output_dir", f"models/{run}",
            "--training.epochs", f"{a.epochs:g}", "--training.threads", str(threads), "--data.cache_dir", "null",
            "--training.overwrite", "true", *CANDIDATES[name], *extra]


def train_all(a) -> None:
    threads = max(1, (os.cpu_count() or 1) // a.parallel)
    pending, running = list(a.candidates), []
    Path("runs").mkdir(exist_ok=True)
    while pending or running:
        while pending and len(running) < a.parallel:
            name = pending.pop(0)
            log = open(Path("runs") / f"{run_name(name, a.epochs, a.tag)}.log", "w", encoding="utf-8")  # noqa: SIM115
            print(f"start {name}: {' '.join(command(a, name, threads))}", file=sys.stderr, flush=True)
            running.append((name, subprocess.Popen(command(a, name, threads), stdout=log, stderr=log), log))
        time.sleep(5)
        for item in list(running):
            if item[1].poll() is not None:
                item[2].close()
                running.remove(item)
                print(f"done {item[0]}: exit {item[1].returncode}", file=sys.stderr, flush=True)


def row(name: str, epochs: float, tag: str = "") -> dict:
    path = Path("runs") / run_name(name, epochs, tag) / "train_summary.json"
    label = f"{tag}: {name}" if tag else name
    if not path.is_file():
        return {"candidate": label, "epochs": epochs, "error": f"{path} missing (run failed or not run)"}
    s = json.loads(path.read_text(encoding="utf-8"))
    history = s.get("dev_history") or []
    last = history[-1] if history else {}
    best = best_dev(history)
    return {"candidate": label, "epochs": epochs, "overrides": CANDIDATES[name], "steps": last.get("step"),
            "seconds": s.get("seconds"), "peak_rss_mb": s.get("peak_rss_mb"),
            "threads": s["config"]["training"].get("threads"), "dev_seconds": last.get("eval_runtime"),
            "dev_curve": [h.get("eval_nested_f1") for h in history], "best_epoch": best.get("epoch"),
            **{k: best.get(k) for k in HEADLINE}}


def best_dev(history: list[dict]) -> dict:
    """The dev evaluation whose model the run kept: the first with the highest nested F1 (the trainer's
    ``metric_for_best_model``), not the last one when early stopping ran on past it."""
    scored = [h for h in history if h.get("eval_nested_f1") is not None]
    return max(scored, key=lambda h: h["eval_nested_f1"]) if scored else {}


def markdown(rows: list[dict]) -> str:
    lines = ["# Ablations on NEREL dev (default recipe + overrides, from the backbone, same seed)", "",
             "| candidate | epochs | steps | nested F1 | macro F1 | PER/ORG/LOC | EVENT | inner | roles gold | "
             "roles e2e | train s | dev predict s | threads | peak RSS MB |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['candidate']} | {r['epochs']:g} | {r['error']} | | | | | | | | | | | |")
            continue
        f1 = " | ".join(f"{r[k]:.2f}" if r.get(k) is not None else "-" for k in HEADLINE)  # older rows: no EVENT
        dev_s = f"{r['dev_seconds']:.0f}" if r.get("dev_seconds") is not None else "-"  # older rows: none
        lines.append(f"| {r['candidate']} | {r['epochs']:g} | {r['steps']} | {f1} | {r['seconds']:.0f} | {dev_s} | "
                     f"{r['threads']} | {r['peak_rss_mb']:.0f} |")
    return "\n".join(lines) + "\n"



def main(argv=None) -> int:
    a = parse_args(argv)
    if not a.collect:
        train_all(a)
    out = Path(a.out)
    table = out.with_name(out.name + ".json")  # appended: a dotted name would lose its tail to with_suffix
    old = json.loads(table.read_text(encoding="utf-8"))["rows"] if table.is_file() else []
    new = [row(n, a.epochs, a.tag) for n in a.candidates]
    keys = {(r["candidate"], r["epochs"]) for r in new}
    rows = [r for r in old if (r["candidate"], r["epochs"]) not in keys] + new
    atomic_write_text(table, json.dumps({"rows": rows}, indent=2) + "\n")
    atomic_write_text(out.with_name(out.name + ".md"), markdown(rows))
    print(markdown(rows))
    return 0 if all("error" not in r for r in new) else 1


if __name__ == "__main__":
    sys.exit(main())
