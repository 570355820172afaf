# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Stable face IDs across frames and One-Euro smoothing of rotation and position.

Shared by the ROS node and the bag tools, so both give the same IDs and the
same smoothed poses for the same frames.  In: the :class:`~ldl_pose_ros.core.faces.PlacedFace`
of a frame; out: their :class:`~ldl_pose_ros.core.faces.FaceTrack` (3x3 rotations; the
rotation smoother alone works on quaternions).

Tracks
    Each frame's faces are matched to the live tracks by a one-to-one assignment
    (Hungarian, ``scipy.optimize.linear_sum_assignment``, imported with the module
    so the first match does not stall) on the cost ``(1 - IoU) + d``, ``d`` being the
    distance between box
    centres in units of the track's box size (``max(w, h)``).  A pair may only
    match when ``IoU >= iou_threshold`` or ``d <= max_center_dist``.  Unmatched
    faces start new tentative tracks with fresh IDs (0, 1, 2, ... never reused
    until :meth:`FaceTracker.reset`).  A track is *confirmed* once it has been
    seen in ``confirm_frames`` frames and stays confirmed while it lives.  A
    confirmed track is deleted after ``max_misses`` consecutive frames without
    a match; a tentative one at its first miss.  State is therefore bounded
    by the faces currently in view.

Smoothing (One-Euro filter, Casiez et al. 2012)
    Position: the classic One-Euro filter on the 3-vector, with the speed
    ``|dp/dt|`` (m/s) driving the adaptive cutoff.  Rotation: the same filter
    on the rotation group: the speed is the angle of the rotation between the
    new measurement and the filtered value divided by ``dt`` (rad/s, after
    aligning quaternion hemispheres) and the filtered value moves towards the
    measurement by spherical linear interpolation with the One-Euro weight,
    so the result is always a unit quaternion.  Cutoffs are in Hz.

Time
    ``dt`` comes from the frames' stamps.  A stamp that is not newer than the
    previous one (``dt <= 0``: duplicate or reordered frame) leaves the filters
    unchanged (the held value is returned); a gap longer than ``reset_gap_s``
    restarts a filter at the measurement; a jump backwards by more than
    ``reset_gap_s`` (bag loop, simulated clock reset) clears all tracks.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from ldl_pose_ros.core import geometry
from ldl_pose_ros.core.faces import FaceTrack, PlacedFace

#: Defaults of the tracker (and of the node's parameters of the same names).
DEFAULT_IOU_THRESHOLD = 0.3
DEFAULT_MAX_CENTER_DIST = 0.5
DEFAULT_CONFIRM_FRAMES = 2
DEFAULT_MAX_MISSES = 5
DEFAULT_ROTATION_MIN_CUTOFF = 1.0
DEFAULT_ROTATION_BETA = 0.5
DEFAULT_POSITION_MIN_CUTOFF = 1.0
DEFAULT_POSITION_BETA = 1.0
DEFAULT_DERIVATIVE_CUTOFF = 1.0
DEFAULT_RESET_GAP_S = 1.0

_INVALID = 1e6


def _alpha(cutoff_hz: float, dt: float) -> float:
    """Smoothing factor of a first-order low-pass filter at ``cutoff_hz`` for step ``dt``."""
    tau = 1.0 / (2.0 * math.pi * cutoff_hz)
    return 1.0 / (1.0 + tau / dt)


@dataclass(frozen=True)
class OneEuroParams:
    """One-Euro filter parameters: ``min_cutoff`` and ``d_cutoff`` in Hz, ``beta`` in 1/unit."""

    min_cutoff: float = 1.0
    beta: float = 0.0
    d_cutoff: float = 1.0

    def validate(self) -> None:
        """Raise ``ValueError`` for non-positive cutoffs or a negative beta."""
        if not (self.min_cutoff > 0 and self.d_cutoff > 0):
            raise ValueError("One-Euro cutoffs must be > 0")
        if not self.beta >= 0:
            raise ValueError("One-Euro beta must be >= 0")


