# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The per-frame steps shared by the node and the bag tools (no ROS).

For one decoded image: run the estimator, rotate each face onto its camera ray
(``projection.face_rotation_in_camera``), place it with
``projection.face_position``, track and smooth all faces with
``tracking.FaceTracker`` at the frame's stamp, and keep the tracks that are
published (confirmed, or all with ``publish_unconfirmed``) ordered by id.
``HeadPoseNode`` and ``bag.pipeline.FramePipeline`` both call
:func:`track_frame`, so live and recorded data go through one implementation.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from ldl_pose_ros.core import geometry
from ldl_pose_ros.core.camera import CameraIntrinsics, face_position, face_rotation_in_camera


@dataclass
class FrameSteps:
    """Result of :func:`track_frame`.

    ``shown``: published tracks (``TrackedFace``) ordered by id; ``tracked``: every
    face of the frame; ``timing``: the estimator's ``StageTiming``; ``post_ms``:
    geometry and tracking time (ms).
    """

    shown: list[Any]
    tracked: list[Any]
    timing: Any
    post_ms: float


def track_frame(estimator: Any, tracker: Any, image: np.ndarray, color: str, stamp_s: float,
                intrinsics: CameraIntrinsics, *, ray_correction: bool, face_width_m: float,
                publish_unconfirmed: bool) -> FrameSteps:
    """Estimate, place and track the faces of one frame taken at ``stamp_s``.

    Raises ``ImageError`` for an unusable image.
    """
    faces, timing = estimator.estimate_timed(image, color)
    t0 = time.perf_counter()
    if faces:  # one vectorised quaternion conversion for all faces
        rotations = np.stack([face_rotation_in_camera(f, intrinsics, ray_correction)
                              for f in faces])
        quats = geometry.matrix_to_quaternion(rotations)
        faces = [dataclasses.replace(f, quaternion=q) for f, q in zip(faces, quats, strict=True)]
    positions = [face_position(f, intrinsics, face_width_m) for f in faces]
    tracked = tracker.update(faces, stamp_s, positions)
    shown = sorted((t for t in tracked if t.confirmed or publish_unconfirmed),
                   key=lambda t: t.track_id)
    return FrameSteps(shown, tracked, timing, (time.perf_counter() - t0) * 1e3)
