# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Per-recording metrics: face matching, detection rate, ID switches, latency (numpy).

The angle metrics reuse ``ldl_pose_ros.core.evaluation`` (one MAE for the project);
what is specific to recordings lives here:

* **Matching**: in each frame with ground truth the predicted face whose viewing
  ray (its position) is closest in angle to the ground-truth head's is the match,
  if that angle is at most ``max_deg``; without positions, the nearest face
  (smallest z) is taken.
* **Angles** compared are those of the REP-155 face frame in the camera optical
  frame, decomposed with ``geometry.face_matrix_to_euler`` -- exactly what the node
  publishes (ray-corrected and smoothed) against the true pose.  MAE per angle
  uses the wrapped difference (``evaluation.mae(..., wrap=True)``); the geodesic
  error is the angle of ``R_pred^T R_true`` (``geometry.geodesic_deg``).
* **Detection rate**: matched frames / frames with ground truth.
* **ID switches**: the number of times the track id matched to the ground-truth
  head differs from the id of its previous match (CLEAR-MOT style, one target).
* **Latency** (offline): the node's single worker takes the newest waiting frame
  (latest frame wins) and is busy for the frame's measured processing time;
  :func:`simulate_node_latency` replays the arrivals (bag log times) through that
  and gives each frame's wait + processing, or marks it dropped.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from ldl_pose_ros.core import geometry
from ldl_pose_ros.core.evaluation import ANGLES, mae

#: Largest angle between the predicted and the true face ray for a match (degrees).
DEFAULT_MATCH_MAX_DEG = 15.0


@dataclass
class PredFace:
    """A published face: track id (None if unknown), rotation and position in the camera.

    ``stds``, ``net_angles`` (network output, weak perspective, unsmoothed), ``box``
    and ``score`` are known for offline runs only.
    """

    track_id: int | None
    R: np.ndarray
    position: np.ndarray | None
    stds: np.ndarray | None = None
    net_angles: np.ndarray | None = None
    box: np.ndarray | None = None
    score: float | None = None

    @property
    def angles(self) -> np.ndarray:
        """(yaw, pitch, roll) degrees in the camera optical frame."""
        return geometry.face_matrix_to_euler(self.R)


def ray_angle_deg(a: np.ndarray, b: np.ndarray) -> float:
    """Angle in degrees between the directions of two 3D points seen from the origin."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na < 1e-12 or nb < 1e-12:
        return math.inf
    return math.degrees(math.acos(float(np.clip(np.dot(a, b) / (na * nb), -1.0, 1.0))))


def match_face(faces: Sequence[PredFace], true_position: np.ndarray | None,
               max_deg: float = DEFAULT_MATCH_MAX_DEG) -> int | None:
    """Index of the face matching the ground-truth head, or None (see module docstring)."""
    if not faces:
        return None
    positions = [f.position for f in faces]
    known = [p for p in positions if p is not None]
    if true_position is None or float(np.linalg.norm(true_position)) <= 1e-9 \
            or len(known) < len(positions):
        zs = [p[2] if p is not None else math.inf for p in positions]
        return int(np.argmin(zs))
    angles = [ray_angle_deg(p, true_position) for p in known]
    best = int(np.argmin(angles))
    return best if angles[best] <= max_deg else None


def count_id_switches(ids: Sequence[int | None]) -> int:
    """Changes of the matched id between consecutive matches (None = no match, skipped)."""
    switches, prev = 0, None
    for i in ids:
        if i is None:
            continue
        if prev is not None and i != prev:
            switches += 1
        prev = i
    return switches


def simulate_node_latency(arrivals_s: Sequence[float], processing_ms: Sequence[float | None]
                          ) -> tuple[np.ndarray, np.ndarray]:
    """Latency (ms, NaN if dropped or not processed) and dropped flags of each frame.

    Frames arrive at ``arrivals_s`` (sorted); the worker processes one frame at a
    time, taking the newest waiting one; a waiting frame replaced by a newer one is
    dropped.  ``processing_ms`` None marks frames the node would reject at once
    (bad input: no latency, not dropped).
    """
    n = len(arrivals_s)
    lat = np.full(n, np.nan)
    dropped = np.zeros(n, dtype=bool)
    free = -math.inf
    pending: int | None = None

    def run(i: int, start: float) -> float:
        ms = processing_ms[i]
        assert ms is not None
        end = start + ms / 1e3
        lat[i] = (end - arrivals_s[i]) * 1e3
        return end

    for i in range(n):
        a = float(arrivals_s[i])
        if pending is not None and free <= a:
            free = run(pending, max(free, arrivals_s[pending]))
            pending = None
        if processing_ms[i] is None:
            continue
        if free <= a:
            free = run(i, a)
        else:
            if pending is not None:
                dropped[pending] = True
            pending = i
    if pending is not None:
        run(pending, max(free, arrivals_s[pending]))
    return lat, dropped


def _stats(values: Iterable[float]) -> dict[str, float]:
    v = np.asarray([x for x in values if x is not None and np.isfinite(x)], dtype=np.float64)
    if v.size == 0:
        return {"mean": math.nan, "median": math.nan, "p95": math.nan, "max": math.nan}
    return {"mean": float(v.mean()), "median": float(np.median(v)),
            "p95": float(np.percentile(v, 95)), "max": float(v.max())}


def angle_metrics(pred_R: Sequence[np.ndarray], true_R: Sequence[np.ndarray]
                  ) -> dict[str, dict[str, float]]:
    """MAE per angle (wrapped) and geodesic error statistics for matched pairs."""
    if not pred_R:
        nan = math.nan
        return {"mae": {**{a: nan for a in ANGLES}, "mean": nan},
                "geodesic": {"mean": nan, "median": nan, "p95": nan, "max": nan}}
    P = np.asarray(pred_R, dtype=np.float64)
    T = np.asarray(true_R, dtype=np.float64)
    pa = geometry.face_matrix_to_euler(P)
    ta = geometry.face_matrix_to_euler(T)
    geo = geometry.geodesic_deg(P, T).reshape(-1)
    return {"mae": mae(pa, ta, wrap=True), "geodesic": _stats(geo)}


def timing_stats(values: Sequence[float | None]) -> dict[str, float]:
    """Mean, median, 95th percentile and max of the finite values."""
    return _stats([v for v in values if v is not None])
