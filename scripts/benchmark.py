"""CPU benchmark of the Extractor backends against the HF token-classification pipeline and Natasha.

One run measures, each system in its own subprocess (so peak RSS is per system): load time,
throughput (docs/s, chars/s; documents in chunks of ``--docs-per-batch``; also docs per CPU-second, which
stays comparable when other processes share the CPU), per-document latency
p50/p95 (one document per call), peak RSS; quality (nested micro-F1, PER/ORG/LOC F1, e2e role F1)
on NEREL test; agreement between backends and between our layer 0 and the HF pipeline built from
the same encoder + layer-0 NER weights; and length scaling (one document of 1k .. 1M characters).

    PYTHONPATH=src python scripts/benchmark.py --model models/default            # the full run
    PYTHONPATH=src python scripts/benchmark.py --model DIR --max-docs 10 --skip natasha scaling

Writes ``benchmarks/results.json`` and ``benchmarks/results.md``. A benchmark, not a test: the
targets are reported, never asserted.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

OURS = ("torch", "torch-bf16", "onnx", "onnx-int8", "onnx-int8-dynamic")
SYSTEMS = (*OURS, "hf-pipeline", "hf-pipeline-first", "natasha")
SIZES = (1_000, 10_000, 100_000, 1_000_000)


def load_texts(max_docs: int | None):
    from diplomat_ie.data.corpora import load_split

    docs = load_split("nerel", "test", lenient=True)
    return docs[:max_docs] if max_docs else docs


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


# ---------------------------------------------------------------- systems (run inside a worker)

def ours(model: str, backend: str, threads: int, batch_size: int):
    """A callable texts -> list of per-document prediction dicts (entities, layer 0, roles)."""
    from diplomat_ie.data.labels import bio_to_spans
    from diplomat_ie.inference import Extractor
    from diplomat_ie.inference.extractor import to_result

    ex = Extractor.from_pretrained(model, backend=backend, threads=threads, batch_size=batch_size)

    def run(texts):
        out = []
        for t, p in zip(texts, ex.predictor.predict(texts), strict=True):  # what Extractor.__call__ does
            res = to_result(t, p)
            words = p.enc.words
            layer0 = [[words[lo].start, words[hi - 1].end, typ] for lo, hi, typ in bio_to_spans(p.layer_tags[0])]
            roles = [[ev.trigger["start"], ev.trigger["end"], a.role, a.start, a.end]
                     for ev in res.events for a in ev.arguments]
            out.append({"entities": [[e.start, e.end, e.type] for e in res.entities], "layer0": layer0,
                        "roles": roles})
        return out

    return run


def dynamic_int8_copy(model_dir: str, tmp: Path) -> dict:
    """Copy ``model_dir`` into ``tmp`` with a ``dynamic``-scheme int8 graph (run in a worker: it peaks at GBs)."""
    from diplomat_ie.inference.quantize import quantize_int8

    src = Path(model_dir)
    (tmp / "onnx").mkdir(parents=True, exist_ok=True)
    files = [f for f in src.iterdir() if f.is_file()] + list(src.glob("onnx/model.onnx*")) + [src / "onnx/export.json"]
    for f in files:  # copies: onnx refuses external data behind a symlink or a hard link
        shutil.copy2(f, tmp / f.relative_to(src))
    return quantize_int8(tmp / "onnx/model.onnx", tmp / "onnx/model.int8.onnx", scheme="dynamic")


def gemm_peak(args) -> dict:
    """This machine's matmul rate (torch, 4096^3, ``--threads``) and the encoder FLOPs of the benchmark."""
    import torch

    from diplomat_ie.modeling.configuration import DiplomatConfig
    from diplomat_ie.modeling.encoding import encode_document
    from diplomat_ie.modeling.io import load_tokenizer

    torch.set_num_threads(args.threads)
    out = {"system": "gemm-peak"}
    for dtype in (torch.float32, torch.bfloat16):
        a, b = torch.randn(4096, 4096, dtype=dtype), torch.randn(4096, 4096, dtype=dtype)
        a @ b
        t0 = time.perf_counter()
        for _ in range(3):
            a @ b
        out[f"{str(dtype).split('.')[1]}_gflops"] = round(3 * 2 * 4096**3 / (time.perf_counter() - t0) / 1e9, 1)
    cfg = DiplomatConfig.from_pretrained(args.model)
    h, i, n = (cfg.encoder[k] for k in ("hidden_size", "intermediate_size", "num_hidden_layers"))
    tok = load_tokenizer(args.model)
    breaks = getattr(cfg, "window_breaks", "none")
    lengths = [len(w.input_ids) for d in load_texts(args.max_docs)
               for w in encode_document(d.text, tok, cfg.window_length, cfg.overlap, breaks).windows]
    out["encoder_gflop"] = round(sum(n * (2 * s * (4 * h * h + 2 * h * i) + 4 * s * s * h) for s in lengths) / 1e9, 1)
    out["windows"], out["tokens"] = len(lengths), sum(lengths)
    return out


