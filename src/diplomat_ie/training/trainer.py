"""HF Trainer subclass: per-group learning rates and dev evaluation with a scorer passed in."""

from __future__ import annotations

import re
import time
from typing import Protocol

import torch
from transformers import Trainer, TrainerCallback
from transformers.trainer_pt_utils import LengthGroupedSampler, get_length_grouped_indices

from ..data.document import Document
from .distributed import broadcast_from_main, local_threads_borrowed
from .ema import EmaCallback


class DevScorer(Protocol):
    """Scores a model on whole dev documents; the keys (``nested_f1`` among them) become ``eval_<key>``.

    Training sits below evaluation, so the scorer is passed in: ``diplomat_ie.train`` and the CLI use
    :func:`diplomat_ie.evaluation.evaluate.dev_scores`.
    """

    def __call__(self, model, tokenizer, dev_docs: list[Document], batch_size: int) -> dict[str, float]: ...


class WindowDataset(torch.utils.data.Dataset):
    """Training windows; ``input_ids`` is exposed so ``group_by_length`` can read lengths."""

    def __init__(self, features: list[dict]):
        self.features = features
        self.lengths = [len(f["input_ids"]) for f in features] if features and isinstance(features[0], dict) else None

    def __len__(self) -> int:
        return len(self.features)

    def __getitem__(self, i: int) -> dict:
        return self.features[i]


class EpochSeededLengthGroupedSampler(LengthGroupedSampler):
    """``group_by_length`` order drawn from ``(seed, epoch)`` only, never from the global torch RNG.

    HF's own sampler draws each epoch's permutation from the global RNG, whose state at an epoch
    start is not in any checkpoint: a run resumed mid-epoch (after the first epoch) then replayed a
    different order. The Trainer calls :meth:`set_epoch` before every epoch, resumed ones included.
    Every process draws the same order; accelerate's ``BatchSamplerShard`` deals its batches out to the
    processes in turn (rank r takes batches r, r + world_size, ...).
    """

    def __init__(self, batch_size: int, dataset, seed: int, model_input_name: str = "input_ids"):
        super().__init__(batch_size, dataset=dataset, lengths=getattr(dataset, "lengths", None),
                         model_input_name=model_input_name)
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __iter__(self):
        gen = torch.Generator()
        gen.manual_seed(self.seed + self.epoch)
        return iter(get_length_grouped_indices(self.lengths, self.batch_size, generator=gen))


class TrainProgressCallback(TrainerCallback):
    """Sets ``model.train_progress`` (the share of the run's steps done) before every training step."""

    def on_step_begin(self, args, state, control, model=None, **kwargs):
        if model is not None and state.max_steps:
            model.train_progress = state.global_step / state.max_steps


_LAYER = re.compile(r"\.layers?\.(\d+)\.")


def layer_lr_scale(name: str, num_layers: int, decay: float) -> float:
    """The learning-rate factor of encoder parameter ``name`` under layer-wise decay.

    Args:
        name: a parameter name under ``encoder.``.
        num_layers: the encoder's layers.
        decay: the factor per layer (1: every parameter 1.0).

    Returns:
        ``decay ** (num_layers - 1 - i)`` for layer ``i``, ``decay ** num_layers`` for the embeddings, 1.0 for
        the rest (a pooler or a final norm above the layers).
    """
    if decay == 1.0:
        return 1.0
    if m := _LAYER.search(name):
        return decay ** (num_layers - 1 - int(m.group(1)))
    if ".embeddings." in name:
        return decay ** num_layers
    return 1.0


