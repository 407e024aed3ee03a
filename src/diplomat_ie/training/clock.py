"""Training wall time summed over ``--resume``: each checkpoint carries the seconds spent up to it."""

from __future__ import annotations

import json
import time
from pathlib import Path

from transformers import TrainerCallback
from transformers.trainer_callback import ExportableState


class WallClock(TrainerCallback, ExportableState):
    """Counts training seconds across resumed runs.

    HF saves every ``ExportableState`` callback's :meth:`state` into the checkpoint's
    ``trainer_state.json`` (``stateful_callbacks``), so each checkpoint records the seconds trained up to
    it; :meth:`resuming` reads that record back. A checkpoint written before this callback existed holds
    no record: the count is then this process's seconds only, and ``known`` says so.
    """

    def __init__(self, seconds_before: float = 0.0, known: bool = True):
        self.seconds_before = seconds_before
        self.known = known
        self.start_epoch = 0.0
        self._t0 = time.time()

    @classmethod
    def resuming(cls, checkpoint: Path | None) -> WallClock:
        """A clock that continues the count of ``checkpoint`` (a fresh one when it is None)."""
        if checkpoint is None:
            return cls()
        states = json.loads((checkpoint / "trainer_state.json").read_text(encoding="utf-8"))
        saved = (states.get("stateful_callbacks") or {}).get(cls.__name__)
        if not isinstance(saved, dict):
            return cls(0.0, known=False)
        args = saved.get("args", {})
        return cls(float(args.get("seconds_before", 0.0)), known=bool(args.get("known", False)))

    def on_train_begin(self, args, state, control, **kwargs):
        self._t0 = time.time()
        self.start_epoch = float(state.epoch or 0.0)
        # a state resumed from an older checkpoint has no slot for this callback, and HF's save expects one
        state.stateful_callbacks.setdefault(type(self).__name__, self.state())

    def this_process(self) -> float:
        return time.time() - self._t0

    def total(self) -> float:
        return self.seconds_before + self.this_process()

    def state(self) -> dict:
        return {"args": {"seconds_before": round(self.total(), 1), "known": self.known}, "attributes": {}}
