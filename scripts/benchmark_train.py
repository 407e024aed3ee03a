"""CPU training benchmark: our trainer (fp32 / bf16 / trimmed vocabulary, frozen or trainable
embeddings) against a plain HF ``Trainer`` + ``AutoModelForTokenClassification`` flat-BIO baseline
(the outermost NER layer only), on the same backbone and the same NEREL training windows.

Each configuration runs a fixed number of optimiser steps in its own subprocess (so its peak RSS is
its own); the first ``--warmup-steps`` are not timed. Reported: s/step (median), windows/s, s/epoch
(steps per epoch x s/step), peak RSS.

    PYTHONPATH=src python scripts/benchmark_train.py --steps 30                  # the full run
    PYTHONPATH=src python scripts/benchmark_train.py --steps 3 --max-train-docs 5 --out /tmp/bt

Writes ``<out>.json`` and ``<out>.md`` (default ``benchmarks/train_results``), atomically. A benchmark,
not a test: nothing is asserted. Run it on a quiet machine; bf16 is only fast on CPUs with
AVX512-BF16 or AMX (the JSON records whether this one has them).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

BACKBONE = "models/backbones/multilingual-e5-small"
TRIMMED = "models/backbones/multilingual-e5-small-ru"
# name -> (system, backbone key, bf16, freeze word embeddings, frozen bottom encoder layers)
CONFIGS: dict[str, tuple[str, str, bool, bool, int]] = {
    "ours-fp32": ("ours", "full", False, True, 0),
    "ours-bf16": ("ours", "full", True, True, 0),
    "ours-fp32-unfrozen": ("ours", "full", False, False, 0),
    "ours-trim-fp32": ("ours", "trimmed", False, True, 0),
    "ours-trim-bf16": ("ours", "trimmed", True, True, 0),
    "ours-trim-fp32-unfrozen": ("ours", "trimmed", False, False, 0),
    "ours-trim-bf16-unfrozen": ("ours", "trimmed", True, False, 0),
    "ours-trim-fp32-freeze4": ("ours", "trimmed", False, True, 4),
    "ours-trim-fp32-freeze6": ("ours", "trimmed", False, True, 6),
    "ours-trim-fp32-freeze8": ("ours", "trimmed", False, True, 8),
    "ours-trim-bf16-freeze4": ("ours", "trimmed", True, True, 4),
    "hf-tokencls-fp32": ("hf", "full", False, True, 0),
    "hf-tokencls-bf16": ("hf", "full", True, True, 0),
}


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--backbone", default=BACKBONE, help="the full backbone")
    p.add_argument("--trimmed", default=TRIMMED, help="the trimmed backbone (`diplomat-ie backbone trim`)")
    p.add_argument("--configs", nargs="*", default=list(CONFIGS), choices=list(CONFIGS), help="what to run")
    p.add_argument("--steps", type=int, default=30, help="optimiser steps per configuration")
    p.add_argument("--warmup-steps", type=int, default=3, help="first steps not timed")
    p.add_argument("--batch-size", type=int, default=16, help="windows per step")
    p.add_argument("--max-length", type=int, default=160, help="subwords per window")
    p.add_argument("--max-train-docs", type=int, help="use the first N NEREL train documents")
    p.add_argument("--corpus", default="nerel", help="corpus (or folder of split folders) to take windows from")
    p.add_argument("--data-root", help="corpora folder")
    p.add_argument("--threads", type=int, help="torch threads (default: all cores)")
    p.add_argument("--sampling", default="group_by_length", choices=["group_by_length", "random"],
                   help="training window order (group_by_length starts with the longest windows)")
    p.add_argument("--pad-multiple", type=int, help="pad subword/word lengths to a multiple of this")
    p.add_argument("--allocator", default="system", choices=["system", "tcmalloc", "jemalloc"],
                   help="malloc library preloaded into each configuration's process (Debian: libtcmalloc-minimal4, "
                        "libjemalloc2)")
    p.add_argument("--out", default="benchmarks/train_results", help="output path without extension")
    p.add_argument("--worker", help=argparse.SUPPRESS)  # internal: run one configuration, print JSON
    return p.parse_args(argv)


def _windows(args, model, tokenizer):
    from diplomat_ie.training.train import load_docs, make_features

    docs = load_docs(args.corpus, "train", root=args.data_root, lenient=True)
    docs = docs[: args.max_train_docs] if args.max_train_docs else docs
    return make_features(docs, model, tokenizer, "encoding train")[0], len(docs)


def _flat_bio(feats: list[dict]) -> list[dict]:
    """Subword labels for the HF baseline: the outermost layer's tag on each word's first subword."""
    out = []
    for f in feats:
        labels = [-100] * len(f["input_ids"])
        for w, pos in enumerate(f["word_pos"]):
            if pos >= 0 and f["ner_labels"][0][w] >= 0:
                labels[pos] = f["ner_labels"][0][w]
        out.append({"input_ids": f["input_ids"], "labels": labels})
    return out


class _StepTimer:
    def __init__(self):
        from transformers import TrainerCallback

        class CB(TrainerCallback):
            def __init__(cb):
                cb.times, cb.t0 = [], None

            def on_step_begin(cb, *a, **k):
                cb.t0 = time.perf_counter()

            def on_step_end(cb, *a, **k):
                cb.times.append(time.perf_counter() - cb.t0)

        self.cb = CB()


def _args(tmp: str, a, bf16: bool, **kw):
    import torch
    from transformers import TrainingArguments

    return TrainingArguments(output_dir=tmp, max_steps=a.steps, per_device_train_batch_size=a.batch_size,
                             learning_rate=1e-3, lr_scheduler_type="linear", warmup_steps=0, eval_strategy="no",
                             save_strategy="no", logging_steps=10**6, report_to=[], seed=42, data_seed=42,
                             train_sampling_strategy=a.sampling, use_cpu=not torch.cuda.is_available(),
                             bf16=bf16, dataloader_num_workers=0, disable_tqdm=True, **kw)


def run_worker(a) -> dict:
    import tempfile

    import torch

    from diplomat_ie.data.roles import ROLES
    from diplomat_ie.modeling.configuration import DiplomatConfig
    from diplomat_ie.modeling.features import collate
    from diplomat_ie.modeling.io import build_model
    from diplomat_ie.training.trainer import DiplomatTrainer, WindowDataset

    system, which, bf16, freeze, frozen_layers = CONFIGS[a.worker]
    torch.set_num_threads(a.threads or os.cpu_count() or 1)
    backbone = a.backbone if which == "full" else a.trimmed
    from diplomat_ie.data.corpora import load_split  # entity types of the training split

    types = sorted({e.type for d in load_split(a.corpus, "train", root=a.data_root, lenient=True)
                    for e in d.entities})
    config = DiplomatConfig(backbone_name=backbone, entity_types=types, roles=ROLES, trigger_types=["EVENT"],
                            window_length=a.max_length)
    model, tok = build_model(config, freeze_word_embeddings=freeze, freeze_layers=frozen_layers)
    feats, n_docs = _windows(a, model, tok)
    pad = tok.pad_token_id or 0
    timer = _StepTimer()
    with tempfile.TemporaryDirectory() as tmp:
        if system == "ours":
            trainer = DiplomatTrainer(model=model, args=_args(tmp, a, bf16, remove_unused_columns=False),
                                      train_dataset=WindowDataset(feats),
                                      data_collator=lambda b: collate(b, pad, a.pad_multiple), callbacks=[timer.cb], encoder_lr=8e-5, head_lr=1e-3)
        else:
            from transformers import (
                AutoModelForTokenClassification,
                DataCollatorForTokenClassification,
                Trainer,
            )

            labels = model.config.ner_labels
            del model
            hf = AutoModelForTokenClassification.from_pretrained(backbone, num_labels=len(labels),
                                                                 dtype=torch.float32)
            if freeze:
                hf.get_input_embeddings().weight.requires_grad_(False)
            trainer = Trainer(model=hf, args=_args(tmp, a, bf16), train_dataset=_flat_bio(feats),
                              data_collator=DataCollatorForTokenClassification(tok), callbacks=[timer.cb])
        t0 = time.perf_counter()
        trainer.train()
        wall = time.perf_counter() - t0
    timed = timer.cb.times[a.warmup_steps:] or timer.cb.times
    s_step = statistics.median(timed)
    steps_epoch = math.ceil(len(feats) / a.batch_size)
    return {"config": a.worker, "system": system, "backbone": which, "bf16": bf16, "frozen_embeddings": freeze,
            "frozen_layers": frozen_layers,
            "vocab": int(tok.vocab_size), "train_docs": n_docs, "windows": len(feats), "steps": len(timer.cb.times),
            "s_per_step": round(s_step, 4), "s_per_step_mean": round(statistics.mean(timed), 4),
            "s_per_step_mean_first_half": round(statistics.mean(timed[: max(1, len(timed) // 2)]), 4),
            "s_per_step_mean_second_half": round(statistics.mean(timed[len(timed) // 2 :]), 4),
            "windows_per_s": round(a.batch_size / s_step, 2), "steps_per_epoch": steps_epoch,
            "s_per_epoch": round(steps_epoch * s_step, 1), "wall_s": round(wall, 1),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


ALLOCATORS = {"tcmalloc": "libtcmalloc_minimal.so.4", "jemalloc": "libjemalloc.so.2"}


def allocator_env(name: str) -> dict[str, str]:
    """``LD_PRELOAD`` for ``--allocator`` (nothing for ``system``); an error naming the library if it is missing."""
    if name == "system":
        return {}
    listed = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True, check=False).stdout
    lib = next((line.rsplit("=>", 1)[1].strip() for line in listed.splitlines()
                if ALLOCATORS[name] + " " in line and "=>" in line), None)
    if lib is None:
        raise SystemExit(f"--allocator {name}: {ALLOCATORS[name]} not found (ldconfig -p)")
    return {"LD_PRELOAD": lib}


def _machine() -> dict:
    import torch

    from diplomat_ie.training.train import bf16_supported, cpu_vendor

    cpu = torch.cpu
    return {"platform": platform.platform(), "cpus": os.cpu_count(), "torch": torch.__version__,
            "vendor": cpu_vendor(), "avx512_bf16": bool(cpu._is_avx512_bf16_supported()),
            "amx": bool(getattr(cpu, "_is_amx_tile_supported", lambda: False)()),
            "cuda": torch.cuda.is_available(), "bf16_auto": bf16_supported()}


def markdown(results: list[dict], meta: dict) -> str:
    base = next((r for r in results if r.get("config") == "ours-fp32" and "error" not in r), None)
    lines = [f"# Training benchmark ({meta['steps']} steps per configuration, batch {meta['batch_size']}, "
             f"{meta['windows'] or '?'} windows)", "",
             f"Machine: {meta['machine']['cpus']} CPUs ({meta['machine'].get('vendor') or '?'}), AVX512-BF16 "
             f"{meta['machine']['avx512_bf16']}, AMX {meta['machine']['amx']}, `training.bf16: auto` -> "
             f"{meta['machine'].get('bf16_auto', '?')}, torch {meta['machine']['torch']}; malloc: "
             f"{meta.get('allocator', 'system')}, window order: {meta.get('sampling', 'group_by_length')}.", "",
             "| configuration | vocab | bf16 | embeddings | frozen layers | s/step | windows/s | s/epoch | vs ours-fp32 | peak RSS MB |",
             "| --- | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in results:
        if "error" in r:
            lines.append(f"| {r['config']} | failed: {r['error'][:80]} | | | | | | | | |")
            continue
        speed = f"{base['s_per_step'] / r['s_per_step']:.2f}x" if base else ""
        lines.append(f"| {r['config']} | {r['vocab']} | {r['bf16']} | "
                     f"{'frozen' if r['frozen_embeddings'] else 'trained'} | {r.get('frozen_layers', 0)} | "
                     f"{r['s_per_step']:.3f} | "
                     f"{r['windows_per_s']:.1f} | {r['s_per_epoch']:.0f} | {speed} | {r['peak_rss_mb']:.0f} |")
    return "\n".join(lines) + "\n"



def main(argv=None) -> int:
    from diplomat_ie.utils import atomic_write_text

    a = parse_args(argv)
    if a.worker:
        print("RESULT " + json.dumps(run_worker(a)), flush=True)
        return 0
    results = []
    preload = allocator_env(a.allocator)
    passthrough = [x for x in (argv if argv is not None else sys.argv[1:])]
    for name in a.configs:
        print(f"== {name}", file=sys.stderr, flush=True)
        cmd = [sys.executable, __file__, *passthrough, "--worker", name]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, TOKENIZERS_PARALLELISM="false", **preload))
        line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
        if proc.returncode or line is None:
            err = (proc.stderr or proc.stdout).strip().splitlines()
            results.append({"config": name, "error": err[-1] if err else f"exit {proc.returncode}"})
        else:
            results.append(json.loads(line[len("RESULT "):]))
        print(json.dumps(results[-1]), file=sys.stderr, flush=True)
    ok = [r for r in results if "error" not in r]
    meta = {"steps": a.steps, "warmup_steps": a.warmup_steps, "batch_size": a.batch_size, "max_length": a.max_length,
            "max_train_docs": a.max_train_docs, "allocator": a.allocator, "sampling": a.sampling, "pad_multiple": a.pad_multiple, "windows": ok[0]["windows"] if ok else None,
            "backbone": a.backbone, "trimmed": a.trimmed, "machine": _machine(),
            "date": time.strftime("%Y-%m-%d %H:%M:%S")}
    out = Path(a.out)
    atomic_write_text(out.with_suffix(".json"), json.dumps({"meta": meta, "results": results}, indent=2) + "\n")
    atomic_write_text(out.with_suffix(".md"), markdown(results, meta))
    print(markdown(results, meta))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
