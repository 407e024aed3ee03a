"""model.freeze_layers (no gradients below the trained layers) and training.save_dtype (half-size model
directories that load as float32)."""

from __future__ import annotations

import pytest
import torch

from diplomat_ie.config import ConfigError, TrainingConfig
from diplomat_ie.modeling.configuration import DiplomatConfig
from diplomat_ie.modeling.io import build_model, load_model_dir, save_model_dir, stored_state_dict


def _model(backbone, **kw):
    cfg = DiplomatConfig(backbone_name=str(backbone), entity_types=["PER", "EVENT"], roles=["AGENT"],
                         trigger_types=["EVENT"], num_layers=1, window_length=32)
    return build_model(cfg, **kw)


def _loss(model, tok):
    ids = torch.tensor([tok("мир мир")["input_ids"]])
    out = model(input_ids=ids, attention_mask=torch.ones_like(ids), word_pos=torch.tensor([[1, 2]]),
                ner_labels=torch.zeros(1, 1, 2, dtype=torch.long))
    return out["loss"]


@pytest.mark.parametrize(("layers", "trained_layers"), [(0, [0, 1]), (1, [1]), (2, [])])
def test_freeze_layers_stops_gradients_below_the_trained_layers(tiny_backbone, layers, trained_layers):
    model, tok = _model(tiny_backbone, freeze_word_embeddings=False, freeze_layers=layers)
    _loss(model, tok).backward()
    stack = model.encoder.encoder.layer
    for i, layer in enumerate(stack):
        grads = [p.grad for p in layer.parameters()]
        if i in trained_layers:
            assert all(p.requires_grad for p in layer.parameters())
            assert any(g is not None and g.abs().sum() > 0 for g in grads), i
        else:
            assert not any(p.requires_grad for p in layer.parameters()) and all(g is None for g in grads), i
    emb_trained = layers == 0
    assert all(p.requires_grad == emb_trained for p in model.encoder.embeddings.parameters())
    assert model.heads.ner_head.weight.grad is not None  # the heads always train


def test_freeze_layers_beyond_the_encoder_is_a_config_error(tiny_backbone):
    with pytest.raises(ConfigError, match=r"model\.freeze_layers: 3 but the encoder has 2 layers"):
        _model(tiny_backbone, freeze_layers=3)


@pytest.mark.parametrize(("dtype", "torch_dtype", "stored"),
                         [("float16", torch.float16, "F16"), ("bfloat16", torch.bfloat16, "BF16")])
def test_half_storage_halves_the_weights_and_loads_as_float32(tiny_backbone, tmp_path, dtype, torch_dtype, stored):
    from safetensors import safe_open

    model, tok = _model(tiny_backbone)
    full = save_model_dir(model, tok, tmp_path / "full")
    half = save_model_dir(model, tok, tmp_path / "half", dtype=dtype)
    size = lambda d: (d / "model.safetensors").stat().st_size  # noqa: E731
    assert size(half) < 0.6 * size(full)
    with safe_open(str(half / "model.safetensors"), "pt") as f:
        assert {f.get_slice(k).get_dtype() for k in f.keys()} == {stored}
    loaded, _ = load_model_dir(half)
    ref = model.state_dict()
    for key, value in loaded.state_dict().items():
        assert value.dtype == torch.float32, key
        assert torch.equal(value, ref[key].to(torch_dtype).float()), key


def test_float16_storage_keeps_a_tensor_it_cannot_hold_in_float32(tiny_backbone):
    model, _ = _model(tiny_backbone)
    with torch.no_grad():
        model.heads.ner_head.bias[0] = 1e6
    state = stored_state_dict(model, "float16")
    assert state["heads.ner_head.bias"].dtype == torch.float32
    assert state["heads.ner_head.weight"].dtype == torch.float16


@pytest.mark.parametrize("bad", ["fp16", "half", "int8"])
def test_save_dtype_is_validated(bad):
    with pytest.raises(ConfigError, match="training.save_dtype"):
        TrainingConfig(save_dtype=bad)
