"""``save_model_dir`` killed between its two renames: the next save or load finishes (or undoes) the swap."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from diplomat_ie.modeling.configuration import DiplomatConfig
from diplomat_ie.modeling.io import build_model, load_model_dir, recover_interrupted_save, save_model_dir


class Killed(BaseException):
    """Stands for SIGKILL: nothing in the library catches it."""


def _model(backbone: Path, seed: int):
    import torch

    torch.manual_seed(seed)
    return build_model(DiplomatConfig(backbone_name=str(backbone), entity_types=["PERSON", "EVENT"], roles=["agent"],
                                      trigger_types=["EVENT"], num_layers=2, window_length=32, overlap=8))


def _same_weights(a, b) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(bool((sa[k] == sb[k]).all()) for k in sa)


def _kill_between_renames(monkeypatch, path: Path) -> None:
    """``os.replace`` works for ``path -> .NAME.old``, then the process 'dies' at the next rename."""
    real, moved = os.replace, []

    def replace(src, dst, *args, **kwargs):
        if moved:
            raise Killed(f"killed before {src} -> {dst}")
        real(src, dst, *args, **kwargs)
        if Path(src) == path:
            moved.append(dst)

    monkeypatch.setattr(os, "replace", replace)


@pytest.fixture()
def interrupted(tmp_path, tiny_backbone, monkeypatch):
    """``path`` holds model A; saving model B over it dies between the two renames."""
    path = tmp_path / "model"
    a, tok = _model(tiny_backbone, 0)
    b, _ = _model(tiny_backbone, 1)
    save_model_dir(a, tok, path)
    with monkeypatch.context() as mp:
        _kill_between_renames(mp, path)
        with pytest.raises(Killed):
            save_model_dir(b, tok, path, card="B")
    saving, old = tmp_path / ".model.saving", tmp_path / ".model.old"
    assert not path.exists() and saving.is_dir() and old.is_dir()  # the state a kill leaves
    return {"path": path, "a": a, "b": b, "tok": tok, "saving": saving, "old": old}


def _leftovers(st) -> list[str]:
    return [p.name for p in (st["saving"], st["old"]) if p.exists()]


def test_load_finishes_the_interrupted_save(interrupted):
    st = interrupted
    model, _ = load_model_dir(st["path"])
    assert _same_weights(model, st["b"]) and not _same_weights(model, st["a"])
    assert (st["path"] / "README.md").read_text() == "B"
    assert _leftovers(st) == []


def test_next_save_finishes_the_interrupted_one_then_saves(interrupted, tiny_backbone):
    st = interrupted
    c, _ = _model(tiny_backbone, 2)
    save_model_dir(c, st["tok"], st["path"], card="C")
    assert _leftovers(st) == []
    model, _ = load_model_dir(st["path"])
    assert _same_weights(model, c) and (st["path"] / "README.md").read_text() == "C"


def test_an_incomplete_new_save_is_rolled_back_to_the_previous_model(interrupted):
    st = interrupted
    (st["saving"] / "tokenizer.json").unlink()  # not what save_model_dir leaves, but never promote it
    assert recover_interrupted_save(st["path"]) is True
    model, _ = load_model_dir(st["path"])
    assert _same_weights(model, st["a"])


def test_recovery_leaves_normal_directories_alone(tmp_path, tiny_backbone):
    path = tmp_path / "model"
    assert recover_interrupted_save(path) is False  # nothing there
    (tmp_path / ".model.saving").mkdir()  # a first save killed while writing: no .old, nothing to promote
    assert recover_interrupted_save(path) is False and not path.exists()
    a, tok = _model(tiny_backbone, 0)
    save_model_dir(a, tok, path)
    (tmp_path / ".model.old").mkdir()  # killed after the second rename: the model is in place
    assert recover_interrupted_save(path) is False
    assert _same_weights(load_model_dir(path)[0], a)
