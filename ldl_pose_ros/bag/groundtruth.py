# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Ground-truth head poses from a bag, expressed in the camera optical frame.

Sources
    * a ``geometry_msgs/PoseStamped`` topic: the pose of the head's REP-155 face
      frame (x out of the face, y to its left, z to the scalp; the frame the node
      publishes as ``face_<id>``) in the frame named by its header;
    * a TF frame (``--gt-frame``), e.g. the head rigid body of a motion-capture
      system on ``/tf`` (``/tf_static`` edges are constant): its pose in the root of
      its TF tree, or directly in the image's frame when both are in one tree.  The
      rigid body's axes must be those of the REP-155 face frame; a constant
      mismatch is absorbed by ``--align-frames`` (below).

Time
    A ground-truth pose is taken at the image's header stamp: the sample with
    that exact stamp, else linear (position) and spherical (rotation)
    interpolation between the samples around it when they are at most
    ``max_gap_s`` apart; otherwise the frame has no ground truth.

Camera-to-mocap transform
    When the ground truth is in another frame than the images (``mocap``, say),
    ``T_cam_mocap`` -- the pose of that frame in the camera optical frame,
    ``p_cam = R p_mocap + t``, as ``static_transform_publisher x y z qx qy qz qw
    <camera_optical_frame> mocap`` would publish it -- is either given
    (``--camera-to-mocap x,y,z,qx,qy,qz,qw``) or estimated from the first N frames
    that have both ground truth and a predicted face (``--align-frames N``):
    ``R`` is the chordal L2 mean of ``R_pred_i R_gt_i^T`` (the SVD projection of
    their sum onto SO(3)) and ``t`` the mean of ``p_pred_i - R p_gt_i``.  The
    estimate absorbs any constant rotation between the rigid body and the face
    frame and the model's mean error over those frames, so those frames are left
    out of the metrics.  Positions from the nominal face size are rough; they only
    serve to match faces, not as metrics.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from ldl_pose_ros.core import geometry

#: Largest gap between two ground-truth samples interpolated across (seconds).
DEFAULT_MAX_GAP_S = 0.1
_EXACT_S = 1e-6


class GroundTruthError(ValueError):
    """Ground truth that cannot be used as asked (missing frame, bad transform, ...)."""


@dataclass(frozen=True)
class Pose:
    """A rigid transform: rotation ``R`` (3x3) and translation ``t`` (3,)."""

    R: np.ndarray
    t: np.ndarray

    @staticmethod
    def identity() -> Pose:
        """The identity transform."""
        return Pose(np.eye(3), np.zeros(3))

    @staticmethod
    def from_quaternion(t: npt.ArrayLike, q: npt.ArrayLike) -> Pose:
        """From a translation and a quaternion ``(x, y, z, w)``."""
        return Pose(geometry.quaternion_to_matrix(np.asarray(q, dtype=np.float64)),
                    np.asarray(t, dtype=np.float64).reshape(3))

    def __matmul__(self, other: Pose) -> Pose:
        return Pose(self.R @ other.R, self.R @ other.t + self.t)

    def inverse(self) -> Pose:
        """The inverse transform."""
        return Pose(self.R.T, -self.R.T @ self.t)

    @property
    def quaternion(self) -> np.ndarray:
        """``(x, y, z, w)`` of ``R``."""
        return geometry.matrix_to_quaternion(self.R)


#: Largest |length^2 - 1| of a quaternion that is used (tf2 refuses the same).
QUATERNION_TOLERANCE = 0.01


def pose_problem(t: npt.ArrayLike, q: npt.ArrayLike) -> str | None:
    """Why a pose (translation, quaternion x, y, z, w) from a message is unusable, or None.

    Unusable: non-finite values, or a quaternion that is not of unit length within
    :data:`QUATERNION_TOLERANCE` (as tf2 refuses it: a near-zero quaternion has no
    rotation).
    """
    tt, qq = np.asarray(t, dtype=np.float64), np.asarray(q, dtype=np.float64)
    if not (np.all(np.isfinite(tt)) and np.all(np.isfinite(qq))):
        return "non-finite position or orientation"
    with np.errstate(over="ignore"):
        n2 = float(np.dot(qq, qq))
    if not abs(n2 - 1.0) <= QUATERNION_TOLERANCE:
        return f"quaternion of length {np.sqrt(n2):.3g} is not a unit quaternion"
    return None


def parse_transform(text: str) -> Pose:
    """Parse ``x,y,z,qx,qy,qz,qw`` (metres, unit quaternion) into a :class:`Pose`."""
    try:
        vals = [float(v) for v in text.replace(" ", "").split(",")]
    except ValueError as exc:
        raise GroundTruthError(f"transform {text!r}: expected x,y,z,qx,qy,qz,qw numbers") from exc
    if len(vals) != 7 or not np.all(np.isfinite(vals)):
        raise GroundTruthError(f"transform {text!r}: expected 7 finite numbers "
                               "x,y,z,qx,qy,qz,qw")
    q = np.array(vals[3:])
    n = float(np.linalg.norm(q))
    if not 0.9 < n < 1.1:
        raise GroundTruthError(f"transform {text!r}: quaternion norm {n:.3f} is not 1")
    return Pose.from_quaternion(vals[:3], q / n)