class _OneEuro(ABC):
    """The One-Euro filter's time handling and adaptive cutoff; subclasses say how to move."""

    def __init__(self, params: OneEuroParams, reset_gap_s: float = DEFAULT_RESET_GAP_S) -> None:
        params.validate()
        self.params = params
        self.reset_gap_s = reset_gap_s
        self.value: np.ndarray | None = None
        self.speed = 0.0
        self.stamp = 0.0

    @abstractmethod
    def _prepare(self, x: np.ndarray) -> np.ndarray:
        """The measurement in the filter's form."""

    @abstractmethod
    def _distance(self, value: np.ndarray, x: np.ndarray) -> float:
        """How far the measurement is from the filtered value."""

    @abstractmethod
    def _towards(self, value: np.ndarray, x: np.ndarray, a: float) -> np.ndarray:
        """The filtered value moved by the fraction ``a`` towards the measurement."""

    def __call__(self, x: np.ndarray, stamp_s: float) -> np.ndarray:
        """Filter measurement ``x`` taken at ``stamp_s`` and return the filtered value."""
        x = self._prepare(x)
        if self.value is None or stamp_s - self.stamp > self.reset_gap_s:
            self.value, self.speed, self.stamp = x.copy(), 0.0, stamp_s
            return x.copy()
        dt = stamp_s - self.stamp
        if not dt > 0.0:
            return self.value.copy()
        p = self.params
        speed = self._distance(self.value, x) / dt
        self.speed += _alpha(p.d_cutoff, dt) * (speed - self.speed)
        self.value = self._towards(self.value, x, _alpha(p.min_cutoff + p.beta * self.speed, dt))
        self.stamp = stamp_s
        return self.value.copy()


class OneEuroVector(_OneEuro):
    """One-Euro filter of a vector; the adaptive cutoff follows the norm of its speed."""

    def _prepare(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x, dtype=np.float64)

    def _distance(self, value: np.ndarray, x: np.ndarray) -> float:
        return float(np.linalg.norm(x - value))

    def _towards(self, value: np.ndarray, x: np.ndarray, a: float) -> np.ndarray:
        out: np.ndarray = value + a * (x - value)
        return out


class OneEuroRotation(_OneEuro):
    """One-Euro filter on unit quaternions ``(x, y, z, w)`` (slerp towards the measurement)."""

    def _prepare(self, x: np.ndarray) -> np.ndarray:
        q = geometry.normalize_quaternion(x)
        if self.value is not None and float(np.dot(q, self.value)) < 0.0:
            q = -q  # the same rotation, in the filtered value's hemisphere
        return q

    def _distance(self, value: np.ndarray, x: np.ndarray) -> float:
        return geometry.quaternion_angle(value, x)

    def _towards(self, value: np.ndarray, x: np.ndarray, a: float) -> np.ndarray:
        return geometry.slerp(value, x, a)


class _Track:
    def __init__(self, track_id: int, box: np.ndarray, rot: OneEuroParams, pos: OneEuroParams,
                 reset_gap_s: float) -> None:
        self.track_id = track_id
        self.box = box
        self.hits = 0
        self.misses = 0
        self.age = -1
        self.confirmed = False
        self.rot_filter = OneEuroRotation(rot, reset_gap_s)
        self.pos_filter = OneEuroVector(pos, reset_gap_s)


def _assign(cost: np.ndarray) -> list[tuple[int, int]]:
    """Minimum-cost one-to-one assignment, dropping pairs with an invalid cost."""
    if cost.size == 0:
        return []
    rows, cols = linear_sum_assignment(cost)
    return [(int(r), int(c)) for r, c in zip(rows, cols, strict=True) if cost[r, c] < _INVALID]


