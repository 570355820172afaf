# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Face detector backends behind one interface (:class:`FaceDetector`).

- ``yunet`` (default): YuNet through ``cv2.FaceDetectorYN``; the ONNX file ships in
  ``ldl_pose_ros/weights`` (Apache-2.0, ``YUNET_NOTICE.md``), another can be given as
  ``model_path``.  It finds profile faces that BlazeFace misses.
- ``mediapipe``: BlazeFace, weights inside the ``mediapipe`` wheel.
- ``haar``: OpenCV Haar cascades shipped with opencv-python 4.x; a last resort.

Backends are imported only when created, so a missing optional dependency affects
only the backend that needs it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ldl_pose_ros.core.detection.base import Detection, FaceDetector

BACKENDS = ("mediapipe", "yunet", "haar")
#: The detector used unless another is chosen (CLI, node parameter ``detector``).
DEFAULT_DETECTOR = "yunet"
#: Detection filters of the estimator (and defaults of the node's parameters).  YuNet
#: scores profile faces lower than frontal ones: 0.4 keeps them (on 982 AFLW2000-3D
#: validation images it found 152 of 155 faces with |yaw| >= 60 at 0.4, 150 at 0.5).
DEFAULT_SCORE_THRESHOLD = 0.4
#: YuNet's cost grows with the image area: larger images are downscaled so that their
#: longer side is this many pixels (6 ms at 640x480 on two CPU threads).
DEFAULT_DETECTOR_MAX_SIDE = 640
DEFAULT_MAX_FACES = 20
DEFAULT_MIN_FACE_SIZE = 20

__all__ = ["BACKENDS", "DEFAULT_DETECTOR", "DEFAULT_DETECTOR_MAX_SIDE", "DEFAULT_MAX_FACES",
           "DEFAULT_MIN_FACE_SIZE", "DEFAULT_SCORE_THRESHOLD", "Detection", "FaceDetector",
           "create_detector"]


def create_detector(
    backend: str = DEFAULT_DETECTOR,
    model_path: str | os.PathLike[str] | None = None,
    score_threshold: float = DEFAULT_SCORE_THRESHOLD,
    **kwargs: Any,
) -> FaceDetector:
    """Create a face detector.

    ``model_path``: optional for ``yunet`` (another ONNX file than the shipped one) and
    ``haar`` (a frontal cascade XML replacing OpenCV's default); not accepted for
    ``mediapipe`` (its model is inside the wheel).  Extra keyword arguments go to the backend
    class (e.g. ``model_selection='short'`` for mediapipe, ``max_side`` for yunet).

    Raises ``ValueError`` for an unknown backend or bad argument, ``FileNotFoundError``
    for a missing model file and ``ImportError`` when the backend's package is absent.
    """
    name = str(backend).lower().strip()
    if name not in BACKENDS:
        raise ValueError(f"unknown detector backend {backend!r}; choose one of {BACKENDS}")
    if not 0.0 <= float(score_threshold) <= 1.0:
        raise ValueError(f"score_threshold must be in [0, 1], got {score_threshold}")
    if model_path is not None and not Path(model_path).is_file():
        raise FileNotFoundError(f"{name} detector model file not found: {model_path}")
    if name == "mediapipe":
        if model_path is not None:
            raise ValueError(
                "the mediapipe detector uses the model inside the mediapipe wheel; "
                "model_path is only for 'yunet' (ONNX) and 'haar' (cascade XML)"
            )
        from ldl_pose_ros.core.detection.mediapipe_detector import MediaPipeDetector

        return MediaPipeDetector(score_threshold=score_threshold, **kwargs)
    if name == "yunet":
        from ldl_pose_ros.core.detection.yunet_detector import YuNetDetector
        from ldl_pose_ros.resources import DEFAULT_YUNET

        return YuNetDetector(model_path or DEFAULT_YUNET, score_threshold=score_threshold,
                             **kwargs)
    from ldl_pose_ros.core.detection.haar_detector import HaarDetector

    return HaarDetector(score_threshold=score_threshold, model_path=model_path, **kwargs)
