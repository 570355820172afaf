# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Result types of the estimator, shared by the CLI, the node and the bag tools."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class FacePose:
    """Head pose of one face in one image.

    Angles are degrees in the dataset convention documented in
    ``ldl_pose_ros.core.geometry``; ``*_std`` are the standard deviations of the
    predicted label distributions (degrees).  ``quaternion`` is ``(x, y, z, w)``
    of the REP-155 face frame (x out of the face, z towards the scalp) in the
    camera optical frame (REP-103), from ``geometry.face_rotation_in_optical``.
    """

    box: np.ndarray  # (4,) x1, y1, x2, y2 in pixels
    score: float
    yaw: float
    pitch: float
    roll: float
    yaw_std: float
    pitch_std: float
    roll_std: float
    quaternion: np.ndarray  # (4,) x, y, z, w
    landmarks: np.ndarray | None = None

    @property
    def angles(self) -> np.ndarray:
        """``(yaw, pitch, roll)`` in degrees."""
        return np.array([self.yaw, self.pitch, self.roll], dtype=np.float64)

    @property
    def stds(self) -> np.ndarray:
        """``(yaw_std, pitch_std, roll_std)`` in degrees."""
        return np.array([self.yaw_std, self.pitch_std, self.roll_std], dtype=np.float64)