def roofline(runs: dict, peak: dict | None) -> dict:
    """Encoder GFLOP/s each of our systems reached (our windows, padding not counted) against the GEMM peak."""
    if not peak or "encoder_gflop" not in peak:
        return {}
    out = {"peak": peak}
    for name in (n for n in OURS if "seconds" in runs.get(n, {})):
        out[name] = round(peak["encoder_gflop"] / runs[name]["seconds"], 1)
    if "seconds" in runs.get("hf-pipeline", {}):
        out["needed_for_2x_hf"] = round(2 * peak["encoder_gflop"] / runs["hf-pipeline"]["seconds"], 1)
    return out


def hf_model(model_dir: str):
    """``AutoModelForTokenClassification`` = our encoder + the layer-0 rows of our NER head."""
    from safetensors import safe_open
    from transformers import AutoModelForTokenClassification

    from diplomat_ie.modeling.configuration import DiplomatConfig
    from diplomat_ie.modeling.heads import HEADS_PREFIX
    from diplomat_ie.modeling.io import upgrade_key

    cfg = DiplomatConfig.from_pretrained(model_dir)
    labels = cfg.ner_labels
    enc_cfg = cfg.encoder_config()
    enc_cfg.num_labels, enc_cfg.id2label = len(labels), dict(enumerate(labels))
    enc_cfg.label2id = {lab: i for i, lab in enumerate(labels)}
    model = AutoModelForTokenClassification.from_config(enc_cfg)
    prefix = model.base_model_prefix
    state = {}
    with safe_open(str(Path(model_dir) / "model.safetensors"), framework="pt") as f:
        names = {upgrade_key(k, cfg.format_version): k for k in f.keys()}  # any saved format version
        for k in f.keys():
            if k.startswith("encoder."):
                state[f"{prefix}.{k[len('encoder.'):]}"] = f.get_tensor(k)
        state["classifier.weight"] = f.get_tensor(names[f"{HEADS_PREFIX}ner_head.weight"])[: len(labels)]
        state["classifier.bias"] = f.get_tensor(names[f"{HEADS_PREFIX}ner_head.bias"])[: len(labels)]
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or [m for m in missing if "position_ids" not in m]:
        raise RuntimeError(f"HF model weights do not match: missing {missing}, unexpected {unexpected}")
    return model.eval(), cfg


def hf_pipeline(model: str, threads: int, batch_size: int, strategy: str = "simple"):
    """The HF pipeline with our windowing: max length = our window, stride = our overlap.

    ``simple`` aggregation decodes every subword's label; our head was trained on first subwords
    only, so ``first`` (a word's label = its first subword's) is the fairer quality comparison.
    """
    import torch
    from transformers import pipeline

    from diplomat_ie.modeling.io import load_tokenizer

    torch.set_num_threads(threads)
    net, cfg = hf_model(model)
    tok = load_tokenizer(model)
    tok.model_max_length = cfg.window_length
    pipe = pipeline("token-classification", model=net, tokenizer=tok, aggregation_strategy=strategy,
                    stride=cfg.overlap, device=-1)

    def run(texts):
        with torch.inference_mode():
            outs = pipe(texts, batch_size=batch_size)
        outs = [outs] if isinstance(texts, list) and len(texts) == 1 and isinstance(outs[0], dict) else outs
        return [{"layer0": [_strip(t, e["start"], e["end"], e["entity_group"]) for e in o]}
                for t, o in zip(texts, outs, strict=True)]

    return run


def _strip(text: str, start: int, end: int, typ: str) -> list:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return [start, end, typ]


