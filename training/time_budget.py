# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Fit a whole training schedule into a wall-clock budget (``train.max_minutes``).

The run keeps its configured number of epochs (validation and checkpoint points);
what the budget decides is the number of steps in each epoch.  The learning-rate
schedule is laid over *progress* rather than steps: epoch ``e`` of ``E`` covers
progress ``e/E .. (e+1)/E`` whatever its step count, so the schedule (warm-up,
cosine to its floor) always runs to its end, and a re-planned or resumed epoch
continues it without a jump.

Before the first epoch the trainer measures a step (data loading, forward, backward;
no weight update) and the fixed costs of an epoch (loader start, validation,
checkpoint); before every epoch :meth:`TimeBudget.plan` shares the time left, less
a reserve for the end of the run (ONNX export), among the epochs left, using the
latest measurements.  A machine that slows down gets shorter epochs; one that is
faster than measured gets longer ones.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

from training.config import ScheduleConfig
from training.optim import lr_factor

#: Virtual steps per epoch on which the progress schedule is evaluated.
GRID = 1_000_000


def progress_lr_factor(epoch: int, step: int, steps: int, epochs: int,
                       sched: ScheduleConfig) -> float:
    """Learning-rate multiplier at ``step`` of ``steps`` in ``epoch`` of ``epochs``.

    The schedule of :func:`training.optim.lr_factor` evaluated at progress
    ``(epoch + step / steps) / epochs``: any step count per epoch gives the same curve.
    """
    return lr_factor(int(round((epoch + step / max(1, steps)) * GRID)), GRID, epochs, sched)


@dataclass
class TimeBudget:
    """Steps per epoch from a deadline and measured speeds.

    Attributes:
        seconds: the whole budget (from ``start``).
        epochs: epochs of the run.
        start: ``time.monotonic()`` when the budget started.
        reserve_s: time kept free after the last epoch (export, summary).
        max_steps: a cap on the steps of an epoch (``samples_per_epoch``), or ``None``.
        safety: the share of an epoch's time planned for its steps (the rest absorbs
            the noise of the measurements).
    """

    seconds: float
    epochs: int
    start: float = field(default_factory=time.monotonic)
    reserve_s: float = 0.0
    max_steps: int | None = None
    safety: float = 0.92
    step_s: float = math.nan  # latest measured seconds per step
    overhead_s: float = 0.0  # latest measured fixed cost of an epoch
    planned: list[int] = field(default_factory=list)  # steps planned for each epoch
    done: list[int] = field(default_factory=list)  # steps taken in each epoch
    steps_until: float = math.inf  # time.monotonic() by which the planned epoch's steps end
    cut_epochs: list[int] = field(default_factory=list)  # epochs stopped by the hard limit
    calibration: dict[str, float] = field(default_factory=dict)  # the first measurement

    @property
    def deadline(self) -> float:
        """``time.monotonic()`` at which the run must be over."""
        return self.start + self.seconds

    def left(self, now: float | None = None) -> float:
        """Seconds until the deadline."""
        return self.deadline - (time.monotonic() if now is None else now)

    def measured(self, step_s: float, overhead_s: float) -> None:
        """Record the latest speed: seconds per step and fixed seconds per epoch."""
        if step_s > 0 and math.isfinite(step_s):
            self.step_s = float(step_s)
        if overhead_s >= 0 and math.isfinite(overhead_s):
            self.overhead_s = float(overhead_s)

    def plan(self, epoch: int, now: float | None = None) -> int:
        """Steps for ``epoch``: its share of the time left, at the measured speed (>= 1).

        Also sets :attr:`steps_until`, the hard limit of the epoch's steps: the latest
        time that still leaves its own validation and checkpoint, one step and the fixed
        costs of every later epoch, and the reserve.  An epoch running past it (a
        machine that slowed down a lot) stops there (:meth:`overran`); one that is only
        slower than planned takes time from the later epochs, which are re-planned.
        """
        if not math.isfinite(self.step_s):
            raise RuntimeError("TimeBudget.plan needs a measured step time first")
        now = time.monotonic() if now is None else now
        per_epoch = (self.left(now) - self.reserve_s) / max(1, self.epochs - epoch)
        steps = int(self.safety * (per_epoch - self.overhead_s) / self.step_s)
        steps = max(1, steps if self.max_steps is None else min(self.max_steps, steps))
        self.planned.append(steps)
        later = max(0, self.epochs - epoch - 1)
        self.steps_until = (self.deadline - self.reserve_s - self.overhead_s
                            - later * (self.overhead_s + self.step_s))
        return steps

    def overran(self, epoch: int, now: float | None = None) -> bool:
        """Whether ``epoch`` must stop taking steps now (recorded in :attr:`cut_epochs`)."""
        if (time.monotonic() if now is None else now) <= self.steps_until:
            return False
        if epoch not in self.cut_epochs:
            self.cut_epochs.append(epoch)
        return True

    def summary(self) -> dict[str, Any]:
        """For ``summary.json``."""
        return {"max_minutes": self.seconds / 60.0, "epochs": self.epochs,
                "steps_planned": list(self.planned), "steps_done": list(self.done),
                "step_seconds": self.step_s,
                "epoch_overhead_seconds": self.overhead_s, "reserve_seconds": self.reserve_s,
                "calibration": dict(self.calibration),
                "cut_epochs": [e + 1 for e in self.cut_epochs]}