@dataclass
class PoseSeries:
    """Poses over time (stamps in seconds), looked up with interpolation."""

    stamps: list[float] = field(default_factory=list)
    poses: list[Pose] = field(default_factory=list)
    _sorted: bool = True

    def add(self, stamp_s: float, pose: Pose) -> None:
        """Append one sample."""
        if self.stamps and stamp_s < self.stamps[-1]:
            self._sorted = False
        self.stamps.append(float(stamp_s))
        self.poses.append(pose)

    def _sort(self) -> None:
        if not self._sorted:
            order = np.argsort(self.stamps, kind="stable")
            self.stamps = [self.stamps[i] for i in order]
            self.poses = [self.poses[i] for i in order]
            self._sorted = True

    def __len__(self) -> int:
        return len(self.stamps)

    def at(self, stamp_s: float, max_gap_s: float = DEFAULT_MAX_GAP_S) -> Pose | None:
        """Pose at ``stamp_s``: exact sample or interpolation across a gap <= ``max_gap_s``."""
        self._sort()
        if not self.stamps:
            return None
        s = np.asarray(self.stamps)
        i = int(np.searchsorted(s, stamp_s))
        for j in (i - 1, i):
            if 0 <= j < len(s) and abs(s[j] - stamp_s) <= _EXACT_S:
                return self.poses[j]
        if i == 0 or i == len(s):
            return None
        t0, t1 = s[i - 1], s[i]
        if t1 - t0 > max_gap_s:
            return None
        a = (stamp_s - t0) / (t1 - t0)
        p0, p1 = self.poses[i - 1], self.poses[i]
        q = geometry.slerp(p0.quaternion, p1.quaternion, a)
        return Pose(geometry.quaternion_to_matrix(q), (1 - a) * p0.t + a * p1.t)


class TfBuffer:
    """Transforms from ``/tf`` (timed) and ``/tf_static`` (constant) of a bag."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}
        self.static: dict[str, Pose] = {}
        self.series: dict[str, PoseSeries] = {}

    def add(self, parent: str, child: str, stamp_s: float, pose: Pose, static: bool) -> None:
        """Add the transform of ``child`` in ``parent`` (first parent seen wins)."""
        parent, child = parent.lstrip("/"), child.lstrip("/")
        if self.parent.setdefault(child, parent) != parent:
            return  # TF allows one parent per frame
        if static:
            self.static[child] = pose
        else:
            self.series.setdefault(child, PoseSeries()).add(stamp_s, pose)

    def frames(self) -> set[str]:
        """All frame names."""
        return set(self.parent) | set(self.parent.values())

    def root(self, frame: str) -> str:
        """The root of ``frame``'s tree."""
        frame = frame.lstrip("/")
        seen = set()
        while frame in self.parent and frame not in seen:
            seen.add(frame)
            frame = self.parent[frame]
        return frame

    def in_root(self, frame: str, stamp_s: float, max_gap_s: float) -> Pose | None:
        """Pose of ``frame`` in its root at ``stamp_s`` (None when an edge has no sample)."""
        frame = frame.lstrip("/")
        pose = Pose.identity()
        seen = set()
        while frame in self.parent and frame not in seen:
            seen.add(frame)
            edge = self.static.get(frame)
            if edge is None:
                edge = self.series[frame].at(stamp_s, max_gap_s)
                if edge is None:
                    return None
            pose = edge @ pose
            frame = self.parent[frame]
        return pose

    def lookup(self, target: str, source: str, stamp_s: float,
               max_gap_s: float) -> Pose | None:
        """Pose of ``source`` in ``target`` (both in one tree) at ``stamp_s``."""
        a = self.in_root(target, stamp_s, max_gap_s)
        b = self.in_root(source, stamp_s, max_gap_s)
        if a is None or b is None:
            return None
        return a.inverse() @ b


def rotation_mean(rotations: Sequence[np.ndarray]) -> np.ndarray:
    """Chordal L2 mean of rotations: the SVD projection of their sum onto SO(3)."""
    m = np.sum(np.asarray(rotations, dtype=np.float64), axis=0)
    u, _, vt = np.linalg.svd(m)
    d = np.sign(np.linalg.det(u @ vt)) or 1.0
    return u @ np.diag([1.0, 1.0, d]) @ vt


def align_camera_to_gt(pred: Sequence[Pose], gt: Sequence[Pose]) -> Pose:
    """``T_cam_gt`` that best maps ground-truth poses onto predicted ones (module docstring)."""
    if not pred or len(pred) != len(gt):
        raise GroundTruthError("alignment needs at least one frame with ground truth and a face")
    R = rotation_mean([p.R @ g.R.T for p, g in zip(pred, gt, strict=True)])
    t = np.mean([p.t - R @ g.t for p, g in zip(pred, gt, strict=True)], axis=0)
    return Pose(R, t)
