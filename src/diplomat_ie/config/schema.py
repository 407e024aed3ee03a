"""Typed run configuration: dataclasses grouped by concern, each validated in ``__post_init__``.

``diplomat-ie train --config default --training.batch_size 8 --model.max_length 192`` (a packaged config
name, see :mod:`diplomat_ie.resources`, or a YAML path)
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

ROLE_HEADS = ("bio", "pair")  # roles.head: the BIO word tagger, or the (trigger, entity) pair classifier
# model.word_lexicon's feature groups (modeling.word_lexicon computes them)
WORD_LEXICON_GROUPS = ("morph", "places", "train")


class ConfigError(ValueError):
    """A configuration value is wrong; the message names the key."""


def _check(cond: bool, key: str, msg: str) -> None:
    if not cond:
        raise ConfigError(f"{key}: {msg}")


MAIN_HEAD = "main"  # an extra corpus with this head trains the main NER head (same label scheme)
_HEAD_NAME = re.compile(r"[a-z][a-z0-9_]*")


@dataclass
class ExtraCorpusConfig:
    """One extra training corpus of ``data.extra_corpora``; its windows train only the head ``head``.

    YAML: ``extra_corpora: [{corpus: factrueval, split: dev, head: factrueval}]``; on the command line the
    same list in YAML flow style: ``--data.extra_corpora '[{corpus: factrueval, split: dev}]'``.
    """

    corpus: str = field(default="", metadata={"help": "a corpus name or any path data.corpus takes"})
    split: str = field(default="train", metadata={"help": "split to train on (factrueval: dev or test)"})
    head: str | None = field(default=None, metadata={
        "help": "NER head its windows train (a-z, 0-9, _); corpora naming the same head share it; 'main': "
                "the main head (same label scheme as data.corpus); default: named after the corpus"})
    types: list[str] | None = field(default=None, metadata={"help": "entity types of the head; default: all "
                                                                    "types seen in its corpora"})
    layers: int = field(default=2, metadata={"help": "nesting depth of the head (one BIO layer per depth)"})
    loss_weight: float = field(default=1.0, metadata={"help": "weight of the head's loss next to the main "
                                                              "NER loss"})
    max_docs: int | None = field(default=None, metadata={"help": "use only the first N documents"})

    def validate(self, key: str) -> None:
        """Check the entry; ``key`` (``data.extra_corpora[0]``) prefixes every error."""
        _check(bool(self.corpus.strip()), f"{key}.corpus", "is required (a corpus name or path)")
        if self.head is None:
            stem = Path(self.corpus.rstrip("/\\")).stem.lower().split(":")[-1]
            self.head = re.sub(r"[^a-z0-9_]+", "_", stem).strip("_") or "extra"
            self.head = self.head.removesuffix("_2016") if self.head.startswith("factrueval") else self.head
            if not self.head[0].isalpha():
                self.head = f"c_{self.head}"
        _check(bool(_HEAD_NAME.fullmatch(self.head)), f"{key}.head",
               f"must be lowercase letters, digits and _ (starting with a letter), got {self.head!r}")
        _check(1 <= self.layers <= 16, f"{key}.layers", f"must be in 1..16, got {self.layers}")
        _check(self.loss_weight > 0, f"{key}.loss_weight", f"must be > 0, got {self.loss_weight}")
        _check(self.max_docs is None or self.max_docs > 0, f"{key}.max_docs", f"must be positive, got {self.max_docs}")
        _check(self.types is None or len(self.types) > 0, f"{key}.types", "needs at least one type (or null)")
        if self.head == MAIN_HEAD:
            for name, default in (("types", None), ("layers", 2), ("loss_weight", 1.0)):
                _check(getattr(self, name) == default, f"{key}.{name}",
                       "does not apply to head 'main' (it uses the model.* settings)")


def _check_extra_corpora(entries: list[ExtraCorpusConfig]) -> None:
    """Each entry valid; corpora sharing a head agree on its layers, types and loss weight."""
    first: dict[str, tuple[int, ExtraCorpusConfig]] = {}
    for i, e in enumerate(entries):
        key = f"data.extra_corpora[{i}]"
        _check(isinstance(e, ExtraCorpusConfig), key, f"expected a mapping with corpus/split/head, got {e!r}")
        e.validate(key)
        head = e.head or ""
        if head not in first:
            first[head] = (i, e)
            continue
        j, f = first[head]
        for name in ("layers", "types", "loss_weight"):
            _check(getattr(e, name) == getattr(f, name), f"{key}.{name}",
                   f"head {head!r} is shared with data.extra_corpora[{j}], which sets {name} "
                   f"{getattr(f, name)!r}, not {getattr(e, name)!r}")


@dataclass
class DataConfig:
    root: str | None = field(default=None, metadata={"help": "corpora folder; default $DIPLOMAT_IE_DATA, "
                                                             "./data, ../shared/datasets"})
    corpus: str = field(default="nerel", metadata={"help": "nerel, a brat folder (of split folders), a JSONL "
                                                           "file, a save_to_disk folder, or hf:NAME[:CONFIG]"})
    train_split: str = field(default="train", metadata={"help": "split to train on"})
    dev_split: str = field(default="dev", metadata={"help": "split for early stopping"})
    test_split: str = field(default="test", metadata={"help": "split for the final evaluation"})
    lenient: bool = field(default=True, metadata={"help": "skip and count malformed annotation lines "
                                                          "(NEREL v1.1 has one) instead of failing"})
    max_train_docs: int | None = field(default=None, metadata={"help": "use only the first N training "
                                                                       "documents (quick runs)"})
    max_eval_docs: int | None = field(default=None, metadata={"help": "use only the first N dev/test docs"})
    cache_dir: str | None = field(default="runs/.cache/windows", metadata={
        "help": "encoded training windows are cached here (HF datasets Arrow files); null: no cache"})
    extra_corpora: list[ExtraCorpusConfig] = field(default_factory=list, metadata={
        "help": "more training corpora, each training its own NER head on the shared encoder: a list of "
                "{corpus, split, head, types, layers, loss_weight, max_docs}; empty: data.corpus only"})

    def __post_init__(self) -> None:
        for key in ("max_train_docs", "max_eval_docs"):
            v = getattr(self, key)
            _check(v is None or v > 0, f"data.{key}", f"must be positive, got {v}")
        _check(isinstance(self.extra_corpora, list), "data.extra_corpora",
               f"expected a list, got {self.extra_corpora!r}")
        _check_extra_corpora(self.extra_corpora)


NER_HEADS = ("layered", "span")  # model.ner_head values
SPAN_LOSS_SCALES = ("cells", "words")  # model.span_loss_scale values
NER_DECODINGS = ("argmax", "viterbi")  # model.ner_decoding values (modeling/bio_decoding.py)
WINDOW_BREAKS = ("none", "paragraph")  # model.window_breaks values (modeling/encoding.py)


@dataclass
class ModelConfig:
    backbone: str = field(default="models/backbones/multilingual-e5-small",
                          metadata={"help": "HF hub name or local path of the encoder"})
    max_length: int = field(default=160, metadata={"help": "subwords per window, special tokens included; "
                                                           "at most the backbone's usable positions"})
    overlap: int = field(default=32, metadata={"help": "subwords of context carried into the next window"})
    window_breaks: str = field(default="none", metadata={
        "help": "none: windows pack sentences across paragraphs; paragraph: no window (and no overlap) crosses a "
                "blank line, so each paragraph is read on its own (a runtime setting stored with the model)"})
    num_layers: int = field(default=4, metadata={"help": "nesting depth K: one BIO layer per depth"})
    ner_head: str = field(default="layered", metadata={
        "help": "layered: K nested BIO taggers; span: a classifier over every word span up to "
                "max_span_width words (nested spans kept, crossing ones resolved by score)"})
    max_span_width: int = field(default=12, metadata={
        "help": "span head: longest entity in words (`diplomat-ie data stats` shows the share of "
                "entities each width covers)"})
    span_none_weight: float = field(default=1.0, metadata={
        "help": "span head: loss weight of the 'none' class over the candidate spans (1: plain "
                "cross-entropy; below 1 counts the many non-entity spans less)"})
    span_loss_scale: str = field(default="cells", metadata={
        "help": "span head: cells = mean cross-entropy over the candidate spans; words = their sum over "
                "the window's start words (a word's spans weigh like one token of a BIO layer)"})
    ner_decoding: str = field(default="argmax", metadata={
        "help": "layered head: argmax = each word's most probable tag; viterbi = the most probable path in "
                "which every I-T continues a B-T or I-T (decoding only: no weights, changes with init_from)"})
    scalar_mix: int = field(default=0, metadata={
        "help": "0: the heads read the encoder's top layer; N >= 2: a learned softmax-weighted mix (times a "
                "learned scale) of its last N hidden states, embeddings output included when N = layers + 1"})
    dropout: float = field(default=0.1, metadata={"help": "dropout before the heads"})
    freeze_word_embeddings: bool = field(default=True, metadata={"help": "do not train the embedding matrix"})
    freeze_layers: int = field(default=0, metadata={
        "help": "do not train the embeddings and the bottom N encoder layers (no backward pass through them)"})
    entity_types: list[str] | None = field(default=None, metadata={"help": "entity types; default: all "
                                                                          "types seen in training data"})
    word_vectors: str | None = field(default=None, metadata={
        "help": "null, or navec (the natasha wheel's news vectors) or the path of a navec .tar: each word's "
                "vector (lower-cased; OOV: a learned vector) is projected and concatenated before the heads"})
    word_vectors_size: int = field(default=64, metadata={"help": "width the word vectors are projected to"})
    word_lexicon: list[str] | None = field(default=None, metadata={
        "help": "null, or lexicon feature groups concatenated before the heads: morph (pymorphy3 "
                "Geox/Name/Surn/Patr/Orgn), places (country / region / city lookup by lemma), train "
                "(most frequent training-set type of the lemma, out of fold)"})
    word_lexicon_size: int = field(default=16, metadata={"help": "width the lexicon bits are embedded to"})
    word_feature_dropout: float = field(default=0.1, metadata={
        "help": "training: chance that a word's word_vectors / word_lexicon features are dropped"})
    type_lexicon: list[str] | None = field(default=None, metadata={
        "help": "null, or entity types whose predictions decoding may correct to the type their lemmas have "
                "most often among the training entities (or the place lookup's, for names seen less often): "
                "type names, all (every type) and -TYPE (not that one); decoding only: the lookups are built "
                "when training starts"})
    type_lexicon_min_count: int = field(default=2, metadata={
        "help": "type_lexicon: a name's training entities needed to correct by them"})
    type_lexicon_min_share: float = field(default=0.7, metadata={
        "help": "type_lexicon: share of those entities the corrected type needs"})
    type_lexicon_places: bool = field(default=True, metadata={
        "help": "type_lexicon: names seen less often take the country / region / city lookup's type"})
    type_biases: dict[str, float] = field(default_factory=dict, metadata={
        "help": "decoding: added to each named entity type's logits (layered heads: its B- and I- tags in every "
                "layer; span head: the type) before decoding, e.g. {EVENT: 0.5} (positive: more entities of "
                "that type); a runtime setting stored with the model"})
    init_from: str | None = field(default=None, metadata={
        "help": "continue from a trained diplomat-ie model directory (its labels, weights and architecture) "
                "instead of a fresh head on the backbone. model.* / roles.* keys not given in the YAML or "
                "on the command line come from that model; a given architecture key (backbone, max_length, "
                "num_layers, ner_head, max_span_width, scalar_mix, entity_types, roles.enabled/hidden_size/max_distance/"
                "marker_layer/head) must match it, a given runtime key (dropout, overlap, window_breaks, ner_decoding, type_lexicon*, type_biases, "
                "span_none_weight, span_loss_scale, roles.loss_weight/class_balance/trigger_types/pair_negatives/pair_negatives_from) is applied"})

    def __post_init__(self) -> None:
        _check(self.max_length >= 16, "model.max_length", f"must be >= 16, got {self.max_length}")
        _check(0 <= self.overlap < self.max_length // 2, "model.overlap",
               f"must be in [0, max_length/2), got {self.overlap}")
        _check(self.window_breaks in WINDOW_BREAKS, "model.window_breaks",
               f"must be one of {', '.join(WINDOW_BREAKS)}, got {self.window_breaks!r}")
        _check(1 <= self.num_layers <= 16, "model.num_layers", f"must be in 1..16, got {self.num_layers}")
        _check(self.scalar_mix == 0 or 2 <= self.scalar_mix <= 64, "model.scalar_mix",
               f"must be 0 (off) or in 2..64, got {self.scalar_mix}")
        _check(0.0 <= self.dropout < 1.0, "model.dropout", f"must be in [0, 1), got {self.dropout}")
        _check(self.freeze_layers >= 0, "model.freeze_layers", f"must be >= 0, got {self.freeze_layers}")
        _check(self.ner_head in NER_HEADS, "model.ner_head",
               f"must be one of {', '.join(NER_HEADS)}, got {self.ner_head!r}")
        _check(1 <= self.max_span_width <= 64, "model.max_span_width",
               f"must be in 1..64, got {self.max_span_width}")
        _check(self.span_none_weight > 0, "model.span_none_weight",
               f"must be positive, got {self.span_none_weight}")
        bad = {t: v for t, v in self.type_biases.items() if not math.isfinite(v)}
        _check(not bad, "model.type_biases", f"must be finite numbers, got {bad}")
        _check(self.ner_decoding in NER_DECODINGS, "model.ner_decoding",
               f"must be one of {', '.join(NER_DECODINGS)}, got {self.ner_decoding!r}")
        _check(self.span_loss_scale in SPAN_LOSS_SCALES, "model.span_loss_scale",
               f"must be one of {', '.join(SPAN_LOSS_SCALES)}, got {self.span_loss_scale!r}")
        _check(self.word_vectors is None or self.word_vectors == "navec" or self.word_vectors.endswith(".tar"),
               "model.word_vectors", f"must be null, navec or the path of a navec .tar file, got "
                                     f"{self.word_vectors!r}")
        _check(self.word_vectors_size > 0, "model.word_vectors_size", f"must be positive, got {self.word_vectors_size}")
        _check(self.word_lexicon_size > 0, "model.word_lexicon_size", f"must be positive, got {self.word_lexicon_size}")
        _check(0.0 <= self.word_feature_dropout < 1.0, "model.word_feature_dropout",
               f"must be in [0, 1), got {self.word_feature_dropout}")
        _check(self.type_lexicon_min_count >= 1, "model.type_lexicon_min_count",
               f"must be >= 1, got {self.type_lexicon_min_count}")
        _check(0.0 < self.type_lexicon_min_share <= 1.0, "model.type_lexicon_min_share",
               f"must be in (0, 1], got {self.type_lexicon_min_share}")
        bad = [g for g in self.word_lexicon or () if g not in WORD_LEXICON_GROUPS]
        _check(not bad, "model.word_lexicon", f"unknown groups {bad}; choose from {', '.join(WORD_LEXICON_GROUPS)}")


@dataclass
class RolesConfig:
    enabled: bool = field(default=True, metadata={"help": "train the event-role head"})
    trigger_types: list[str] = field(default_factory=lambda: ["EVENT"],
                                     metadata={"help": "entity types that act as event triggers"})
    hidden_size: int = field(default=192, metadata={"help": "width of the trigger-word pair layer"})
    loss_weight: float = field(default=1.0, metadata={"help": "weight of the role loss next to NER's"})
    max_distance: int = field(default=64, metadata={"help": "word distances to the trigger are bucketed "
                                                             "up to this"})
    marker_layer: int | None = field(default=None, metadata={
        "help": "null: one shared encoder pass labels all triggers of a window; L: re-run encoder layers "
                "L.. once per trigger with a learned trigger marker (0 = classic marker-per-trigger)"})
    head: str = field(default="bio", metadata={
        "help": "bio: tag every word with the BIO role it plays for each trigger; pair: classify each "
                "(trigger, candidate entity) pair of a window (gold entities in training, the predicted "
                "entities at inference)"})
    pair_context: bool = field(default=False, metadata={
        "help": "pair head: add the mean of the words between the trigger and the candidate to each pair "
                "(SpERT-style context; nothing when they touch or overlap)"})
    pair_sentence: bool = field(default=False, metadata={
        "help": "pair head: add a learned vector saying whether the candidate shares a sentence with the trigger "
                "(trained; roles.cross_sentence_bias is the decoding-only counterpart)"})
    class_balance: float = field(default=0.0, metadata={
        "help": "role loss class weights (mean count / role count) ** this, counted on the training documents "
                "(0: plain cross-entropy; 0.5: inverse square root of the frequency); none / O keep weight 1"})
    pair_negatives: int = field(default=0, metadata={
        "help": "pair head: add up to N of the NER head's own current predictions per training window that "
                "are no gold candidate, as none pairs (the candidates it meets at inference; 0: off)"})
    pair_negatives_from: float = field(default=0.0, metadata={
        "help": "pair head: share of the training steps after which the predicted negatives join (0: from "
                "the first step; early predictions are noise)"})
    none_bias: float = field(default=0.0, metadata={
        "help": "decoding: lower the role head's none (pair) / O (bio) logit by this much before the argmax "
                "(more arguments, less precision; 0: plain argmax); a runtime setting stored with the model"})
    single_roles: list[str] = field(default_factory=list, metadata={
        "help": "decoding: roles that go to at most one argument per trigger, the most probable (pair head: the "
                "others take their next most probable role that still beats none; bio head: they are dropped); "
                "a runtime setting stored with the model"})
    cross_sentence_bias: float = field(default=0.0, metadata={
        "help": "decoding: raise the role head's none (pair) / O (bio) logit by this much for an argument in "
                "another sentence than its trigger (0: off); a runtime setting stored with the model"})
    role_biases: dict[str, float] = field(default_factory=dict, metadata={
        "help": "decoding: added to each named role's logit (pair: the role; bio: its B- and I- tags) before "
                "the argmax, e.g. {agent: 0.5} (positive: more arguments of that role); a runtime setting "
                "stored with the model"})

    def __post_init__(self) -> None:
        _check(len(self.trigger_types) > 0, "roles.trigger_types", "needs at least one type")
        _check(self.hidden_size > 0, "roles.hidden_size", "must be positive")
        _check(self.loss_weight >= 0, "roles.loss_weight", "must be >= 0")
        _check(self.max_distance >= 2, "roles.max_distance", "must be >= 2")
        _check(self.marker_layer is None or self.marker_layer >= 0, "roles.marker_layer",
               f"must be null or >= 0, got {self.marker_layer}")
        _check(0.0 <= self.class_balance <= 1.0, "roles.class_balance", f"must be in [0, 1], got {self.class_balance}")
        _check(self.pair_negatives >= 0, "roles.pair_negatives", f"must be >= 0, got {self.pair_negatives}")
        _check(0.0 <= self.pair_negatives_from < 1.0, "roles.pair_negatives_from",
               f"must be in [0, 1), got {self.pair_negatives_from}")
        _check(math.isfinite(self.none_bias), "roles.none_bias", f"must be a finite number, got {self.none_bias}")
        _check(math.isfinite(self.cross_sentence_bias) and self.cross_sentence_bias >= 0, "roles.cross_sentence_bias",
               f"must be a finite number >= 0, got {self.cross_sentence_bias}")
        bad = {r: v for r, v in self.role_biases.items() if not math.isfinite(v)}
        _check(not bad, "roles.role_biases", f"must be finite numbers, got {bad}")
        # which names are roles is checked where the model config is built (the data layer is above this one)
        _check(len(set(self.single_roles)) == len(self.single_roles), "roles.single_roles",
               f"lists a role twice: {self.single_roles}")
        _check(self.head in ROLE_HEADS, "roles.head", f"must be one of {', '.join(ROLE_HEADS)}, got {self.head!r}")


@dataclass
class TrainingConfig:
    output_dir: str = field(default="models/default", metadata={"help": "where the model is saved"})
    report_dir: str | None = field(default=None, metadata={"help": "where reports go (default "
                                                                   "reports/<run name>)"})
    overwrite: bool = field(default=False, metadata={"help": "allow writing into an existing run's folder"})
    epochs: float = field(default=3.0, metadata={"help": "training epochs"})
    max_steps: int = field(default=-1, metadata={"help": "stop after N optimiser steps (-1: epochs)"})
    batch_size: int = field(default=16, metadata={"help": "windows per training step"})
    eval_batch_size: int = field(default=32, metadata={"help": "windows per inference batch"})
    encoder_lr: float = field(default=5.0e-5, metadata={"help": "learning rate of the encoder"})
    head_lr: float = field(default=1.0e-3, metadata={"help": "learning rate of the heads"})
    role_head_lr: float | None = field(default=None, metadata={
        "help": "learning rate of the event-role head (null: head_lr, like the other heads)"})
    layer_lr_decay: float = field(default=1.0, metadata={
        "help": "encoder layer-wise learning-rate decay: the top layer trains at encoder_lr, each layer below "
                "at this factor times the one above, the embeddings below the bottom layer (1: one rate)"})
    weight_decay: float = field(default=0.01, metadata={"help": "AdamW weight decay"})
    ema_decay: float = field(default=0.0, metadata={
        "help": "0: off; d in (0, 1): keep an exponential moving average of the trained weights (decay d per "
                "step), score it on dev beside the raw weights, choose the checkpoint and save the model by it"})
    warmup_ratio: float = field(default=0.06, metadata={"help": "share of steps with linear warm-up"})
    patience: int = field(default=2, metadata={"help": "early-stopping patience, in evaluations"})
    eval_every: str = field(default="epoch", metadata={"help": "'epoch' or a number of steps"})
    seed: int = field(default=42, metadata={"help": "random seed"})
    logging_steps: int = field(default=10, metadata={"help": "log the loss every N steps"})
    threads: int | None = field(default=None, metadata={"help": "torch CPU threads (default: all cores)"})
    save_total_limit: int = field(default=2, metadata={"help": "checkpoints kept (the best is kept too)"})
    bf16: str = field(default="auto", metadata={"help": "bf16 autocast (fp32 weights and optimiser state): "
                                                        "auto = on a bf16 GPU, a CPU with AMX or an AMD CPU "
                                                        "with AVX512-BF16 (README), true, false"})
    save_dtype: str = field(default="float32", metadata={
        "help": "dtype the saved model's weights are stored in: float32, float16 or bfloat16 (loaded as float32)"})
    save_embeddings: str = field(default="same", metadata={
        "help": "same: the word-embedding matrix is stored like the other weights (save_dtype); int8: as int8 "
                "rows with a float32 scale each (loaded as float32)"})

    def __post_init__(self) -> None:
        _check(self.epochs > 0 or self.max_steps > 0, "training.epochs", "must be > 0")
        _check(self.batch_size > 0, "training.batch_size", "must be positive")
        _check(self.eval_batch_size > 0, "training.eval_batch_size", "must be positive")
        _check(self.encoder_lr >= 0 and self.head_lr > 0, "training.*_lr", "must be positive")
        _check(self.role_head_lr is None or self.role_head_lr > 0, "training.role_head_lr",
               f"must be positive or null, got {self.role_head_lr}")
        _check(0 < self.layer_lr_decay <= 1, "training.layer_lr_decay", f"must be in (0, 1], got {self.layer_lr_decay}")
        _check(0 <= self.warmup_ratio < 1, "training.warmup_ratio", "must be in [0, 1)")
        _check(self.eval_every == "epoch" or (str(self.eval_every).isdigit() and int(self.eval_every) > 0),
               "training.eval_every", f"must be 'epoch' or a positive step count, got {self.eval_every!r}")
        _check(self.weight_decay >= 0, "training.weight_decay", f"must be >= 0, got {self.weight_decay}")
        _check(0 <= self.ema_decay < 1, "training.ema_decay", f"must be 0 (off) or in (0, 1), got {self.ema_decay}")
        _check(self.patience >= 1, "training.patience", f"must be >= 1, got {self.patience}")
        _check(self.logging_steps >= 1, "training.logging_steps", f"must be >= 1, got {self.logging_steps}")
        _check(self.save_total_limit >= 1, "training.save_total_limit",
               f"must be >= 1, got {self.save_total_limit}")
        _check(self.threads is None or self.threads >= 1, "training.threads",
               f"must be a positive number of threads, got {self.threads}")
        self.bf16 = str(self.bf16).lower()  # YAML `bf16: true` arrives as the string "True"
        _check(self.bf16 in ("auto", "true", "false"), "training.bf16",
               f"must be auto, true or false, got {self.bf16!r}")
        _check(self.save_dtype in ("float32", "float16", "bfloat16"), "training.save_dtype",
               f"must be float32, float16 or bfloat16, got {self.save_dtype!r}")
        _check(self.save_embeddings in ("same", "int8"), "training.save_embeddings",
               f"must be same or int8, got {self.save_embeddings!r}")


@dataclass
class RunConfig:
    """All settings of a training run."""

    name: str = "default"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    roles: RolesConfig = field(default_factory=RolesConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    # "section.key"s the YAML file or the overrides gave (set by load_config). With model.init_from, only
    # given model settings are checked against / applied to the saved model; None (a RunConfig built in
    # code) counts every key as given.
    given: frozenset[str] | None = field(default=None, compare=False, repr=False)

    def to_dict(self) -> dict:
        out = dataclasses.asdict(self)
        out.pop("given")
        return out

    def is_given(self, key: str) -> bool:
        """Whether ``key`` (``"model.dropout"``) was set by the YAML file or an override."""
        return self.given is None or key in self.given
