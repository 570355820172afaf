# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""What ROS4HRI (REP-155) publishes per face, computed without ROS.

* :func:`normalized_roi`: the face box as fractions of the image width and height,
  clipped to ``[0, 1]`` (``hri_msgs/NormalizedRegionOfInterest2D``: ``xmin``,
  ``ymin``, ``xmax``, ``ymax``).
* :func:`cropped_face`: the box, scaled to fit ``size`` x ``size`` (aspect kept),
  centred and padded with black (``/humans/faces/<id>/cropped``).
* :func:`aligned_face`: the same, rotated about the box centre so that the eyes are
  level (``/humans/faces/<id>/aligned``): the angle comes from the detector's eye
  landmarks when there are any, else from the predicted roll.

The ROS layer (``ldl_pose_ros.ros.hri``) wraps them in messages.
"""

from __future__ import annotations

import math

import cv2
import numpy as np


def normalized_roi(box: np.ndarray, width: int, height: int
                   ) -> tuple[float, float, float, float]:
    """``(xmin, ymin, xmax, ymax)`` of a pixel box in an image of ``width`` x ``height``."""
    if width <= 0 or height <= 0:
        raise ValueError(f"image size must be positive, got {width}x{height}")
    x1, y1, x2, y2 = (float(v) for v in np.asarray(box, dtype=np.float64).reshape(4))
    clip = lambda v: min(1.0, max(0.0, v))  # noqa: E731
    return clip(x1 / width), clip(y1 / height), clip(x2 / width), clip(y2 / height)


def face_view(image: np.ndarray, box: np.ndarray, size: int, angle_deg: float = 0.0
              ) -> np.ndarray:
    """``size`` x ``size`` view of the face box: its longer side fills the view, black outside.

    The image is turned by ``angle_deg`` about the box centre, counter-clockwise on
    screen (OpenCV's convention).
    """
    x1, y1, x2, y2 = (float(v) for v in np.asarray(box, dtype=np.float64).reshape(4))
    side = max(x2 - x1, y2 - y1)
    if not side > 0 or size < 1:
        raise ValueError(f"degenerate face box {box!r} or size {size}")
    centre = (0.5 * (x1 + x2), 0.5 * (y1 + y2))
    m = np.asarray(cv2.getRotationMatrix2D(centre, angle_deg, size / side), dtype=np.float64)
    m[:, 2] += np.array([0.5 * size - centre[0], 0.5 * size - centre[1]])
    return np.asarray(cv2.warpAffine(image, m, (size, size), flags=cv2.INTER_LINEAR,
                                     borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0, 0)))


def cropped_face(image: np.ndarray, box: np.ndarray, size: int) -> np.ndarray:
    """``size`` x ``size`` crop of the face box, aspect kept, centred, black padding."""
    return face_view(image, box, size)


def eye_roll_deg(landmarks: np.ndarray | None, roll_deg: float) -> float:
    """In-image angle of the line between the eyes (degrees, clockwise positive).

    ``landmarks``: the detector's ``(5, 2)`` points (0: image-left eye, 1: image-right
    eye); without finite eyes, ``roll_deg`` (the package's roll: clockwise in the image
    is positive) is used.
    """
    if landmarks is not None:
        lm = np.asarray(landmarks, dtype=np.float64)
        if lm.shape[0] >= 2 and np.all(np.isfinite(lm[:2])):
            dx, dy = lm[1] - lm[0]
            if dx * dx + dy * dy > 0:
                return math.degrees(math.atan2(dy, dx))
    return float(roll_deg)


def aligned_face(image: np.ndarray, box: np.ndarray, size: int,
                 landmarks: np.ndarray | None, roll_deg: float) -> np.ndarray:
    """:func:`cropped_face` with the eyes level (see :func:`eye_roll_deg`)."""
    # A face rolled clockwise by r on screen is levelled by turning the image
    # counter-clockwise by r, which is cv2's positive angle.
    return face_view(image, box, size, angle_deg=eye_roll_deg(landmarks, roll_deg))
