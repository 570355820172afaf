# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The face detector interface shared by every backend."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass
class Detection:
    """One detected face.

    ``box`` is ``(x1, y1, x2, y2)`` in pixels of the input image (float);
    ``landmarks`` is an optional ``(5, 2)`` array: image-left eye, image-right
    eye, nose tip, image-left mouth corner, image-right mouth corner.
    """

    box: np.ndarray
    score: float
    landmarks: np.ndarray | None = None


class FaceDetector(Protocol):
    """A face detector backend."""

    name: str

    def detect(self, image_rgb: np.ndarray) -> list[Detection]:
        """Detect faces in an ``(H, W, 3)`` uint8 RGB image, best score first."""
        ...