class DiplomatTrainer(Trainer):
    """Trainer with separate encoder/head learning rates and a dev scorer on whole documents."""

    def __init__(self, *args, encoder_lr: float, head_lr: float, layer_lr_decay: float = 1.0, dev_docs=None,
                 eval_batch_size=32, scorer: DevScorer | None = None, ema: EmaCallback | None = None,
                 role_head_lr: float | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.add_callback(TrainProgressCallback())
        self.encoder_lr = encoder_lr
        self.layer_lr_decay = layer_lr_decay
        self.head_lr = head_lr
        self.role_head_lr = role_head_lr if role_head_lr is not None else head_lr  # training.role_head_lr
        self.scorer = scorer
        self.dev_docs = dev_docs or []
        self.eval_batch_size_docs = eval_batch_size
        self.dev_history: list[dict] = []
        self.ema = ema  # training.ema_decay: the average is scored as eval_*, the raw weights as eval_raw_*
        if ema is not None:
            self.add_callback(ema)

    def _get_train_sampler(self, train_dataset=None):
        dataset = train_dataset if train_dataset is not None else self.train_dataset
        if self.args.train_sampling_strategy == "group_by_length" and dataset is not None and len(dataset):
            seed = self.args.data_seed if self.args.data_seed is not None else self.args.seed
            return EpochSeededLengthGroupedSampler(
                self.args.train_batch_size * self.args.gradient_accumulation_steps, dataset, seed)
        return super()._get_train_sampler(train_dataset)

    def create_optimizer(self, model=None):
        if self.optimizer is not None:
            return self.optimizer
        model = model or self.model
        decay, no_decay = set(), set()
        for name, p in model.named_parameters():
            if p.requires_grad and (p.ndim < 2 or "LayerNorm" in name or "layer_norm" in name):
                no_decay.add(name)
            elif p.requires_grad:
                decay.add(name)
        layers = model.encoder.config.num_hidden_layers
        grouped: dict[tuple[bool, bool, float], list] = {}  # (encoder?, decayed?, lr)
        for name, p in model.named_parameters():
            if name not in decay and name not in no_decay:
                continue
            is_enc = name.startswith("encoder.")
            if is_enc:
                lr = self.encoder_lr * layer_lr_scale(name, layers, self.layer_lr_decay)
            else:
                lr = self.role_head_lr if name.startswith("heads.role_head.") else self.head_lr
            grouped.setdefault((is_enc, name in decay, lr), []).append(p)
        # encoder before heads, decayed before not: without layer decay these are the four groups, in the
        # order, that older checkpoints saved (their optimizer state resumes)
        keys = sorted(grouped, key=lambda k: (not k[0], not k[1]))
        groups = [{"params": grouped[k], "lr": k[2], "weight_decay": self.args.weight_decay if k[1] else 0.0}
                  for k in keys]
        self.optimizer = torch.optim.AdamW(groups, lr=self.head_lr, betas=(self.args.adam_beta1,
                                           self.args.adam_beta2), eps=self.args.adam_epsilon)
        return self.optimizer

    def _dev_scores(self) -> dict[str, float]:
        assert self.scorer is not None
        scores = self.scorer(self.model, self.processing_class, self.dev_docs, self.eval_batch_size_docs)
        if self.ema is None:
            return scores
        with self.ema.swapped_in(self.model):
            averaged = self.scorer(self.model, self.processing_class, self.dev_docs, self.eval_batch_size_docs)
        return {**averaged, **{f"raw_{k}": v for k, v in scores.items()}}

    def evaluate(self, eval_dataset=None, ignore_keys=None, metric_key_prefix: str = "eval"):
        if self.scorer is None:
            raise RuntimeError("DiplomatTrainer.evaluate: no dev scorer was given (pass scorer=...)")
        start = time.time()
        # rank 0 scores, the others take its numbers: early stopping and the best model agree on every rank
        scores = None
        if self.args.process_index == 0:
            with local_threads_borrowed():  # the other ranks on this machine idle until the broadcast
                scores = self._dev_scores()
        scores = broadcast_from_main(scores)
        metrics = {f"{metric_key_prefix}_{k}": v for k, v in scores.items()}
        metrics[f"{metric_key_prefix}_runtime"] = round(time.time() - start, 2)
        metrics["epoch"] = self.state.epoch
        self.model.train()
        self.dev_history.append(dict(metrics, step=self.state.global_step))
        self.log(metrics)
        self.control = self.callback_handler.on_evaluate(self.args, self.state, self.control, metrics)
        return metrics
