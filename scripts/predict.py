"""``diplomat-ie predict`` as a script, for launchers that need a file (``accelerate launch``).

    accelerate launch --multi_gpu --num_processes 4 scripts/predict.py --model models/default \\
        --input news.jsonl --output preds.jsonl --threads 1
    torchrun --nproc_per_node 4 scripts/predict.py ...        # the same without accelerate

Each process reads ``RANK``/``WORLD_SIZE`` from the launcher, predicts its share of the documents and
writes ``preds.jsonl.rank<k>`` (+ ``.rank<k>.errors.jsonl``); afterwards
``cat preds.jsonl.rank* > preds.jsonl``. No process group is needed: the processes never talk, and
inference runs on the CPU, so ``--multi_gpu`` (torchrun underneath) works on a machine without GPUs;
``accelerate launch --cpu`` would start a single process unless an MPI multi-CPU config is set up.
Arguments are those of ``diplomat-ie predict --help``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from diplomat_ie.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["predict", *sys.argv[1:]]))
