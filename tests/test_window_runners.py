"""Window runners return :class:`WindowOutputs` and declare their padding (the ``WindowRunner`` protocol)."""

from __future__ import annotations

import pytest
import torch

from diplomat_ie.modeling.io import load_model_dir
from diplomat_ie.modeling.predict import Predictor
from diplomat_ie.modeling.runners import (
    WindowOutputs,
    WindowRunner,
    bf16_window_outputs,
    torch_window_outputs,
)


def _inputs(seq: int = 11) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    ids = torch.randint(5, 100, (2, seq), generator=torch.Generator().manual_seed(0))
    mask = torch.ones_like(ids)
    mask[1, seq - 3 :] = 0
    return ids, mask, torch.arange(1, 6).repeat(2, 1)


@pytest.mark.parametrize("name", ["plain", "marker"])
@pytest.mark.parametrize("factory", [torch_window_outputs, bf16_window_outputs])
def test_torch_runners_return_named_outputs(name, factory, v1):
    model, _ = load_model_dir(v1 / name)
    runner: WindowRunner = factory(model, pad_multiple=8)
    assert runner.pad_multiple == 8
    with torch.inference_mode():
        out = runner(*_inputs())
    assert isinstance(out, WindowOutputs)
    assert out.words.shape == (2, 5, 16) and out.words.dtype == torch.float32
    assert out.ner_logits.shape == (2, 5, model.config.num_layers * len(model.config.ner_labels))
    assert out.ner_logits.dtype == torch.float32
    if name == "plain":
        assert out.hidden_l is None and out.attention_mask is None
    else:  # padded from 11 to 16 subwords: hidden_l comes with the mask it was computed under
        assert out.hidden_l is not None and out.attention_mask is not None
        assert out.hidden_l.shape == (2, 16, 16) and out.hidden_l.dtype == torch.float32
        assert out.attention_mask.shape == (2, 16) and int(out.attention_mask[1].sum()) == 8


def test_padding_changes_no_output(v1):
    model, _ = load_model_dir(v1 / "marker")
    with torch.inference_mode():
        a = torch_window_outputs(model, pad_multiple=1)(*_inputs())
        b = torch_window_outputs(model, pad_multiple=8)(*_inputs())
    assert torch.allclose(a.words, b.words, atol=1e-5) and torch.allclose(a.ner_logits, b.ner_logits, atol=1e-5)


def test_a_heads_only_model_needs_a_runner(v1):
    from diplomat_ie.modeling.io import load_heads

    heads = load_heads(v1 / "plain")
    _, tok = load_model_dir(v1 / "plain")
    with pytest.raises(ValueError, match="needs a window_fn"):
        Predictor(heads, tok)
