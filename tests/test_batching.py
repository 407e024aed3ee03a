"""``length_batches``: windows grouped by length with bounded padding (pure function, table-driven)."""

from __future__ import annotations

import pytest

from diplomat_ie.modeling.runners import length_batches


@pytest.mark.parametrize(("lengths", "batch_size", "max_padding", "expected"), [
    ([], 4, 0.1, []),
    ([5], 4, 0.1, [[0]]),
    # sorted shortest first; the order of equal lengths is kept
    ([30, 10, 20, 10], 8, None, [[1, 3, 2, 0]]),
    ([30, 10, 20, 10], 2, None, [[1, 3], [2, 0]]),
    # 10, 10 then 20: padding 20 - 20 = 0 -> 2 * 10 pad over 40 real = 0.5 > 0.1 -> new batch
    ([10, 10, 20], 8, 0.1, [[0, 1], [2]]),
    ([10, 10, 20], 8, 0.5, [[0, 1, 2]]),
    # equal lengths never pad: only batch_size splits them
    ([7] * 5, 2, 0.0, [[0, 1], [2, 3], [4]]),
    # 100, 104, 108: padding (4 + 8) / 312 = 0.038 <= 0.05; adding 120: (20 + 16 + 12) / 432 = 0.11 > 0.05
    ([120, 100, 108, 104], 8, 0.05, [[1, 3, 2], [0]]),
])
def test_length_batches(lengths, batch_size, max_padding, expected):
    batches = length_batches(lengths, batch_size, max_padding)
    assert batches == expected
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))  # every item exactly once


def test_padding_bound_holds_on_random_lengths():
    import random

    rng = random.Random(0)
    lengths = [rng.randint(3, 160) for _ in range(500)]
    for b in length_batches(lengths, 32, 0.1):
        real = sum(lengths[i] for i in b)
        assert len(b) <= 32
        assert len(b) == 1 or max(lengths[i] for i in b) * len(b) - real <= 0.1 * real


def test_batch_size_must_be_positive():
    with pytest.raises(ValueError, match="batch_size must be >= 1, got 0"):
        length_batches([3, 4], 0)
