"""``local_threads_borrowed``: rank 0 takes the threads of this machine's waiting ranks while it scores dev."""

from __future__ import annotations

import pytest
import torch

from diplomat_ie.training.distributed import local_threads_borrowed


@pytest.mark.parametrize(
    ("env", "factor"),
    [
        ({}, 1),                                                      # no launcher: one process
        ({"RANK": "0", "WORLD_SIZE": "2", "LOCAL_WORLD_SIZE": "2"}, 2),  # rank 0 of 2 on this machine
        ({"RANK": "1", "WORLD_SIZE": "2", "LOCAL_WORLD_SIZE": "2"}, 1),  # the waiting rank keeps its own
        ({"RANK": "0", "WORLD_SIZE": "4", "LOCAL_WORLD_SIZE": "2"}, 2),  # 2 nodes x 2: only local ranks count
        ({"RANK": "0", "WORLD_SIZE": "3"}, 3),                        # no LOCAL_WORLD_SIZE: WORLD_SIZE
    ],
)
def test_threads_inside_and_restored(monkeypatch, env, factor):
    for key in ("RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with local_threads_borrowed():
            inside = torch.get_num_threads()
        assert inside == factor
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_restored_after_an_error(monkeypatch):
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with pytest.raises(ValueError), local_threads_borrowed():
            raise ValueError("scoring failed")
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
