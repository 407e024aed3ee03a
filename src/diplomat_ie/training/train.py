"""``train(config)``: corpora -> windows -> HF Trainer -> best model saved into one directory."""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
import re
import tempfile
from collections import Counter
from pathlib import Path

import torch
from tqdm.auto import tqdm
from transformers import EarlyStoppingCallback, TrainerCallback, TrainingArguments

from ..config import ConfigError, RunConfig
from ..data.corpora import load_docs
from ..data.roles import role_class_weights
from ..modeling.configuration import DiplomatConfig
from ..modeling.features import FeatureStats, collate, window_features
from ..modeling.io import build_model, save_model_dir
from ..utils import atomic_write_json, atomic_write_text, set_seed
from . import distributed
from .card import model_card
from .clock import WallClock
from .ema import EmaCallback
from .extra import check_saved_heads, found_types, load_extra_corpora, mix_windows, split_main
from .trainer import DevScorer, DiplomatTrainer, WindowDataset
from .windows import WindowRows, encode_windows

log = logging.getLogger(__name__)


class CsvLogCallback(TrainerCallback):
    """Append every logged dict (loss, learning rate, dev metrics) to a CSV file.

    At the start of training the file keeps only the rows up to the step training starts from: a
    resumed run logs again every step after its checkpoint (the killed run had logged some of them),
    and a fresh run (``--training.overwrite``) starts an empty log.
    """

    def __init__(self, path: Path):
        self.path = path

    def on_train_begin(self, args, state, control, **kwargs):
        if state.is_world_process_zero and self.path.exists():
            truncate_log(self.path, state.global_step)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not logs or not state.is_world_process_zero:
            return
        row = {"step": state.global_step, "epoch": state.epoch, **logs}
        new = not self.path.exists()
        with open(self.path, "a", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            if new:
                writer.writerow(["step", "epoch", "key", "value"])
            for k, v in row.items():
                if k not in ("step", "epoch"):
                    writer.writerow([row["step"], row["epoch"], k, v])


def truncate_log(path: Path, last_step: int) -> None:
    """Keep the rows of a :class:`CsvLogCallback` file with ``step <= last_step`` (atomic rewrite)."""
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    keep = [r for r in rows[1:] if r and r[0].isdigit() and int(r[0]) <= last_step]
    if len(keep) == len(rows) - 1:
        return
    out = io.StringIO()
    csv.writer(out).writerows([["step", "epoch", "key", "value"], *keep])
    atomic_write_text(path, out.getvalue())


def run_paths(cfg: RunConfig) -> dict[str, Path]:
    out = Path(cfg.training.output_dir)
    return {"model": out, "run": Path("runs") / cfg.name, "checkpoints": Path("runs") / cfg.name / "checkpoints",
            "report": Path(cfg.training.report_dir or Path("reports") / cfg.name)}


def prepare_output(cfg: RunConfig, resume: bool, write: bool = True) -> dict[str, Path]:
    """Refuse to clobber an earlier run, and fail early when the output is not writable.

    ``write=False`` (every rank but 0 of a multi-process run) checks only: no probe, no clean-up.
    """
    paths = run_paths(cfg)
    if paths["model"].exists() and not paths["model"].is_dir():
        raise ConfigError(f"training.output_dir: {paths['model']} is a file, not a directory")
    if paths["model"].exists() and any(paths["model"].iterdir()) and not (cfg.training.overwrite or resume):
        raise ConfigError(f"training.output_dir: {paths['model']} already holds a run; pass "
                          f"--training.overwrite true to replace it, --resume to continue, or choose "
                          f"another --training.output_dir / --name")
    for key in ("model", "run") if write else ():
        p = paths[key]
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
            p.mkdir(parents=True, exist_ok=True) if key == "run" else None
            # a name of its own: runs started side by side (scripts/ablate.py --parallel) share the parent
            fd, probe = tempfile.mkstemp(prefix=".write_test-", dir=p if key == "run" else p.parent)
            os.close(fd)
            os.unlink(probe)
        except OSError as exc:
            raise ConfigError(f"cannot write to {p}: {exc}") from exc
    stale = _checkpoint_dirs(paths["checkpoints"])
    if stale and not resume:
        # a fresh run must not share the folder: a later --resume could pick the older run's checkpoint
        if not cfg.training.overwrite:
            raise ConfigError(f"{paths['checkpoints']} holds checkpoints of an earlier (interrupted?) run "
                              f"'{cfg.name}'; pass --resume to continue it, --training.overwrite true to discard "
                              f"them, or choose another --name")
        if not write:
            return paths
        import shutil

        for ck in stale:
            shutil.rmtree(ck)
    return paths


def load_training_docs(cfg: RunConfig):
    d = cfg.data
    train = load_docs(d.corpus, d.train_split, root=d.root, lenient=d.lenient)
    dev = load_docs(d.corpus, d.dev_split, root=d.root, lenient=d.lenient)
    if d.max_train_docs:
        train = train[: d.max_train_docs]
    if d.max_eval_docs:
        dev = dev[: d.max_eval_docs]
    if not train:
        raise ConfigError("data: no training documents found")
    return train, dev


def make_features(docs, model, tokenizer, desc: str):
    """Training windows as a list of dicts, without ``datasets`` or its cache (the reference
    :func:`~diplomat_ie.training.windows.encode_windows` must match)."""
    stats = FeatureStats()
    feats = []
    cfg = model.config
    featurizer = getattr(model, "featurizer", None)
    from ..modeling.encoding import encode_document

    for doc in tqdm(docs, desc=desc, unit="doc", leave=False):
        enc = encode_document(doc.text, tokenizer, cfg.window_length, cfg.overlap,
                              getattr(cfg, "window_breaks", "none"))
        featurize = featurizer.for_doc(doc.id) if featurizer is not None else None
        feats.extend(window_features(doc, enc, cfg, stats, featurize))
    return feats, stats.counts


def bf16_supported() -> bool:
    """Whether bf16 autocast is faster here than fp32: a CUDA GPU with bf16, a CPU with AMX, or an AMD CPU
    with AVX512-BF16 (README, "bf16 on CPUs": faster than fp32 on an EPYC).

    Intel's AVX512-BF16 without AMX is not enough: on a 2-core Xeon with it, bf16 training steps were
    slower than fp32 ones (README, "bf16 without AMX"); ``training.bf16: true`` still forces it.
    """
    if torch.cuda.is_available():
        return torch.cuda.is_bf16_supported()
    if getattr(torch.cpu, "_is_amx_tile_supported", lambda: False)():
        return True
    return bool(torch.cpu._is_avx512_bf16_supported()) and cpu_vendor() == "AuthenticAMD"


def cpu_vendor(cpuinfo: str = "/proc/cpuinfo") -> str:
    """The CPU's ``vendor_id`` (``GenuineIntel``, ``AuthenticAMD``) from ``cpuinfo``; "" where it has none."""
    try:
        with open(cpuinfo, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("vendor_id"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def use_bf16(setting: str) -> bool:
    """``training.bf16`` (auto / true / false) resolved on this machine."""
    if setting == "auto":
        return bf16_supported()
    if setting == "true" and torch.cuda.is_available() and not torch.cuda.is_bf16_supported():
        raise ConfigError("training.bf16: true, but this GPU has no bf16 support; use auto or false")
    return setting == "true"


def training_args(cfg: RunConfig, paths, n_windows: int, evaluate: bool = True) -> TrainingArguments:
    """HF arguments of a run; ``evaluate=False`` (no dev scorer): no dev evaluation, the last model is kept."""
    t = cfg.training
    # accelerate deals each process every world_size-th batch (the last ones padded from the start)
    steps_per_epoch = math.ceil(math.ceil(n_windows / t.batch_size) / distributed.world_size())
    total = t.max_steps if t.max_steps > 0 else math.ceil(steps_per_epoch * t.epochs)
    by_epoch = t.eval_every == "epoch"
    return TrainingArguments(
        output_dir=str(paths["checkpoints"]), num_train_epochs=t.epochs, max_steps=t.max_steps,
        per_device_train_batch_size=t.batch_size, per_device_eval_batch_size=t.eval_batch_size,
        learning_rate=t.head_lr, weight_decay=t.weight_decay, lr_scheduler_type="linear",
        warmup_steps=int(total * t.warmup_ratio),
        eval_strategy="no" if not evaluate else "epoch" if by_epoch else "steps",
        save_strategy="epoch" if by_epoch else "steps", eval_steps=None if by_epoch else int(t.eval_every),
        save_steps=None if by_epoch else int(t.eval_every), save_total_limit=t.save_total_limit,
        load_best_model_at_end=evaluate, metric_for_best_model="nested_f1" if evaluate else None,
        greater_is_better=True,
        logging_steps=t.logging_steps, report_to=["tensorboard"], seed=t.seed, data_seed=t.seed,
        train_sampling_strategy="group_by_length", remove_unused_columns=False, use_cpu=not torch.cuda.is_available(),
        bf16=use_bf16(t.bf16),  # autocast: weights, optimiser state and the loss stay fp32
        dataloader_num_workers=0, save_only_model=False, disable_tqdm=False,
        ddp_backend="gloo" if distributed.world_size() > 1 and not torch.cuda.is_available() else None,
        ddp_find_unused_parameters=True,  # a batch without triggers leaves the role head out of the graph
    )


def train(cfg: RunConfig, resume: bool = False, scorer: DevScorer | None = None) -> dict:
    """Train NER and event roles as configured; save the best model to ``training.output_dir``.

    ``diplomat_ie.train`` is this function with evaluation's dev scorer.

    Args:
        cfg: the run configuration.
        resume: continue from the last checkpoint under ``runs/<name>/checkpoints``.
        scorer: scores the dev documents at each evaluation (best model, early stopping). None: no dev
            evaluation and no early stopping; the model after the last step is saved.

    Returns:
        A summary dict: paths, timings, dev history, feature statistics.
    """
    distributed.init_process_group(use_cpu=not torch.cuda.is_available())
    main = distributed.is_main_process()
    paths = prepare_output(cfg, resume, write=main)
    distributed.barrier()  # rank 0 has made the folders and removed stale checkpoints
    # the processes on one machine share its cores
    torch.set_num_threads(cfg.training.threads or max(1, (os.cpu_count() or 1) // distributed.local_world_size()))
    set_seed(cfg.training.seed)
    os.environ.setdefault("TENSORBOARD_LOGGING_DIR", str(paths["run"] / "tensorboard"))
    train_docs, dev_docs = load_training_docs(cfg)
    more_main, extras = split_main(load_extra_corpora(cfg))
    train_docs = train_docs + more_main  # data.extra_corpora with head "main": the main head's scheme
    types = cfg.model.entity_types or sorted({e.type for d in train_docs for e in d.entities})
    if cfg.model.init_from:
        model, tokenizer = _init_from(cfg, types)
        check_saved_heads(model.config, extras, str(cfg.model.init_from))
    else:
        model, tokenizer = build_model(DiplomatConfig.from_run_config(cfg, entity_types=types,
                                                                      extra_types=found_types(extras)),
                                       freeze_word_embeddings=cfg.model.freeze_word_embeddings,
                                       freeze_layers=cfg.model.freeze_layers)
    attach_word_lexicon(model, train_docs, cfg.data.cache_dir)
    attach_type_lexicon(model, train_docs)
    # counted on this run's documents (a continued model's own weights are replaced, or dropped at 0)
    model.config.role_class_weights = role_class_weights(
        train_docs, model.config.roles, tuple(model.config.trigger_types), model.config.role_class_balance) \
        if model.config.roles and model.config.role_class_balance > 0 else None
    extra_info: list[dict] = []
    with distributed.main_process_first():  # rank 0 fills the cache, the others read it
        encoded = encode_windows(train_docs, model.config, tokenizer, cfg.data.cache_dir,
                                 featurizer=model.featurizer)
        windows, fstats = encoded.windows, encoded.stats
        if extras:
            windows, extra_stats, extra_info = mix_windows(windows, extras, model.config, tokenizer,
                                                           cfg.data.cache_dir, featurizer=model.featurizer)
            fstats.update(extra_stats)
    feats = WindowRows(windows)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    if scorer is None:
        log.warning("no dev scorer: training without dev evaluation or early stopping; the last model is saved")
    stopping = [EarlyStoppingCallback(cfg.training.patience)] if scorer is not None else []
    last = _last_checkpoint(paths["checkpoints"]) if resume else None
    if resume and last is None:
        log.warning("--resume: no complete checkpoint in %s; training from the start", paths["checkpoints"])
    if last is not None:
        _check_checkpoint_format(last)
    ema = EmaCallback(model, cfg.training.ema_decay, resume_from=last) if cfg.training.ema_decay > 0 else None
    trainer = DiplomatTrainer(
        model=model, args=training_args(cfg, paths, len(feats), evaluate=scorer is not None),
        train_dataset=feats,
        eval_dataset=WindowDataset(dev_docs),  # placeholder: evaluate() scores whole dev documents
        data_collator=lambda b: collate(b, pad), processing_class=tokenizer,
        callbacks=[*stopping, CsvLogCallback(paths["run"] / "log.csv")],
        encoder_lr=cfg.training.encoder_lr, head_lr=cfg.training.head_lr, role_head_lr=cfg.training.role_head_lr,
        layer_lr_decay=cfg.training.layer_lr_decay, dev_docs=dev_docs,
        eval_batch_size=cfg.training.eval_batch_size, scorer=scorer, ema=ema)
    clock = WallClock.resuming(last)
    trainer.add_callback(clock)
    result = trainer.train(resume_from_checkpoint=str(last) if last else None)
    if ema is not None:  # the chosen checkpoint's raw weights are loaded: its average replaces them
        ema.keep_best(trainer.model, trainer.state.best_model_checkpoint)
    summary = _summary(cfg, trainer, result, clock, len(train_docs), len(dev_docs), len(feats), fstats, last)
    summary["windows_cache"] = {"fingerprint": encoded.fingerprint, "hit": encoded.cache_hit,
                                "dir": cfg.data.cache_dir}
    if extra_info:
        summary["extra_corpora"] = extra_info
    model.config.training_summary = {k: summary[k] for k in ("train_docs", "train_windows", "seconds",
                                                              "best_dev", "epochs_run")}
    if main:
        save_model_dir(trainer.model, tokenizer, paths["model"], card=model_card(trainer.model.config, summary),
                       dtype=cfg.training.save_dtype, embeddings=cfg.training.save_embeddings)
        atomic_write_json(paths["run"] / "train_summary.json", summary)
    distributed.barrier()  # the model directory is complete when train() returns on any rank
    return summary


def attach_word_lexicon(model, train_docs, cache_dir: str | None = None) -> None:
    """Build ``model.word_lexicon``'s lookups from this run's training documents (out-of-fold ``train``
    lexicons included) and give them to the model's featurizer; a continued model's are rebuilt too."""
    cfg = model.config
    if not cfg.word_lexicon:
        return
    from ..modeling.word_features import WordFeaturizer
    from ..modeling.word_lexicon import LexiconError, build_lexicon

    try:
        lexicon = build_lexicon(cfg.word_lexicon, cfg.entity_types, train_docs, cache_dir=cache_dir)
    except LexiconError as exc:
        raise ConfigError(f"model.word_lexicon: {exc}") from exc
    old = model.featurizer
    model.heads.featurizer = WordFeaturizer(old.index if old is not None else None, lexicon)


def attach_type_lexicon(model, train_docs) -> None:
    """Build ``model.type_lexicon``'s lookups from this run's training documents (a continued model's are
    rebuilt: its lexicon should know this run's documents); the place lookup is cached per user."""
    cfg = model.config
    if not cfg.type_lexicon:
        return
    from ..modeling.type_lexicon import build_type_lexicon, resolve_types

    try:  # unknown types (ValueError) or a missing package (LexiconError, a ValueError)
        cfg.type_lexicon = resolve_types(cfg.type_lexicon, cfg.entity_types) or None  # saved as the concrete list
        if cfg.type_lexicon:
            model.heads.type_lexicon = build_type_lexicon(train_docs, places=cfg.type_lexicon_places)
    except ValueError as exc:
        raise ConfigError(f"model.type_lexicon: {exc}") from exc


def _complete_checkpoint(path: Path) -> bool:
    """Trainer writes ``trainer_state.json`` last: a checkpoint without a readable one is half-written."""
    needed = ("model.safetensors", "optimizer.pt", "scheduler.pt", "trainer_state.json")
    if not all((path / name).is_file() for name in needed):
        return False
    if not (path / "rng_state.pth").is_file() and not any(path.glob("rng_state_*.pth")):
        return False  # one process writes rng_state.pth, several rng_state_<rank>.pth
    try:
        state = json.loads((path / "trainer_state.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(state, dict) and "global_step" in state


def _checkpoint_dirs(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    cks = [p for p in folder.iterdir() if p.is_dir() and re.fullmatch(r"checkpoint-\d+", p.name)]
    return sorted(cks, key=lambda p: int(p.name.split("-")[-1]))


def _init_from(cfg: RunConfig, types: list[str]):
    """Continue training a saved model: its label schema must cover the data's types, the run's
    architecture settings must match it and its runtime settings are applied
    (:meth:`DiplomatConfig.run_config_changes`)."""
    from ..modeling.io import freeze_encoder, load_model_dir

    path = cfg.model.init_from
    model, tokenizer = load_model_dir(path)
    missing = sorted(set(types) - set(model.config.entity_types))
    if missing:
        raise ConfigError(f"model.init_from: {path} does not know the entity types {missing}")
    apply_changes(model, model.config.run_config_changes(cfg, source=str(path)))
    model.train()
    freeze_encoder(model, word_embeddings=cfg.model.freeze_word_embeddings, layers=cfg.model.freeze_layers)
    return model, tokenizer


def apply_changes(model, changes: dict) -> None:
    """Write ``{DiplomatConfig field: value}`` into ``model.config`` and into the live modules.

    Dropout is set on every ``nn.Dropout`` outside the encoder (found by walking the modules, so it
    holds whatever the heads look like); a marker layer switches the role head to marker mode.
    """
    changes = dict(changes)
    layer = changes.pop("role_marker_layer", None)
    if layer is not None:
        try:
            model.enable_role_marker(layer)
        except ValueError as exc:
            raise ConfigError(f"roles.marker_layer: {exc}") from exc
    for name, value in changes.items():
        setattr(model.config, name, value)
    if "dropout" in changes:
        inside = {id(m) for m in model.encoder.modules()}
        for module in model.modules():
            if isinstance(module, torch.nn.Dropout) and id(module) not in inside:
                module.p = changes["dropout"]


def _check_checkpoint_format(path: Path) -> None:
    """Refuse a checkpoint of another model format: HF Trainer loads checkpoint weights non-strictly, so
    renamed head keys would silently leave the heads at their fresh initialisation."""
    from ..modeling.configuration import FORMAT_VERSION

    try:
        version = json.loads((path / "config.json").read_text(encoding="utf-8")).get("format_version")
    except (OSError, ValueError, AttributeError) as exc:
        raise ConfigError(f"--resume: {path / 'config.json'} is unreadable ({exc})") from exc
    if version != FORMAT_VERSION:
        raise ConfigError(f"--resume: {path} holds model format {version!r}, this diplomat-ie writes "
                          f"{FORMAT_VERSION}; finish that run with the diplomat-ie that started it, or continue "
                          f"from its saved model with --model.init_from (which converts old formats)")


def _last_checkpoint(folder: Path) -> Path | None:
    """The newest complete ``checkpoint-N`` in ``folder``; half-written ones (killed mid-save) are skipped."""
    for ck in reversed(_checkpoint_dirs(folder)):
        if _complete_checkpoint(ck):
            return ck
        log.warning("skipping incomplete checkpoint %s (interrupted while saving)", ck)
    return None


def _summary(cfg, trainer, result, clock: WallClock, n_train, n_dev, n_windows, fstats: Counter, resumed) -> dict:
    # state.log_history comes back from the checkpoint on --resume; trainer.dev_history only holds this
    # process's evaluations, so a resumed run would report a best_dev that is not the saved model's.
    hist = [h for h in trainer.state.log_history if "eval_nested_f1" in h] or trainer.dev_history
    best = max(hist, key=lambda h: h.get("eval_nested_f1", -1)) if hist else {}
    epochs = trainer.state.epoch or 0
    here, here_epochs = clock.this_process(), epochs - clock.start_epoch
    return {
        "name": cfg.name, "config": cfg.to_dict(), "train_docs": n_train, "dev_docs": n_dev,
        "train_windows": n_windows, "epochs_run": epochs,
        # over every resumed part where the checkpoints recorded it, else this process only
        "seconds": round(clock.total() if clock.known else here, 1), "seconds_known_total": clock.known,
        "seconds_this_process": round(here, 1), "epochs_this_process": round(here_epochs, 3),
        "seconds_per_epoch": round(here / here_epochs, 1) if here_epochs > 0 else None,
        "train_loss": result.training_loss, "best_dev": best, "dev_history": hist,
        "log_history": trainer.state.log_history, "feature_stats": dict(fstats),
        "resumed_from": str(resumed) if resumed else None, "world_size": trainer.args.world_size,
        "peak_rss_mb": _peak_rss_mb(),
    }


def _peak_rss_mb() -> float:
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def dump_summary(summary: dict) -> str:
    keep = {k: summary[k] for k in ("train_docs", "train_windows", "seconds", "seconds_per_epoch",
                                    "epochs_run", "best_dev", "feature_stats", "peak_rss_mb")}
    return json.dumps(keep, ensure_ascii=False, indent=2)
