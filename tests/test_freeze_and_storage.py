"""model.freeze_layers (no gradients below the trained layers) and training.save_dtype (half-size model
directories that load as float32)."""

from __future__ import annotations

import pytest
import torch
from conftest import TINY_LAYERS

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


@pytest.mark.parametrize("layers", [0, 1, TINY_LAYERS - 1, TINY_LAYERS])
def test_freeze_layers_stops_gradients_below_the_trained_layers(tiny_backbone, layers):
    trained_layers = list(range(layers, TINY_LAYERS))
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
    n = TINY_LAYERS
    with pytest.raises(ConfigError, match=rf"model\.freeze_layers: {n + 1} but the encoder has {n} layers"):
        _model(tiny_backbone, freeze_layers=n + 1)


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


@pytest.mark.parametrize("row, q, scale", [
    ([0.0, 0.0, 0.0], [0, 0, 0], 1.0),  # an all-zero row stays zero (scale 1, not 0)
    ([1.27, -0.635, 0.0], [127, -64, 0], 0.01),  # -63.5 rounds half to even: -64
    ([-2.54, 0.02, 2.54], [-127, 1, 127], 0.02),
    ([5.0, 5.0, 5.0], [127, 127, 127], 5.0 / 127),
])
def test_quantize_rows_table(row, q, scale):
    from diplomat_ie.modeling.storage import quantize_rows

    got_q, got_s = quantize_rows(torch.tensor([row]))
    assert got_q.dtype == torch.int8 and got_q.tolist() == [q]
    assert got_s.shape == (1, 1) and got_s.item() == pytest.approx(scale, rel=1e-6)


def test_int8_rows_are_within_half_a_step_of_the_weights():
    from hypothesis import given, settings
    from hypothesis import strategies as st
    from hypothesis.extra.numpy import arrays

    from diplomat_ie.modeling.storage import quantize_rows

    floats = st.floats(-10, 10, width=32, allow_nan=False, allow_subnormal=False)

    @settings(max_examples=200, deadline=None)
    @given(arrays("float32", st.tuples(st.integers(1, 6), st.integers(1, 9)), elements=floats))
    def check(w):
        weight = torch.from_numpy(w)
        q, s = quantize_rows(weight)
        assert (q.float() * s - weight).abs().le(s / 2 + 1e-6).all()
        assert q.abs().max() <= 127

    check()


def test_int8_embeddings_store_a_byte_a_weight_and_load_as_float32(tiny_backbone, tmp_path):
    from safetensors import safe_open

    from diplomat_ie.inference import Extractor
    from diplomat_ie.modeling.io import load_heads
    from diplomat_ie.modeling.storage import EMBEDDING_KEY, SCALE_SUFFIX

    model, tok = _model(tiny_backbone)
    with torch.no_grad():
        model.heads.ner_head.weight.mul_(40.0)  # predictions that are not all O
    half = save_model_dir(model, tok, tmp_path / "half", dtype="float16")
    small = save_model_dir(model, tok, tmp_path / "int8", dtype="float16", embeddings="int8")
    with safe_open(str(small / "model.safetensors"), "pt") as f:
        assert f.get_slice(EMBEDDING_KEY).get_dtype() == "I8"
        assert f.get_slice(EMBEDDING_KEY + SCALE_SUFFIX).get_dtype() == "F32"
    emb = model.encoder.embeddings.word_embeddings.weight
    saved = lambda d: (d / "model.safetensors").stat().st_size  # noqa: E731
    assert saved(half) - saved(small) >= emb.numel() - 4 * emb.size(0) - 1024  # 2 bytes -> 1 (+ the scales)
    loaded, _ = load_model_dir(small)
    got = loaded.encoder.embeddings.word_embeddings.weight
    step = emb.detach().abs().amax(1, keepdim=True) / 127
    assert got.dtype == torch.float32 and (got - emb.detach()).abs().le(step / 2 + 1e-6).all()
    half_state = load_model_dir(half)[0].state_dict()
    for key, value in loaded.state_dict().items():  # everything else as float16 storage gives it
        if key != EMBEDDING_KEY:
            assert torch.equal(value, half_state[key]), key
    assert load_heads(small).ner_head.weight.shape == model.heads.ner_head.weight.shape  # the ONNX side
    texts = ["Президент Франции посетил Москву.", "Лавров провёл переговоры в Астане."]
    a, b = Extractor.from_pretrained(half)(texts), Extractor.from_pretrained(small)(texts)
    assert sum(len(r.entities) for r in a) > 0
    assert [[(e.start, e.end) for e in r.entities] for r in b] == [[(e.start, e.end) for e in r.entities] for r in a]


def test_a_broken_int8_matrix_is_a_clear_load_error(tiny_backbone, tmp_path):
    from safetensors.torch import load_file, save_file

    from diplomat_ie.modeling.io import ModelLoadError
    from diplomat_ie.modeling.storage import EMBEDDING_KEY, SCALE_SUFFIX

    model, tok = _model(tiny_backbone)
    small = save_model_dir(model, tok, tmp_path / "int8", embeddings="int8")
    state = load_file(str(small / "model.safetensors"))
    state[EMBEDDING_KEY + SCALE_SUFFIX] = state[EMBEDDING_KEY + SCALE_SUFFIX][:3]
    save_file(state, str(small / "model.safetensors"), metadata={"format": "pt"})
    with pytest.raises(ModelLoadError, match=r"int8.*\[3, 1\]"):
        load_model_dir(small)


@pytest.mark.parametrize("bad", ["float16", "int4", ""])
def test_save_embeddings_is_validated(bad):
    with pytest.raises(ConfigError, match="training.save_embeddings: must be same or int8"):
        TrainingConfig(save_embeddings=bad)
