"""What ``scripts/main_job.sh`` needs to start training in several processes on one machine.

``python -m diplomat_ie.training.launch per-process-batch --config C --processes N -- [overrides]`` prints
the per-process batch that keeps ``training.batch_size`` windows per optimiser step, or a one-line error
(exit 2) when N is not a positive whole number or does not divide the batch.
"""

from __future__ import annotations

import argparse
import sys

from ..config import ConfigError, load_config, parse_overrides


def per_process_batch(batch_size: int, processes: int) -> int:
    """Windows per process and step so that ``processes`` processes together take ``batch_size``.

    Args:
        batch_size: the configured ``training.batch_size`` (windows per optimiser step).
        processes: how many training processes share a step.

    Returns:
        ``batch_size // processes``; ``ValueError`` when that is not exact or ``processes`` < 1.
    """
    if processes < 1:
        raise ValueError(f"DIPLOMAT_IE_PROCESSES={processes}: must be a positive whole number")
    if batch_size % processes:
        raise ValueError(f"training.batch_size {batch_size} is not divisible by DIPLOMAT_IE_PROCESSES={processes}")
    return batch_size // processes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m diplomat_ie.training.launch")
    sub = parser.add_subparsers(dest="command", required=True)
    batch = sub.add_parser("per-process-batch")
    batch.add_argument("--config", required=True)
    batch.add_argument("--processes", required=True)
    batch.add_argument("overrides", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    overrides = [a for a in args.overrides if a != "--"]
    try:
        processes = int(args.processes)
    except ValueError:
        print(f"error: DIPLOMAT_IE_PROCESSES={args.processes!r}: must be a positive whole number", file=sys.stderr)
        return 2
    try:
        cfg = load_config(args.config, parse_overrides(overrides))
        print(per_process_batch(cfg.training.batch_size, processes))
    except (ConfigError, ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
