# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Time blocks of a recording and a train/validation split that keeps neighbours together.

Consecutive frames of a recording are nearly the same picture; a split that puts
one frame in training and the next in validation measures memory, not
generalisation.  ``ldl-pose bag export`` therefore cuts the recording into
blocks of ``block_s`` seconds (from the first exported frame), assigns whole
blocks to validation (a seeded choice of ``val_fraction`` of them), and marks as
``guard`` every face that lies within ``guard_s`` of a face on the other side,
so that no two faces closer in time than ``guard_s`` end up on different sides.
"""

from __future__ import annotations

import random

import numpy as np

TRAIN, VAL, GUARD = "train", "val", "guard"


def block_index(seconds: np.ndarray | float, block_s: float) -> np.ndarray:
    """Block of each time given in seconds since the recording's first exported frame."""
    if block_s <= 0:
        raise ValueError("block length must be > 0")
    return np.floor(np.asarray(seconds, dtype=np.float64) / block_s).astype(np.int64)


def choose_val_blocks(blocks: np.ndarray, val_fraction: float, seed: int) -> set[int]:
    """A seeded ``val_fraction`` of the distinct blocks (at least one, never all of them)."""
    if not 0 <= val_fraction < 1:
        raise ValueError("the validation fraction must be in [0, 1)")
    ids = sorted({int(b) for b in blocks})
    if val_fraction == 0 or len(ids) < 2:
        return set()
    random.Random(seed).shuffle(ids)
    n = min(len(ids) - 1, max(1, int(round(val_fraction * len(ids)))))
    return set(ids[:n])


def guarded_split(times_s: np.ndarray, blocks: np.ndarray, val_blocks: set[int],
                  guard_s: float) -> np.ndarray:
    """``train``/``val``/``guard`` per face (module docstring)."""
    t = np.asarray(times_s, dtype=np.float64)
    is_val = np.isin(np.asarray(blocks), sorted(val_blocks))
    side = np.where(is_val, VAL, TRAIN).astype(object)
    if guard_s <= 0 or not is_val.any() or is_val.all():
        return side
    for mine, other in ((is_val, ~is_val), (~is_val, is_val)):
        ot = np.sort(t[other])
        idx = np.flatnonzero(mine)
        lo = np.searchsorted(ot, t[idx] - guard_s, side="left")
        hi = np.searchsorted(ot, t[idx] + guard_s, side="right")
        side[idx[hi > lo]] = GUARD
    return side