class FaceTracker:
    """Assigns stable IDs to faces over frames and smooths their rotation and position.

    With ``tracking=False`` every frame stands alone: IDs are the faces' indices
    in the frame, every face is confirmed and nothing is smoothed.  With
    ``smoothing=False`` tracks keep their IDs but poses are passed through.
    """

    def __init__(
        self,
        iou_threshold: float = DEFAULT_IOU_THRESHOLD,
        max_center_dist: float = DEFAULT_MAX_CENTER_DIST,
        confirm_frames: int = DEFAULT_CONFIRM_FRAMES,
        max_misses: int = DEFAULT_MAX_MISSES,
        tracking: bool = True,
        smoothing: bool = True,
        rotation_min_cutoff: float = DEFAULT_ROTATION_MIN_CUTOFF,
        rotation_beta: float = DEFAULT_ROTATION_BETA,
        position_min_cutoff: float = DEFAULT_POSITION_MIN_CUTOFF,
        position_beta: float = DEFAULT_POSITION_BETA,
        d_cutoff: float = DEFAULT_DERIVATIVE_CUTOFF,
        reset_gap_s: float = DEFAULT_RESET_GAP_S,
    ) -> None:
        if not 0.0 <= iou_threshold <= 1.0:
            raise ValueError(f"iou_threshold must be in [0, 1], got {iou_threshold}")
        if not max_center_dist >= 0.0:
            raise ValueError(f"max_center_dist must be >= 0, got {max_center_dist}")
        if confirm_frames < 1:
            raise ValueError(f"confirm_frames must be >= 1, got {confirm_frames}")
        if max_misses < 1:
            raise ValueError(f"max_misses must be >= 1, got {max_misses}")
        if not reset_gap_s > 0.0:
            raise ValueError(f"reset_gap_s must be > 0, got {reset_gap_s}")
        self.iou_threshold = float(iou_threshold)
        self.max_center_dist = float(max_center_dist)
        self.confirm_frames = int(confirm_frames)
        self.max_misses = int(max_misses)
        self.tracking = bool(tracking)
        self.smoothing = bool(smoothing)
        self.rotation_params = OneEuroParams(rotation_min_cutoff, rotation_beta, d_cutoff)
        self.position_params = OneEuroParams(position_min_cutoff, position_beta, d_cutoff)
        self.rotation_params.validate()
        self.position_params.validate()
        self.reset_gap_s = float(reset_gap_s)
        self._tracks: list[_Track] = []
        self._next_id = 0
        self._last_stamp: float | None = None

    @property
    def num_tracks(self) -> int:
        """Number of live tracks (tentative and confirmed)."""
        return len(self._tracks)

    def reset(self) -> None:
        """Forget all tracks; IDs start again at 0."""
        self._tracks = []
        self._next_id = 0
        self._last_stamp = None

    def _cost(self, boxes: np.ndarray) -> np.ndarray:
        tb = np.array([t.box for t in self._tracks]).reshape(-1, 4)
        iou = geometry.box_iou(tb, boxes)
        tc = 0.5 * (tb[:, :2] + tb[:, 2:])
        dc = 0.5 * (boxes[:, :2] + boxes[:, 2:])
        size = np.maximum(np.maximum(tb[:, 2] - tb[:, 0], tb[:, 3] - tb[:, 1]), 1e-6)
        dist = np.linalg.norm(tc[:, None, :] - dc[None, :, :], axis=2) / size[:, None]
        ok = (iou >= self.iou_threshold) | (dist <= self.max_center_dist)
        if self.iou_threshold <= 0.0:
            ok &= iou > 0.0
        cost: np.ndarray = np.where(ok, (1.0 - iou) + dist, _INVALID)
        return cost

    def update(self, faces: Sequence[PlacedFace], stamp_s: float) -> list[FaceTrack]:
        """Track the faces of one frame taken at ``stamp_s`` (seconds).

        Returns one :class:`FaceTrack` per input face, in the input order.
        """
        stamp_s = float(stamp_s)
        if not self.tracking:
            return [FaceTrack(i, f, f.rotation, f.position, True, 0, 1)
                    for i, f in enumerate(faces)]
        if self._last_stamp is not None and stamp_s < self._last_stamp - self.reset_gap_s:
            self._tracks = []  # the clock jumped back: old tracks are from the "future"
            self._last_stamp = stamp_s
        elif self._last_stamp is None or stamp_s > self._last_stamp:
            self._last_stamp = stamp_s
        boxes = np.array([f.prediction.box for f in faces]).reshape(-1, 4)
        if not np.all(np.isfinite(boxes)):
            raise ValueError("face boxes must be finite")
        pairs = _assign(self._cost(boxes)) if self._tracks and len(faces) else []
        track_of = {c: r for r, c in pairs}
        matched_tracks = {r for r, _ in pairs}

        survivors: list[_Track] = []
        for i, t in enumerate(self._tracks):
            if i in matched_tracks:
                survivors.append(t)
                continue
            t.misses += 1
            t.age += 1
            if t.confirmed and t.misses < self.max_misses:
                survivors.append(t)
        tracks_for_face: list[_Track] = []
        for j in range(len(faces)):
            if j in track_of:
                tracks_for_face.append(self._tracks[track_of[j]])
            else:
                t = _Track(self._next_id, boxes[j], self.rotation_params, self.position_params,
                           self.reset_gap_s)
                self._next_id += 1
                survivors.append(t)
                tracks_for_face.append(t)
        self._tracks = survivors

        out = []
        for j, (face, t) in enumerate(zip(faces, tracks_for_face, strict=True)):
            t.box = boxes[j]
            t.hits += 1
            t.misses = 0
            t.age += 1
            if t.hits >= self.confirm_frames:
                t.confirmed = True
            rotation, position = face.rotation, face.position
            if self.smoothing:  # the rotation smoother works on quaternions
                q = t.rot_filter(geometry.matrix_to_quaternion(rotation), stamp_s)
                rotation = geometry.quaternion_to_matrix(q)
                position = t.pos_filter(position, stamp_s)
            out.append(FaceTrack(t.track_id, face, rotation, position, t.confirmed, t.age,
                                 t.hits))
        return out
