# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Default detector: MediaPipe BlazeFace, whose weights ship inside the ``mediapipe`` wheel.

Needs ``mediapipe==0.10.21`` (the last release with ``mp.solutions``), installed with
``--no-deps`` (see ``requirements/mediapipe.txt``).  ``mediapipe`` is imported only when
a :class:`MediaPipeDetector` is created, so the rest of the package works without it.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from ldl_pose_ros.detection._util import clip_boxes
from ldl_pose_ros.detection.base import Detection

#: ``model_selection`` values: full-range (faces up to ~5 m, also small faces) and
#: short-range (faces within ~2 m, a little faster).
MODEL_SELECTIONS = {"full": 1, "short": 0}


def _import_face_detection() -> Any:
    try:
        from mediapipe.python.solutions import face_detection
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "the 'mediapipe' detector needs mediapipe==0.10.21 "
            "(pip install --no-deps -r requirements/mediapipe.txt); "
            "or use detector='yunet' with a model file, or detector='haar'"
        ) from exc
    return face_detection


class MediaPipeDetector:
    """BlazeFace face detector (MediaPipe ``face_detection`` solution).

    Boxes are in pixels of the input image, clipped to it.  Landmarks follow the
    package's 5-point order (``detection.base.Detection``): BlazeFace's right eye
    (the subject's, usually on the image left), left eye and nose tip fill points
    0-2; BlazeFace gives only the mouth centre, not its corners, so points 3 and 4
    are NaN.  Any image size is accepted (MediaPipe letterboxes to the model input);
    very elongated images shrink their faces accordingly.

    Thread safety: one MediaPipe graph processes one image at a time, so
    :meth:`detect` holds a lock; use one detector per thread for parallelism.
    """

    name = "mediapipe"

    def __init__(self, score_threshold: float = 0.5, model_selection: int | str = "full") -> None:
        if isinstance(model_selection, str):
            if model_selection not in MODEL_SELECTIONS:
                raise ValueError(
                    f"model_selection must be one of {sorted(MODEL_SELECTIONS)} or 0/1, "
                    f"got {model_selection!r}"
                )
            model_selection = MODEL_SELECTIONS[model_selection]
        if model_selection not in (0, 1):
            raise ValueError(f"model_selection must be 0 (short) or 1 (full), got {model_selection}")
        if not 0.0 <= score_threshold <= 1.0:
            raise ValueError(f"score_threshold must be in [0, 1], got {score_threshold}")
        self.score_threshold = float(score_threshold)
        self.model_selection = int(model_selection)
        face_detection = _import_face_detection()
        self._solution = face_detection.FaceDetection(
            model_selection=self.model_selection, min_detection_confidence=self.score_threshold
        )
        self._lock = threading.Lock()

    def detect(self, image_rgb: np.ndarray) -> list[Detection]:
        """Detect faces in an ``(H, W, 3)`` uint8 RGB image, best score first."""
        if image_rgb.ndim != 3 or image_rgb.shape[2] != 3 or image_rgb.dtype != np.uint8:
            raise ValueError(f"expected an (H, W, 3) uint8 RGB image, got {image_rgb.shape}")
        h, w = image_rgb.shape[:2]
        image = np.ascontiguousarray(image_rgb)
        with self._lock:
            if self._solution is None:
                raise RuntimeError("MediaPipeDetector is closed")
            result = self._solution.process(image)
        raw = result.detections or []
        out: list[Detection] = []
        for det in raw:
            loc = det.location_data
            rb = loc.relative_bounding_box
            box = clip_boxes(
                np.array(
                    [rb.xmin * w, rb.ymin * h, (rb.xmin + rb.width) * w, (rb.ymin + rb.height) * h]
                ),
                w,
                h,
            )[0]
            if box[2] - box[0] < 1.0 or box[3] - box[1] < 1.0:
                continue
            landmarks = None
            kps = loc.relative_keypoints
            if len(kps) >= 3:
                landmarks = np.full((5, 2), np.nan)
                for i in range(3):
                    landmarks[i] = (kps[i].x * w, kps[i].y * h)
            score = float(det.score[0]) if len(det.score) else 0.0
            out.append(Detection(box=box, score=score, landmarks=landmarks))
        out.sort(key=lambda d: -d.score)
        return out

    def close(self) -> None:
        """Release the MediaPipe graph (idempotent)."""
        with self._lock:
            if self._solution is not None:
                self._solution.close()
                self._solution = None

    def __enter__(self) -> MediaPipeDetector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