def natasha(model: str, threads: int, batch_size: int):
    from natasha import Doc, NewsEmbedding, NewsNERTagger, Segmenter

    segmenter, tagger = Segmenter(), NewsNERTagger(NewsEmbedding())

    def run(texts):
        out = []
        for t in texts:
            doc = Doc(t)
            doc.segment(segmenter)
            doc.tag_ner(tagger)
            out.append({"coarse": [[s.start, s.stop, s.type] for s in doc.spans]})
        return out

    return run


def hf_logit_check(args) -> dict:
    """Max |HF classifier logits - our layer-0 NER logits| on identical windows (same network?)."""
    import torch

    from diplomat_ie.modeling.encoding import encode_document
    from diplomat_ie.modeling.features import collate
    from diplomat_ie.modeling.io import load_model_dir
    from diplomat_ie.modeling.runners import torch_window_outputs

    ours_model, tok = load_model_dir(args.model)
    run = torch_window_outputs(ours_model, pad_multiple=1)
    net, cfg = hf_model(args.model)
    n_labels, diff, windows = len(cfg.ner_labels), 0.0, 0
    pad = tok.pad_token_id if tok.pad_token_id is not None else 0
    for doc in load_texts(args.max_docs)[:5]:
        enc = encode_document(doc.text, tok, cfg.window_length, cfg.overlap, getattr(cfg, "window_breaks", "none"))
        batch = collate([{"input_ids": w.input_ids, "word_pos": w.word_pos} for w in enc.windows], pad)
        with torch.inference_mode():
            ref = run(batch["input_ids"], batch["attention_mask"], batch["word_pos"]).ner_logits[..., :n_labels]
            hf = net(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
            got = hf.gather(1, batch["word_pos"].unsqueeze(-1).expand(-1, -1, n_labels))
        diff, windows = max(diff, float((ref - got).abs().max())), windows + len(enc.windows)
    return {"system": "hf-logit-check", "windows": windows, "max_abs_logit_diff": diff}


def make_system(name: str, args):
    if name == "hf-pipeline-first":
        return hf_pipeline(args.model, args.threads, args.batch_size, strategy="first")
    factory = {"hf-pipeline": hf_pipeline, "natasha": natasha}.get(name)
    if name == "onnx-int8-dynamic":  # the copy made by main() with the all-per-tensor int8 scheme
        return ours(args.dynamic_model, "onnx-int8", args.threads, args.batch_size)
    if factory is None:
        return ours(args.model, name, args.threads, args.batch_size)
    return factory(args.model, args.threads, args.batch_size)


# ---------------------------------------------------------------- workers

def worker(args) -> dict:
    """Measure one system (``--worker NAME``) or one scaling point (``--worker scale:BACKEND:SIZE``)."""
    if args.worker.startswith("scale:"):
        return scale_worker(args)
    if args.worker == "hf-logit-check":
        return hf_logit_check(args)
    if args.worker == "gemm-peak":
        return gemm_peak(args)
    if args.worker == "dynamic-int8":
        return dynamic_int8_copy(args.model, Path(args.dynamic_model))
    texts = [d.text for d in load_texts(args.max_docs)]
    t0 = time.perf_counter()
    run = make_system(args.worker, args)
    load_s = time.perf_counter() - t0
    run(texts[:2])  # warm-up
    total = cpu = float("inf")
    for _ in range(args.repeats):  # best of N: other processes on the machine only ever slow a pass
        preds, t0, c0 = [], time.perf_counter(), time.process_time()
        for i in range(0, len(texts), args.docs_per_batch):
            preds += run(texts[i : i + args.docs_per_batch])
        if time.perf_counter() - t0 < total:
            total, cpu = time.perf_counter() - t0, time.process_time() - c0
    lat = []
    for t in texts[: args.latency_docs]:
        t1 = time.perf_counter()
        run([t])
        lat.append(time.perf_counter() - t1)
    lat.sort()
    pct = lambda q: 1000 * lat[min(len(lat) - 1, int(q * len(lat)))]  # noqa: E731
    return {"system": args.worker, "docs": len(texts), "chars": sum(map(len, texts)), "load_s": load_s,
            "seconds": total, "docs_per_s": len(texts) / total, "chars_per_s": sum(map(len, texts)) / total,
            "cpu_seconds": cpu, "docs_per_cpu_s": len(texts) / cpu, "load_avg_1m": os.getloadavg()[0],
            "latency_p50_ms": pct(0.5), "latency_p95_ms": pct(0.95), "latency_docs": len(lat),
            "peak_rss_mb": peak_rss_mb(), "predictions": preds}


def long_text(size: int) -> str:
    """NEREL test texts joined by blank lines, repeated, cut to ``size`` characters at a space."""
    texts = [d.text.strip() for d in load_texts(None)]
    parts, n = [], 0
    while n < size:
        for t in texts:
            parts.append(t)
            n += len(t) + 2
            if n >= size:
                break
    text = "\n\n".join(parts)[:size]
    cut = text.rfind(" ", 0, size)
    return text[:cut] if cut > size * 0.9 else text


def scale_worker(args) -> dict:
    _, backend, size = args.worker.split(":")
    text = long_text(int(size))
    run = make_system(backend, args)
    run(["Прогрев модели перед замером."])
    t0, c0 = time.perf_counter(), time.process_time()
    pred = run([text])[0]
    dt = time.perf_counter() - t0
    return {"backend": backend, "chars": len(text), "seconds": dt, "chars_per_s": len(text) / dt,
            "cpu_seconds": time.process_time() - c0, "load_avg_1m": os.getloadavg()[0],
            "entities": len(pred["entities"]), "peak_rss_mb": peak_rss_mb()}


def spawn(args, name: str) -> dict:
    """Run one worker in a fresh interpreter; returns its JSON result (or an ``error``)."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as fh:
        out = fh.name
    cmd = [sys.executable, __file__, "--worker", name, "--result", out, "--model", args.model,
           "--threads", str(args.threads), "--batch-size", str(args.batch_size),
           "--docs-per-batch", str(args.docs_per_batch), "--latency-docs", str(args.latency_docs),
           "--repeats", str(args.repeats)]
    if args.dynamic_model:
        cmd += ["--dynamic-model", args.dynamic_model]
    if args.max_docs:
        cmd += ["--max-docs", str(args.max_docs)]
    print(f"[benchmark] {name} ...", file=sys.stderr, flush=True)
    proc = subprocess.run(cmd, capture_output=True, text=True)
    try:
        if proc.returncode:
            return {"system": name, "error": proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed"}
        return json.loads(Path(out).read_text())
    finally:
        os.unlink(out)


# ---------------------------------------------------------------- quality and agreement

def _f1(gold: list[set], pred: list[set]) -> float:
    from diplomat_ie.evaluation.metrics import score_sets

    return round(score_sets(gold, pred)["micro"]["f1"], 2)


def _sets(run: dict, key: str) -> list[set]:
    return [{tuple(x) for x in p[key]} for p in run["predictions"]]


def compare(runs: dict, docs) -> dict:
    """F1 against gold, backend agreement, HF-vs-layer-0 agreement, speedups over the HF pipeline."""
    from diplomat_ie.evaluation.evaluate import coarse, gold_role_set, outermost

    gold = [{e.key() for e in d.entities} for d in docs]
    gold_roles = [gold_role_set(d, ("EVENT",)) for d in docs]
    ok = {k: r for k, r in runs.items() if "predictions" in r}
    q: dict = {}
    for name in (n for n in OURS if n in ok):
        ents = _sets(ok[name], "entities")
        q[name] = {"nested_f1": _f1(gold, ents), "per_org_loc_f1": _f1([coarse(g) for g in gold],
                                                                        [coarse(p) for p in ents]),
                   "roles_e2e_f1": _f1(gold_roles, _sets(ok[name], "roles")),
                   "layer0_vs_gold_outermost_f1": _f1([outermost(g) for g in gold], _sets(ok[name], "layer0"))}
    if "torch" in ok:
        ref = _sets(ok["torch"], "entities")
        for name in (n for n in OURS[1:] if n in ok):
            got = _sets(ok[name], "entities")
            q[name]["agreement_with_torch_f1"] = _f1(ref, got)
            q[name]["identical_docs_vs_torch"] = sum(a == b for a, b in zip(ref, got, strict=True))
            q[name]["nested_f1_delta_vs_torch"] = round(q[name]["nested_f1"] - q["torch"]["nested_f1"], 2)
    for hf_name in (n for n in ("hf-pipeline", "hf-pipeline-first") if n in ok):
        hf = _sets(ok[hf_name], "layer0")
        q[hf_name] = {"layer0_vs_gold_outermost_f1": _f1([outermost(g) for g in gold], hf)}
        if "torch" in ok:
            ref = _sets(ok["torch"], "layer0")
            q[hf_name]["agreement_with_our_layer0_f1"] = _f1(ref, hf)
            q[hf_name]["identical_docs_vs_our_layer0"] = sum(a == b for a, b in zip(ref, hf, strict=True))
    if "hf-pipeline" in ok:
        for name in (n for n in OURS if n in ok):
            q[name]["speedup_vs_hf"] = round(ok[name]["docs_per_s"] / ok["hf-pipeline"]["docs_per_s"], 2)
            q[name]["cpu_speedup_vs_hf"] = round(ok[name]["docs_per_cpu_s"] / ok["hf-pipeline"]["docs_per_cpu_s"], 2)
    if "natasha" in ok:
        q["natasha"] = {"per_org_loc_f1": _f1([coarse(g) for g in gold], _sets(ok["natasha"], "coarse"))}
    return q


def _targets(q: dict) -> str:
    fp32 = max((q[n].get("speedup_vs_hf", 0), n) for n in ("torch", "onnx") if n in q) if "torch" in q else None
    out = []
    if fp32 and fp32[0]:
        out.append(f"fp32 >= 2x HF: {'met' if fp32[0] >= 2 else 'NOT met'} ({fp32[1]} {fp32[0]}x)")
    for name in ("onnx-int8", "onnx-int8-dynamic"):
        i8 = q.get(name, {})
        if "speedup_vs_hf" in i8:
            ok = i8["speedup_vs_hf"] >= 3 and i8.get("nested_f1_delta_vs_torch", -99) >= -0.5
            out.append(f"int8 >= 3x HF at <= 0.5 F1 lost: {'met' if ok else 'NOT met'} ({name} "
                       f"{i8['speedup_vs_hf']}x, {i8.get('nested_f1_delta_vs_torch')} F1)")
    return "; ".join(out) or "n/a"


def markdown(res: dict, command: str) -> str:
    """The results as Markdown tables."""
    q = res["quality"]
    lines = [f"# Benchmark: `{res['model']}` on NEREL test", "",
             f"Command: `{command}`  ", f"CPU: {res['cpu']}, threads {res['threads']}, windows per batch "
             f"{res['batch_size']}, documents per call {res['docs_per_batch']}, Python {res['python']}", "",
             "| system | docs/s | chars/s | docs/CPU-s | p50 ms | p95 ms | peak RSS MB | load s | speedup vs HF "
             "(wall / CPU) | nested F1 | PER/ORG/LOC F1 | layer-0 F1 | load avg |", "|" + "---|" * 13]
    for name, r in res["systems"].items():
        if "error" in r:
            lines.append(f"| {name} | failed: {r['error']} |" + " |" * 11)
            continue
        m = q.get(name, {})
        speed = f"{m['speedup_vs_hf']} / {m['cpu_speedup_vs_hf']}" if "speedup_vs_hf" in m else ""
        cells = [f"{r['docs_per_s']:.2f}", f"{r['chars_per_s']:,.0f}", f"{r['docs_per_cpu_s']:.2f}",
                 f"{r['latency_p50_ms']:.0f}", f"{r['latency_p95_ms']:.0f}", f"{r['peak_rss_mb']:,.0f}",
                 f"{r['load_s']:.1f}", speed, str(m.get("nested_f1", "")), str(m.get("per_org_loc_f1", "")),
                 str(m.get("layer0_vs_gold_outermost_f1", "")), f"{r['load_avg_1m']:.1f}"]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", "Layer-0 F1 = outermost entities (NER layer 0, or the pipeline's output) against gold outermost "
              "entities. Targets: " + _targets(q)]
    if res.get("hf_logit_check"):
        c = res["hf_logit_check"]
        lines += ["", f"HF model vs our layer 0 on identical windows: max |logit diff| = "
                  f"{c.get('max_abs_logit_diff', c.get('error'))} over {c.get('windows', '?')} windows."]
    if res.get("roofline"):
        r = res["roofline"]
        lines += ["", f"Roofline: this CPU multiplies 4096x4096 matrices at {r['peak'].get('float32_gflops')} GFLOP/s "
                  f"fp32 and {r['peak'].get('bfloat16_gflops')} bf16 (torch); the encoder needs "
                  f"{r['peak']['encoder_gflop']} GFLOP for these documents ({r['peak']['tokens']:,} window tokens). "
                  "Encoder GFLOP/s reached (int8: fp32-equivalent): " + ", ".join(f"{k} {v}" for k, v in r.items() if k in OURS)
                  + (f"; 2x the HF pipeline needs {r['needed_for_2x_hf']}." if "needed_for_2x_hf" in r else ".")]
    lines += ["", "Agreement and quality deltas:", "", "```json", json.dumps(q, indent=1), "```", ""]
    if res["scaling"]:
        lines += ["Length scaling (one document):", "", "| backend | chars | seconds | CPU s | chars/s | peak RSS MB "
                  "| load avg |", "|---|---|---|---|---|---|---|"]
        for s in res["scaling"]:
            if "error" in s:
                lines.append(f"| {s['system']} | failed: {s['error']} | | | | | |")
            else:
                lines.append(f"| {s['backend']} | {s['chars']:,} | {s['seconds']:.1f} | {s['cpu_seconds']:.1f} "
                             f"| {s['chars_per_s']:,.0f} | {s['peak_rss_mb']:,.0f} | {s['load_avg_1m']:.1f} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="models/default", help="model directory")
    p.add_argument("--max-docs", type=int, help="first N NEREL test documents (default: all)")
    p.add_argument("--latency-docs", type=int, default=50, help="documents timed one by one for p50/p95")
    p.add_argument("--skip", nargs="*", default=[], choices=[*SYSTEMS, "scaling"], help="parts to skip")
    p.add_argument("--sizes", nargs="*", type=int, default=list(SIZES), help="scaling document sizes (chars)")
    p.add_argument("--scaling-backends", nargs="*", default=["torch", "onnx-int8"], choices=OURS)
    p.add_argument("--threads", type=int, default=os.cpu_count(), help="CPU threads for every system")
    p.add_argument("--batch-size", type=int, default=32, help="windows per forward pass (ours and HF)")
    p.add_argument("--docs-per-batch", type=int, default=64, help="documents per call in the throughput pass")
    p.add_argument("--repeats", type=int, default=2, help="throughput passes per system (the fastest counts)")
    p.add_argument("--out", default="benchmarks", help="output folder")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--dynamic-model", help=argparse.SUPPRESS)
    p.add_argument("--result", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        Path(args.result).write_text(json.dumps(worker(args), ensure_ascii=False))
        return 0
    if not {"onnx", "onnx-int8"} <= set(args.skip) and not Path(args.model, "onnx/model.int8.onnx").is_file():
        subprocess.run([sys.executable, "-m", "diplomat_ie.cli", "export", "onnx", "--model", args.model, "--int8"],
                       check=True, env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")})
    if "onnx-int8-dynamic" not in args.skip or "onnx-int8-dynamic" in args.scaling_backends:
        # quantised in a worker: Linux children inherit the parent's peak RSS (ru_maxrss) across fork + exec
        args.dynamic_model = tempfile.mkdtemp(prefix="bench-int8-dynamic-")
        atexit.register(shutil.rmtree, args.dynamic_model, ignore_errors=True)
        made = spawn(args, "dynamic-int8")
        if "error" in made:
            raise SystemExit(f"dynamic int8 copy failed: {made['error']}")
    runs = {name: spawn(args, name) for name in SYSTEMS if name not in args.skip}
    logit_check = spawn(args, "hf-logit-check") if "hf-pipeline" in runs else None
    peak = spawn(args, "gemm-peak")
    scaling = [] if "scaling" in args.skip else [
        spawn(args, f"scale:{b}:{n}") for b in args.scaling_backends for n in args.sizes]
    gold = load_texts(args.max_docs)
    results = {"model": args.model, "threads": args.threads, "batch_size": args.batch_size,
               "docs_per_batch": args.docs_per_batch, "cpu": _cpu(), "python": sys.version.split()[0],
               "systems": {k: {m: v for m, v in r.items() if m != "predictions"} for k, r in runs.items()},
               "quality": compare(runs, gold), "hf_logit_check": logit_check, "scaling": scaling,
               "roofline": roofline(runs, peak)}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n")
    (out / "results.md").write_text(markdown(results, " ".join(["scripts/benchmark.py", *(argv or sys.argv[1:])])))
    print((out / "results.md").read_text())
    return 0


def _cpu() -> str:
    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    names = [ln.split(":", 1)[1].strip() for ln in info.splitlines() if ln.startswith("model name")]
    return f"{names[0] if names else 'CPU'} x{os.cpu_count()}"


if __name__ == "__main__":
    sys.exit(main())
