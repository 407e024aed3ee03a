"""Training in several processes (``torchrun``, ``accelerate launch``): who writes, and waiting for the others.

Both launchers describe the process group in the environment (``RANK``, ``WORLD_SIZE``,
``LOCAL_WORLD_SIZE``, ``MASTER_ADDR``/``MASTER_PORT``); HF Trainer reads it through accelerate. World rank 0
writes every file of a run; the other ranks wait where they would otherwise read what it writes.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager


def world_size() -> int:
    """Processes in the job (1 when not launched by torchrun / accelerate)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def world_rank() -> int:
    return int(os.environ.get("RANK", "0"))


def local_world_size() -> int:
    """Processes of the job on this machine (they share its CPU cores)."""
    return int(os.environ.get("LOCAL_WORLD_SIZE", os.environ.get("WORLD_SIZE", "1")))


def is_main_process() -> bool:
    """World rank 0: the one process that writes the run's files."""
    return world_rank() == 0


def init_process_group(use_cpu: bool) -> None:
    """Join the job's process group now (gloo on CPU), before the Trainer would, so that ranks can wait
    for rank 0 while it prepares the output and encodes the windows; a no-op in a single process."""
    import torch.distributed as dist

    if world_size() > 1 and not dist.is_initialized():
        from accelerate import PartialState

        PartialState(cpu=use_cpu, backend="gloo" if use_cpu else None)


def _active() -> bool:
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def barrier() -> None:
    """Wait until every process gets here (nothing to wait for in a single process)."""
    if _active():
        import torch.distributed as dist

        dist.barrier()


@contextmanager
def main_process_first() -> Iterator[None]:
    """Rank 0 runs the block first (e.g. fills a cache); the others run it after rank 0 is done."""
    if not is_main_process():
        barrier()
    yield
    if is_main_process():
        barrier()


@contextmanager
def local_threads_borrowed() -> Iterator[None]:
    """Rank 0 uses the threads of this machine's other ranks while they wait for it (e.g. while it
    scores dev alone); a no-op in a single process and on the other ranks."""
    import torch

    n = local_world_size()
    if n <= 1 or not is_main_process():
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(before * n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def broadcast_from_main(obj):
    """Rank 0's ``obj`` on every process (``obj`` itself in a single process)."""
    if not _active():
        return obj
    from accelerate.utils import broadcast_object_list

    return broadcast_object_list([obj], from_process=0)[0]
