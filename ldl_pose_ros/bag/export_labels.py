# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The labels of ``ldl-pose bag export``.

Ground truth turned back into the network's crop-relative angles
(``core.placement.network_angles``), or the model's stable predictions
(:mod:`ldl_pose_ros.bag.pseudo_labels`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ldl_pose_ros.bag.metrics import match_face
from ldl_pose_ros.bag.pseudo_labels import (
    StabilityLimits,
    select_stable,
    temporal_jumps,
)
from ldl_pose_ros.bag.records import FrameRecord
from ldl_pose_ros.core.placement import network_angles

ANGLE_NAMES = ("yaw", "pitch", "roll")


@dataclass
class Candidate:
    """A detected face of an exported frame, before its label is decided."""

    frame: int
    face: int
    file: str
    box: np.ndarray  # in the saved image
    frame_box: np.ndarray  # in the bag's image
    score: float
    track_id: int
    angles: np.ndarray  # network output (weak perspective)
    stds: np.ndarray
    mirrored: np.ndarray | None  # network output on the mirrored image, mirrored back
    center_n: tuple[float, float]  # undistorted normalised coordinates of the box centre
    time_s: float  # since the first exported frame
    block: int
    label: np.ndarray | None = None
    weight: float = 0.0
    status: str = "no_label"
    mirror_deg: float | None = None
    jump_deg: float | None = None


def label_from_gt(frames: list[FrameRecord], candidates: list[Candidate],
                  match_max_deg: float) -> None:
    """The face matched to the true head in each frame gets the true pose (weight 1)."""
    by_frame: dict[int, list[Candidate]] = {}
    for c in candidates:
        by_frame.setdefault(c.frame, []).append(c)
    for rec in frames:
        cands = by_frame.get(rec.index, [])
        if not cands:
            continue
        if rec.gt is None:
            for c in cands:
                c.status = "no_ground_truth"
            continue
        k = match_face(rec.faces, rec.gt.t, match_max_deg)
        for c in cands:
            if c.face == k:
                c.label, c.weight, c.status = network_angles(rec.gt.R, c.center_n), 1.0, ""
            else:
                c.status = "not_the_true_head" if k is not None else "no_match"


def label_from_model(frames: list[FrameRecord], candidates: list[Candidate],
                     limits: StabilityLimits, label_angles: tuple[str, ...]) -> None:
    """Stable predictions become weighted pseudo-labels (``pseudo_labels``)."""
    cands = candidates
    if not cands:
        return
    stamps = {rec.index: rec.stamp_s if rec.stamp_ns > 0 else rec.log_time_ns * 1e-9
              for rec in frames}
    direct = np.stack([c.angles for c in cands])
    mirrored = np.stack([c.mirrored for c in cands])  # type: ignore[misc]
    label = (direct + mirrored) / 2
    diff = np.abs(direct - mirrored)
    jumps = temporal_jumps(np.array([stamps[c.frame] for c in cands]), label,
                           np.array([c.track_id for c in cands]), limits.max_gap_s)
    use = np.array([a in label_angles for a in ANGLE_NAMES])
    reason, weight = select_stable(np.stack([c.stds for c in cands]), diff, jumps, limits, use)
    for i, c in enumerate(cands):
        c.mirror_deg = float(diff[i, use].max())
        c.jump_deg = None if np.isnan(jumps[i, use]).any() else float(jumps[i, use].max())
        c.status = reason[i] or ""
        if not reason[i]:
            c.label, c.weight = label[i], float(weight[i])
