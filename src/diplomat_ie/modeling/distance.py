"""Bucketed signed word distances to a trigger span, shared by the BIO and the pair role heads."""

from __future__ import annotations

import math

import torch


def distance_buckets(word_idx: torch.Tensor, trig_lo: torch.Tensor, trig_hi: torch.Tensor,
                     max_distance: int) -> torch.Tensor:
    """Bucket ids of the signed word distance to a trigger span (0 = inside the trigger).

    Args:
        word_idx: ``[W]`` word indices; trig_lo/trig_hi: ``[..., 1]`` trigger word spans.

    Returns:
        ``[..., W]`` ids in ``[0, 2 * n_buckets]`` (log-spaced beyond 8 words).
    """
    before = (trig_lo - word_idx).clamp(min=0)
    after = (word_idx - (trig_hi - 1)).clamp(min=0)
    dist = after - before  # negative: before the trigger
    mag = dist.abs().clamp(max=max_distance).float()
    exact = 8
    log_b = exact + (torch.log(mag.clamp(min=1) / exact) / math.log(max_distance / exact) * 7).floor()
    bucket = torch.where(mag < exact, mag, log_b.clamp(max=exact + 7)).long()
    return torch.where(dist < 0, bucket + exact + 8, bucket)
