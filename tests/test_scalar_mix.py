"""``model.scalar_mix``: the heads read a learned mix of the encoder's last N hidden states."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
from test_batch_predict import TEXTS, train_tiny_model

from diplomat_ie.inference import Extractor
from diplomat_ie.modeling.configuration import DiplomatConfig
from diplomat_ie.modeling.io import load_model_dir
from diplomat_ie.modeling.model import DiplomatModel
from diplomat_ie.modeling.scalar_mix import ScalarMix, check_scalar_mix

ENCODER = {"model_type": "bert", "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
           "intermediate_size": 64, "vocab_size": 50}


@pytest.mark.parametrize("weights, gamma, expected", [
    ([0.0, 0.0], 1.0, [2.0, 3.0]),  # the start: an even mix
    ([0.0, 0.0], 2.0, [4.0, 6.0]),  # gamma scales it
    ([50.0, 0.0], 1.0, [1.0, 2.0]),  # softmax all on the first state
    ([0.0, 50.0], 0.5, [1.5, 2.0]),
    ([0.0, float(torch.log(torch.tensor(3.0)))], 1.0, [2.5, 3.5]),  # weights 1/4, 3/4
])
def test_mix_is_gamma_times_softmax_weighted_sum(weights, gamma, expected):
    mix = ScalarMix(2)
    with torch.no_grad():
        mix.weights.copy_(torch.tensor(weights))
        mix.gamma.fill_(gamma)
    states = [torch.tensor([1.0, 2.0]), torch.tensor([3.0, 4.0])]
    assert torch.allclose(mix(states), torch.tensor(expected), atol=1e-5)


def test_mix_needs_two_states_and_the_declared_count():
    with pytest.raises(ValueError, match="at least 2 layers, got 1"):
        ScalarMix(1)
    with pytest.raises(ValueError, match="expected 3 hidden states, got 2"):
        ScalarMix(3)([torch.zeros(2), torch.zeros(2)])


@pytest.mark.parametrize("n, layers, marker, error", [
    (0, 12, None, None),
    (0, 12, 3, None),  # off: any marker layer
    (4, 12, None, None),
    (13, 12, None, None),  # the embeddings output + 12 layers
    (14, 12, None, r"12 layers, so at most 13 hidden states .* got 14"),
    (4, 12, 6, r"does not combine with roles\.marker_layer"),
])
def test_check_scalar_mix(n, layers, marker, error):
    if error is None:
        check_scalar_mix(n, layers, marker)
    else:
        with pytest.raises(ValueError, match=error):
            check_scalar_mix(n, layers, marker)


def _model(**kw) -> DiplomatModel:
    torch.manual_seed(0)
    return DiplomatModel(DiplomatConfig(encoder=ENCODER, entity_types=["PERSON", "EVENT"], roles=["agent"],
                                        **{"role_head": "pair", **kw})).eval()


def test_window_states_are_the_mix_of_the_last_hidden_states():
    model = _model(scalar_mix=3)
    with torch.no_grad():
        model.heads.scalar_mix.weights.copy_(torch.tensor([0.3, -0.2, 0.5]))
        model.heads.scalar_mix.gamma.fill_(1.7)
    ids = torch.tensor([[2, 7, 9, 11, 3], [2, 8, 3, 0, 0]])
    mask = (ids != 0).long()
    pos = torch.tensor([[1, 2, 3], [1, 2, 2]])
    with torch.no_grad():
        words, _ = model.window_states(ids, mask, pos)
        hs = model.encoder(input_ids=ids, attention_mask=mask, output_hidden_states=True).hidden_states
    w = torch.softmax(torch.tensor([0.3, -0.2, 0.5]), 0)
    mixed = 1.7 * (w[0] * hs[0] + w[1] * hs[1] + w[2] * hs[2])
    assert len(hs) == 3  # embeddings + 2 layers: all of them mixed
    assert torch.allclose(words, torch.gather(mixed, 1, pos[..., None].expand(-1, -1, 32)), atol=1e-5)
    assert not torch.allclose(words, torch.gather(hs[-1], 1, pos[..., None].expand(-1, -1, 32)), atol=1e-3)


def test_model_without_the_setting_reads_the_top_layer():
    model = _model()
    assert model.heads.scalar_mix is None and not any("scalar_mix" in k for k in model.state_dict())
    assert DiplomatConfig.from_dict({"encoder": ENCODER}).scalar_mix == 0  # config.json from before it


def test_model_refuses_a_mix_it_cannot_build():
    with pytest.raises(ValueError, match="at most 3 hidden states"):
        _model(scalar_mix=4)
    with pytest.raises(ValueError, match="roles.marker_layer"):
        _model(scalar_mix=2, role_marker_layer=1, role_head="bio")
    with pytest.raises(ValueError, match="roles.marker_layer"):
        _model(scalar_mix=2, role_head="bio").enable_role_marker(1)


@pytest.fixture(scope="module")
def mix_model(tmp_path_factory, tiny_backbone) -> Path:
    from diplomat_ie.cli import main

    tmp = tmp_path_factory.mktemp("mix")
    cwd = os.getcwd()
    os.chdir(tmp)
    try:
        model = train_tiny_model(tmp, tiny_backbone, **{"model.scalar_mix": "3"})
    finally:
        os.chdir(cwd)
    assert main(["export", "onnx", "--model", str(model), "--int8"]) == 0
    return model


def test_trained_mix_is_saved_loaded_and_exported(mix_model):
    cfg = json.loads((mix_model / "config.json").read_text())
    assert cfg["scalar_mix"] == 3
    model, _ = load_model_dir(mix_model)
    mix = model.heads.scalar_mix
    assert mix is not None and mix.weights.shape == (3,)
    # training moved the mix away from its even start
    assert not torch.allclose(mix.weights, torch.zeros(3)) or float(mix.gamma) != 1.0
    assert "| scalar mix of the last encoder layers (0: top only) | `model.scalar_mix` |" in \
        (mix_model / "README.md").read_text(encoding="utf-8")
    record = json.loads((mix_model / "onnx/export.json").read_text())
    assert record["max_abs_diff_fp32"] < 1e-4
    ref = Extractor.from_pretrained(mix_model)(TEXTS)
    got = Extractor.from_pretrained(mix_model, backend="onnx")(TEXTS)
    assert [r.to_dict() for r in got] == [r.to_dict() for r in ref]
