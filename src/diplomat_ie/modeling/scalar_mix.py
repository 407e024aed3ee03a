"""``model.scalar_mix``: the heads read a learned mix of the encoder's last N layers instead of its top one.

ELMo's scalar mix: ``gamma * sum_j softmax(w)_j * h_j`` over the hidden states ``h_j`` of the last N
layers. The weights start at zero (an even mix) and ``gamma`` at one; both train with the heads. Lower
layers of a small encoder keep more of the surface form (capitalisation, morphology) that the nested
inner entities need.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["ScalarMix", "check_scalar_mix"]


class ScalarMix(nn.Module):
    """``gamma * sum_j softmax(weights)_j * states[j]`` over ``n`` hidden-state tensors of one shape.

    Args:
        n: how many states are mixed (the encoder's last ``n`` hidden states, embeddings output included
            when ``n`` is the layer count + 1).
    """

    def __init__(self, n: int):
        super().__init__()
        if n < 2:
            raise ValueError(f"model.scalar_mix: a mix needs at least 2 layers, got {n}")
        self.n = n
        self.weights = nn.Parameter(torch.zeros(n))
        self.gamma = nn.Parameter(torch.ones(()))

    def forward(self, states: Sequence[torch.Tensor]) -> torch.Tensor:
        if len(states) != self.n:
            raise ValueError(f"model.scalar_mix: expected {self.n} hidden states, got {len(states)}")
        w = torch.softmax(self.weights.float(), 0).to(states[0].dtype)
        mixed = states[0] * w[0]
        for j in range(1, self.n):
            mixed = mixed + states[j] * w[j]
        return mixed * self.gamma.to(mixed.dtype)


def check_scalar_mix(n: int, encoder_layers: int, marker_layer: int | None) -> None:
    """Raise ValueError, naming the setting, when ``n`` last layers cannot be mixed for this model.

    Args:
        n: ``model.scalar_mix`` (0 or 1: off).
        encoder_layers: the encoder's ``num_hidden_layers`` (it has that many + 1 hidden states).
        marker_layer: ``roles.marker_layer`` (its per-trigger pass re-runs the top layers only: no mix).
    """
    if n <= 1:
        return
    if n > encoder_layers + 1:
        raise ValueError(f"model.scalar_mix: the encoder has {encoder_layers} layers, so at most "
                         f"{encoder_layers + 1} hidden states (embeddings included) can be mixed, got {n}")
    if marker_layer is not None:
        raise ValueError("model.scalar_mix does not combine with roles.marker_layer (the per-trigger pass "
                         "re-runs only the top layers); set one of them to null/0")
