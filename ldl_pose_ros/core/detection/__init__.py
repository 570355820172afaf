# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Face detector backends behind one interface (:class:`FaceDetector`).

- ``mediapipe`` (default): BlazeFace, weights inside the ``mediapipe`` wheel.
- ``yunet``: ``cv2.FaceDetectorYN``; needs the user's YuNet ONNX file (``model_path``).
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
DEFAULT_DETECTOR = "mediapipe"
#: Detection filters of the estimator (and defaults of the node's parameters).
DEFAULT_SCORE_THRESHOLD = 0.5
DEFAULT_MAX_FACES = 20
DEFAULT_MIN_FACE_SIZE = 20

__all__ = ["BACKENDS", "DEFAULT_DETECTOR", "DEFAULT_MAX_FACES", "DEFAULT_MIN_FACE_SIZE",
           "DEFAULT_SCORE_THRESHOLD", "Detection", "FaceDetector", "create_detector"]


def create_detector(
    backend: str = DEFAULT_DETECTOR,
    model_path: str | os.PathLike[str] | None = None,
    score_threshold: float = DEFAULT_SCORE_THRESHOLD,
    **kwargs: Any,
) -> FaceDetector:
    """Create a face detector.

    ``model_path``: required for ``yunet`` (the ONNX file); optional for ``haar`` (a
    frontal cascade XML replacing OpenCV's default); not accepted for ``mediapipe``
    (its model is inside the wheel).  Extra keyword arguments go to the backend
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
        if model_path is None:
            raise ValueError(
                "the yunet detector needs model_path: a YuNet ONNX file such as OpenCV Zoo's "
                "face_detection_yunet_2023mar.onnx"
            )
        from ldl_pose_ros.core.detection.yunet_detector import YuNetDetector

        return YuNetDetector(model_path, score_threshold=score_threshold, **kwargs)
    from ldl_pose_ros.core.detection.haar_detector import HaarDetector

    return HaarDetector(score_threshold=score_threshold, model_path=model_path, **kwargs)
