# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Which of the model's own predictions are stable enough to train on, and how much.

``ldl-pose bag export`` without ground truth labels each face with the model's
prediction, kept only where three independent signs say it is reliable:

* **small spread**: every angle's predicted standard deviation (the width of
  the label distribution) is at most ``max_std_deg``;
* **mirror agreement**: the prediction on the horizontally mirrored image,
  mirrored back (yaw and roll negated), differs from the direct one by at most
  ``max_mirror_deg`` in every angle; the label is the mean of the two;
* **smooth in time**: along the face's track, the angles differ by at most
  ``max_jump_deg`` from the linear interpolation between the previous and the
  next sample of the track (each at most ``max_gap_s`` away).  A face without a
  neighbour on both sides cannot be checked and is dropped unless
  ``allow_isolated``.

A kept face is weighted by an inverse-variance confidence
``min(1, ref^2 / (std^2 + (mirror/2)^2 + jump^2))`` with the three terms
averaged over the angles and ``ref = weight_ref_deg``.  All angles in degrees.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ldl_pose_ros.core.geometry import flip_euler

#: Reasons a face is not exported, in the order they are checked.
REASONS = ("spread", "mirror", "isolated", "jump")


@dataclass(frozen=True)
class StabilityLimits:
    """Thresholds of :func:`select_stable` (see the module docstring)."""

    max_std_deg: float = 12.0
    max_mirror_deg: float = 8.0
    max_jump_deg: float = 10.0
    max_gap_s: float = 1.0
    allow_isolated: bool = False
    weight_ref_deg: float = 4.0

    def __post_init__(self) -> None:
        for name in ("max_std_deg", "max_mirror_deg", "max_jump_deg", "max_gap_s",
                     "weight_ref_deg"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")


def unmirror(angles: np.ndarray) -> np.ndarray:
    """Angles predicted on a mirrored image, in the original image (yaw, roll negated)."""
    a = np.asarray(angles, dtype=np.float64)
    return np.stack(flip_euler(a[..., 0], a[..., 1], a[..., 2]), axis=-1)


def temporal_jumps(times_s: np.ndarray, angles: np.ndarray, tracks: np.ndarray,
                   max_gap_s: float) -> np.ndarray:
    """Per face and angle: distance from the interpolation of its track neighbours.

    ``times_s`` ``(N,)``, ``angles`` ``(N, 3)``, ``tracks`` ``(N,)`` track ids.
    NaN where the track has no sample within ``max_gap_s`` before or after.
    """
    t = np.asarray(times_s, dtype=np.float64)
    a = np.asarray(angles, dtype=np.float64)
    out = np.full(a.shape, np.nan)
    for tid in np.unique(tracks):
        idx = np.flatnonzero(tracks == tid)
        idx = idx[np.argsort(t[idx], kind="stable")]
        for j in range(1, len(idx) - 1):
            p, i, n = idx[j - 1], idx[j], idx[j + 1]
            if not (0 < t[i] - t[p] <= max_gap_s and 0 < t[n] - t[i] <= max_gap_s):
                continue
            w = (t[i] - t[p]) / (t[n] - t[p])
            out[i] = np.abs(a[i] - ((1 - w) * a[p] + w * a[n]))
    return out


def select_stable(stds: np.ndarray, mirror_diff: np.ndarray, jumps: np.ndarray,
                  limits: StabilityLimits, angles: np.ndarray | None = None
                  ) -> tuple[np.ndarray, np.ndarray]:
    """``(reason, weight)`` per face: reason ``""`` for a kept face, else one of :data:`REASONS`.

    All inputs are ``(N, 3)`` degrees (``jumps`` NaN where not checkable); only the
    angles selected by the boolean ``angles`` ``(3,)`` (default: all) are checked
    and weighed -- those that will be labelled.
    """
    use = np.ones(3, dtype=bool) if angles is None else np.asarray(angles, dtype=bool)
    s = np.asarray(stds, dtype=np.float64)[:, use]
    m = np.asarray(mirror_diff, dtype=np.float64)[:, use]
    j = np.asarray(jumps, dtype=np.float64)[:, use]
    reason = np.full(len(s), "", dtype=object)
    isolated = np.isnan(j).any(axis=1)
    checks = [
        ("spread", s.max(axis=1) > limits.max_std_deg),
        ("mirror", m.max(axis=1) > limits.max_mirror_deg),
        ("isolated", isolated & (not limits.allow_isolated)),
        ("jump", ~isolated & (np.nan_to_num(j).max(axis=1) > limits.max_jump_deg)),
    ]
    for name, bad in checks:
        reason[(reason == "") & bad] = name
    var = (s**2).mean(axis=1) + ((m / 2) ** 2).mean(axis=1) + (np.nan_to_num(j) ** 2).mean(axis=1)
    weight = np.minimum(1.0, limits.weight_ref_deg**2 / np.maximum(var, 1e-9))
    return reason, np.where(reason == "", weight, 0.0)
