"""``training.layer_lr_decay``: encoder learning rates that shrink layer by layer towards the embeddings."""

from __future__ import annotations

import pytest
from conftest import TINY_LAYERS
from transformers import TrainingArguments

from diplomat_ie.training.trainer import DiplomatTrainer, layer_lr_scale

# (parameter name, layers, decay, expected factor)
CASES = [
    ("encoder.encoder.layer.11.output.dense.weight", 12, 0.8, 1.0),
    ("encoder.encoder.layer.10.attention.self.query.weight", 12, 0.8, 0.8),
    ("encoder.encoder.layer.0.output.LayerNorm.bias", 12, 0.5, 0.5 ** 11),
    ("encoder.embeddings.position_embeddings.weight", 12, 0.5, 0.5 ** 12),
    ("encoder.embeddings.LayerNorm.weight", 2, 0.9, 0.81),
    ("encoder.pooler.dense.weight", 12, 0.5, 1.0),
    ("encoder.encoder.layer.0.output.dense.weight", 12, 1.0, 1.0),
    ("encoder.layers.3.mlp.weight", 4, 0.5, 1.0),  # "layers.N" naming (other encoder families)
]


@pytest.mark.parametrize("name, layers, decay, expected", CASES, ids=[c[0] for c in CASES])
def test_layer_lr_scale(name, layers, decay, expected):
    assert layer_lr_scale(name, layers, decay) == pytest.approx(expected)


def _groups(tiny_backbone, tmp_path, decay: float, role_head_lr: float | None = None) -> list[dict]:
    from diplomat_ie.modeling.configuration import DiplomatConfig
    from diplomat_ie.modeling.io import build_model

    cfg = DiplomatConfig(entity_types=["PERSON", "EVENT"], window_length=64, roles=["agent"],
                         backbone_name=str(tiny_backbone))
    model, _ = build_model(cfg, freeze_word_embeddings=True)
    args = TrainingArguments(output_dir=str(tmp_path), weight_decay=0.01, report_to=[], use_cpu=True)
    trainer = DiplomatTrainer(model=model, args=args, encoder_lr=1e-4, head_lr=1e-3, layer_lr_decay=decay,
                              role_head_lr=role_head_lr)
    names = {id(p): n for n, p in model.named_parameters()}
    return [{"lr": g["lr"], "weight_decay": g["weight_decay"], "names": [names[id(p)] for p in g["params"]]}
            for g in trainer.create_optimizer().param_groups]


def test_without_decay_the_four_groups_of_older_checkpoints(tiny_backbone, tmp_path):
    groups = _groups(tiny_backbone, tmp_path, 1.0)
    assert [(g["lr"], g["weight_decay"]) for g in groups] == [(1e-4, 0.01), (1e-4, 0.0), (1e-3, 0.01), (1e-3, 0.0)]
    assert all(n.startswith("encoder.") for g in groups[:2] for n in g["names"])
    assert not any(n.startswith("encoder.") for g in groups[2:] for n in g["names"])
    assert not any("word_embeddings" in n for g in groups for n in g["names"])  # frozen: not optimised


def test_decay_gives_each_layer_its_rate(tiny_backbone, tmp_path):
    groups = _groups(tiny_backbone, tmp_path, 0.5)
    rate = {n: g["lr"] for g in groups for n in g["names"]}
    for i in range(TINY_LAYERS):  # the top layer gets the encoder rate, each one below half of it
        expected = 1e-4 * 0.5 ** (TINY_LAYERS - 1 - i)
        assert rate[f"encoder.encoder.layer.{i}.output.dense.weight"] == pytest.approx(expected)
    assert rate["encoder.embeddings.position_embeddings.weight"] == pytest.approx(1e-4 * 0.5 ** TINY_LAYERS)
    assert all(r == pytest.approx(1e-3) for n, r in rate.items() if not n.startswith("encoder."))
    # encoder groups first, decayed before not, as without decay
    enc = [g["names"][0].startswith("encoder.") for g in groups]
    assert enc == sorted(enc, reverse=True)


def test_role_head_lr_gives_the_role_head_its_own_rate(tiny_backbone, tmp_path):
    groups = _groups(tiny_backbone, tmp_path, 1.0, role_head_lr=4e-3)
    rate = {n: g["lr"] for g in groups for n in g["names"]}
    role = [n for n in rate if n.startswith("heads.role_head.")]
    assert role and all(rate[n] == pytest.approx(4e-3) for n in role)
    others = [n for n in rate if not n.startswith(("encoder.", "heads.role_head."))]
    assert others and all(rate[n] == pytest.approx(1e-3) for n in others)
    assert all(rate[n] == pytest.approx(1e-4) for n in rate if n.startswith("encoder."))
    # unset: the role head trains at head_lr, in the four groups of older checkpoints
    assert len(_groups(tiny_backbone, tmp_path, 1.0, role_head_lr=None)) == 4
