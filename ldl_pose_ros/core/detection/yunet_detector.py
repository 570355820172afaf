# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The default detector: YuNet through ``cv2.FaceDetectorYN`` (OpenCV >= 4.8).

The package ships YuNet 2023mar (``weights/yunet_2023mar.onnx``, Apache-2.0, see
``weights/YUNET_NOTICE.md``); another YuNet ONNX file can be given instead.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import cv2
import numpy as np

from ldl_pose_ros.core.detection._util import clip_boxes
from ldl_pose_ros.core.detection.base import Detection


class YuNetDetector:
    """YuNet face detector with 5 landmarks.

    YuNet's landmark order (right eye, left eye, nose tip, right and left mouth
    corners, "right" being the subject's, i.e. the image left for a frontal face)
    is already the package's 5-point order.  Images whose longer side exceeds
    ``max_side`` pixels are downscaled for detection (the network runs at full input
    resolution, so its cost grows with the image area); boxes are mapped back.

    Thread safety: :meth:`detect` holds a lock (the OpenCV object keeps its input
    size as state); use one detector per thread for parallelism.
    """

    name = "yunet"

    def __init__(
        self,
        model_path: str | os.PathLike[str],
        score_threshold: float = 0.5,
        nms_threshold: float = 0.3,
        top_k: int = 5000,
        max_side: int | None = 640,
    ) -> None:
        path = Path(model_path)
        if not path.is_file():
            raise FileNotFoundError(f"YuNet model file not found: {path}")
        if not 0.0 <= score_threshold <= 1.0:
            raise ValueError(f"score_threshold must be in [0, 1], got {score_threshold}")
        if max_side is not None and max_side < 32:
            raise ValueError(f"max_side must be >= 32 or None, got {max_side}")
        self.model_path = path
        self.score_threshold = float(score_threshold)
        self.max_side = max_side
        try:
            self._net = cv2.FaceDetectorYN.create(
                str(path), "", (320, 320), self.score_threshold, float(nms_threshold), int(top_k)
            )
        except cv2.error as exc:
            raise ValueError(f"cannot load YuNet model {path}: {exc.err or exc}") from exc
        self._size = (320, 320)
        self._lock = threading.Lock()

    def detect(self, image_rgb: np.ndarray) -> list[Detection]:
        """Detect faces in an ``(H, W, 3)`` uint8 RGB image, best score first."""
        if image_rgb.ndim != 3 or image_rgb.shape[2] != 3 or image_rgb.dtype != np.uint8:
            raise ValueError(f"expected an (H, W, 3) uint8 RGB image, got {image_rgb.shape}")
        h, w = image_rgb.shape[:2]
        scale = 1.0
        if self.max_side is not None and max(h, w) > self.max_side:
            scale = self.max_side / max(h, w)
        bgr = cv2.cvtColor(np.ascontiguousarray(image_rgb), cv2.COLOR_RGB2BGR)
        if scale != 1.0:
            size = (max(1, round(w * scale)), max(1, round(h * scale)))
            bgr = cv2.resize(bgr, size, interpolation=cv2.INTER_AREA)
        sh, sw = bgr.shape[:2]
        with self._lock:
            if self._size != (sw, sh):
                self._net.setInputSize((sw, sh))
                self._size = (sw, sh)
            _, faces = self._net.detect(bgr)
        if faces is None or len(faces) == 0:
            return []
        dets = np.asarray(faces, dtype=np.float64)
        # Map back from the detection image to the input image (pixel-centre aligned).
        sx, sy = w / sw, h / sh
        boxes = dets[:, :4].copy()
        boxes[:, 2:] += boxes[:, :2]
        boxes[:, 0::2] *= sx
        boxes[:, 1::2] *= sy
        boxes = clip_boxes(boxes, w, h)
        landmarks = dets[:, 4:14].reshape(-1, 5, 2) * np.array([sx, sy])
        out = [
            Detection(box=boxes[i], score=float(dets[i, 14]), landmarks=landmarks[i])
            for i in range(len(faces))
            if boxes[i, 2] - boxes[i, 0] >= 1.0 and boxes[i, 3] - boxes[i, 1] >= 1.0
        ]
        out.sort(key=lambda d: -d.score)
        return out

    def close(self) -> None:
        """Nothing to release (kept for a uniform detector interface)."""
