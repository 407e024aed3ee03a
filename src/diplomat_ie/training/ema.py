"""``training.ema_decay``: an exponential moving average of the trained weights, scored and kept instead of them.

After every optimiser step ``shadow = d * shadow + (1 - d) * weight`` for each trained parameter, with the decay
warmed up as ``min(d, (1 + t) / (10 + t))`` (step ``t``) so the first steps do not pin the average to the backbone's
weights. Each dev evaluation scores both weight sets (the average as ``eval_*``, the raw weights as ``eval_raw_*``),
so one run is an equal-budget comparison of the two; the checkpoint is chosen on the average's dev score, and each
checkpoint folder holds the average as ``ema.safetensors`` (``--resume`` continues it; the model directory gets the
chosen checkpoint's average).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from transformers import TrainerCallback

log = logging.getLogger(__name__)

EMA_FILE = "ema.safetensors"


class EmaCallback(TrainerCallback):
    """Keeps the moving average of ``model``'s trained (``requires_grad``) float parameters in fp32.

    Args:
        model: the model being trained (its parameters are read after each step).
        decay: ``d`` in (0, 1).
        resume_from: a checkpoint folder whose ``ema.safetensors`` continues the average (None: a fresh one).
    """

    def __init__(self, model: torch.nn.Module, decay: float, resume_from: Path | None = None):
        if not 0.0 < decay < 1.0:
            raise ValueError(f"training.ema_decay: must be in (0, 1), got {decay}")
        self.decay = decay
        self.params = {n: p for n, p in model.named_parameters() if p.requires_grad and p.is_floating_point()}
        self.shadow = {n: p.detach().float().clone() for n, p in self.params.items()}
        self.resume_from = resume_from

    def on_train_begin(self, args, state, control, **kwargs):
        if self.resume_from is None:
            return
        path = Path(self.resume_from) / EMA_FILE
        if not path.is_file():  # a checkpoint of a run without the average: it starts from the weights
            log.warning("--resume: %s has no %s; the weight average starts from the checkpoint's weights",
                        self.resume_from, EMA_FILE)
            return
        self.load(path)

    def on_step_end(self, args, state, control, **kwargs):
        t = state.global_step
        d = min(self.decay, (1.0 + t) / (10.0 + t))
        with torch.no_grad():
            names = list(self.params)
            torch._foreach_lerp_([self.shadow[n] for n in names],
                                 [self.params[n].detach().float() for n in names], 1.0 - d)

    def on_save(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            if folder.is_dir():
                self.save(folder / EMA_FILE)

    def save(self, path: Path) -> None:
        tmp = path.with_name(path.name + ".tmp")
        save_file({n: t.contiguous() for n, t in self.shadow.items()}, str(tmp))
        tmp.replace(path)  # a killed save leaves the old file or none, never half of one

    def load(self, path: Path) -> None:
        saved = load_file(str(path))
        if set(saved) != set(self.shadow):
            missing, extra = sorted(set(self.shadow) - set(saved)), sorted(set(saved) - set(self.shadow))
            raise ValueError(f"{path}: the weight average does not match the model (missing {missing[:3]}, "
                             f"unexpected {extra[:3]})")
        for n, t in saved.items():
            self.shadow[n].copy_(t)

    def copy_to(self, model: torch.nn.Module, averages: dict[str, torch.Tensor] | None = None) -> None:
        """Write the average (or ``averages``, e.g. a checkpoint's) into ``model``'s parameters."""
        src = self.shadow if averages is None else averages
        own = dict(model.named_parameters())
        with torch.no_grad():
            for n, t in src.items():
                own[n].copy_(t.to(own[n].dtype))

    @contextlib.contextmanager
    def swapped_in(self, model: torch.nn.Module) -> Iterator[None]:
        """``model`` holds the average inside the block and its own trained weights again after it."""
        own = dict(model.named_parameters())
        kept = {n: own[n].detach().clone() for n in self.shadow}
        self.copy_to(model)
        try:
            yield
        finally:
            self.copy_to(model, kept)

    def keep_best(self, model: torch.nn.Module, best_checkpoint: str | None) -> None:
        """At the end of training: the chosen checkpoint's average (or the last one) into ``model``."""
        path = Path(best_checkpoint) / EMA_FILE if best_checkpoint else None
        if path is not None and path.is_file():
            self.copy_to(model, load_file(str(path)))
        else:
            if path is not None:
                log.warning("%s has no %s: saving the last weight average", best_checkpoint, EMA_FILE)
            self.copy_to(model)
