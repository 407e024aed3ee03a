"""Storage ablation on one trained model: the same weights saved each way, loaded back and scored.

    python scripts/ablate_storage.py --model models/abl-2ep-x --split dev --out reports/ablations/storage-x

Rows: ``float16`` (``training.save_dtype float16``, every weight in half precision) and ``int8``
(``training.save_embeddings int8`` on top: the word-embedding matrix as int8 rows + scales). Each row
reports the saved directory's size and the reloaded model's scores (full folders in ``<out>/<row>/``; the
copies themselves are deleted). A benchmark of the model, not a test.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from diplomat_ie.evaluation.run import run_evaluation, write_ablation
from diplomat_ie.evaluation.tables import ABLATION_COLUMNS, ablation_markdown
from diplomat_ie.modeling.io import load_model_dir, save_model_dir

ROWS = {"float16": ("float16", "same"), "int8": ("float16", "int8")}  # row -> (save_dtype, save_embeddings)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, help="a trained model directory")
    p.add_argument("--corpus", default="nerel")
    p.add_argument("--split", default="dev")
    p.add_argument("--rows", nargs="+", default=list(ROWS), choices=list(ROWS))
    p.add_argument("--lenient", action="store_true", help="skip malformed annotation lines")
    p.add_argument("--out", required=True, help="output path without extension")
    return p.parse_args(argv)


def dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def markdown(model: str, split: str, rows: list[dict]) -> str:
    lead = {"storage": lambda r: r["storage"], "directory MB": lambda r: f"{r['dir_bytes'] / 1e6:.1f}",
            "weights MB": lambda r: f"{r['weights_bytes'] / 1e6:.1f}"}
    return ablation_markdown(f"Model storage on {model} ({split})", rows, lead)


def main(argv=None) -> int:
    a = parse_args(argv)
    model, tokenizer = load_model_dir(a.model)
    card_file = Path(a.model) / "README.md"
    card = card_file.read_text(encoding="utf-8") if card_file.is_file() else None
    out, rows = Path(a.out), []
    with tempfile.TemporaryDirectory() as tmp:
        for name in a.rows:
            dtype, embeddings = ROWS[name]
            saved = save_model_dir(model, tokenizer, Path(tmp) / name, card=card, dtype=dtype,
                                   embeddings=embeddings)
            res = run_evaluation(str(saved), corpus=a.corpus, split=a.split, output=out / name, lenient=a.lenient)
            rows.append({"storage": name, "save_dtype": dtype, "save_embeddings": embeddings,
                         "dir_bytes": dir_bytes(saved), "weights_bytes": (saved / "model.safetensors").stat().st_size,
                         **{k: res["headline"].get(k) for k in ABLATION_COLUMNS}})
            shutil.rmtree(saved)
    print(write_ablation(out, {"model": a.model, "split": a.split, "rows": rows}, markdown(a.model, a.split, rows)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
