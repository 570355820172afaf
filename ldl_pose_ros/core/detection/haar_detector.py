# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Fallback detector: OpenCV Haar cascades (frontal + profile), shipped with opencv-python 4.x.

Slower and less accurate than BlazeFace or YuNet, and without landmarks; useful when
neither is available.  ``opencv-python`` 5.x no longer ships the cascades.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import cv2
import numpy as np

from ldl_pose_ros.core.detection._util import clip_boxes, nms
from ldl_pose_ros.core.detection.base import Detection

FRONTAL_CASCADE = "haarcascade_frontalface_default.xml"
PROFILE_CASCADE = "haarcascade_profileface.xml"


def _cascade_dir() -> Path:
    data = getattr(cv2, "data", None)
    if data is None or not hasattr(data, "haarcascades"):
        raise ImportError(
            "this OpenCV build ships no Haar cascades (cv2.data.haarcascades); "
            "install opencv-python-headless<5 or give a cascade file as model_path"
        )
    return Path(data.haarcascades)


def _load(path: Path) -> cv2.CascadeClassifier:
    if not path.is_file():
        raise FileNotFoundError(f"Haar cascade file not found: {path}")
    try:
        cascade = cv2.CascadeClassifier(str(path))
    except (cv2.error, SystemError) as exc:  # OpenCV raises SystemError for a bad XML file
        raise ValueError(f"cannot load Haar cascade {path}: {exc}") from exc
    if cascade.empty():
        raise ValueError(f"cannot load Haar cascade {path}")
    return cascade


class HaarDetector:
    """Viola-Jones face detector: frontal cascade plus profile cascade (image and mirror).

    The profile cascade knows one facing direction only, hence the mirrored pass.

    Score heuristic (cascades give no probability): with ``n`` the number of merged
    neighbouring raw detections behind a box, ``score = n / (n + half_score_neighbors)``,
    so a box backed by ``half_score_neighbors`` raw hits scores 0.5 and scores rise
    towards 1 with more support; profile boxes are multiplied by ``profile_weight``.
    Scores order and threshold boxes of this backend; they are not comparable to
    other backends' confidences.  Overlapping frontal/profile boxes are merged by NMS.

    Images whose longer side exceeds ``max_side`` are downscaled for detection.
    No landmarks.  Thread safety: :meth:`detect` holds a lock.
    """

    name = "haar"

    def __init__(
        self,
        score_threshold: float = 0.5,
        model_path: str | os.PathLike[str] | None = None,
        profile: bool = True,
        min_size: int = 20,
        scale_factor: float = 1.1,
        min_neighbors: int = 3,
        half_score_neighbors: int = 8,
        profile_weight: float = 0.9,
        max_side: int | None = 960,
        nms_threshold: float = 0.3,
    ) -> None:
        if not 0.0 <= score_threshold <= 1.0:
            raise ValueError(f"score_threshold must be in [0, 1], got {score_threshold}")
        if scale_factor <= 1.0:
            raise ValueError(f"scale_factor must be > 1, got {scale_factor}")
        frontal = Path(model_path) if model_path is not None else _cascade_dir() / FRONTAL_CASCADE
        self._frontal = _load(frontal)
        self._profile = _load(_cascade_dir() / PROFILE_CASCADE) if profile else None
        self.score_threshold = float(score_threshold)
        self.min_size = int(min_size)
        self.scale_factor = float(scale_factor)
        self.min_neighbors = int(min_neighbors)
        self.half_score_neighbors = max(1, int(half_score_neighbors))
        self.profile_weight = float(profile_weight)
        self.max_side = max_side
        self.nms_threshold = float(nms_threshold)
        self._lock = threading.Lock()

    def _run(self, cascade: cv2.CascadeClassifier, gray: np.ndarray, min_px: int) -> tuple:
        found, hits = cascade.detectMultiScale2(
            gray,
            scaleFactor=self.scale_factor,
            minNeighbors=self.min_neighbors,
            minSize=(min_px, min_px),
        )
        rects = np.asarray(found, dtype=np.float64).reshape(-1, 4)
        counts = np.asarray(hits, dtype=np.float64).reshape(-1)
        return rects, counts

    def detect(self, image_rgb: np.ndarray) -> list[Detection]:
        """Detect faces in an ``(H, W, 3)`` uint8 RGB image, best score first."""
        if image_rgb.ndim != 3 or image_rgb.shape[2] != 3 or image_rgb.dtype != np.uint8:
            raise ValueError(f"expected an (H, W, 3) uint8 RGB image, got {image_rgb.shape}")
        h, w = image_rgb.shape[:2]
        gray = cv2.cvtColor(np.ascontiguousarray(image_rgb), cv2.COLOR_RGB2GRAY)
        scale = 1.0
        if self.max_side is not None and max(h, w) > self.max_side:
            scale = self.max_side / max(h, w)
            size = (max(1, round(w * scale)), max(1, round(h * scale)))
            gray = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
        gray = cv2.equalizeHist(gray)
        gw = gray.shape[1]
        min_px = max(8, round(self.min_size * scale))
        parts_boxes, parts_scores = [], []
        with self._lock:
            rects, counts = self._run(self._frontal, gray, min_px)
            parts_boxes.append(rects)
            parts_scores.append(counts / (counts + self.half_score_neighbors))
            if self._profile is not None:
                for mirrored in (False, True):
                    img = gray[:, ::-1].copy() if mirrored else gray
                    rects, counts = self._run(self._profile, img, min_px)
                    if mirrored and len(rects):
                        rects[:, 0] = gw - rects[:, 0] - rects[:, 2]
                    parts_boxes.append(rects)
                    score = counts / (counts + self.half_score_neighbors) * self.profile_weight
                    parts_scores.append(score)
        boxes = np.concatenate(parts_boxes)
        scores = np.concatenate(parts_scores)
        if len(boxes) == 0:
            return []
        boxes[:, 2:] += boxes[:, :2]
        boxes = clip_boxes(boxes / scale, w, h)
        keep = nms(boxes, scores, self.nms_threshold)
        return [
            Detection(box=boxes[i], score=float(scores[i]), landmarks=None)
            for i in keep
            if scores[i] >= self.score_threshold
        ]

    def close(self) -> None:
        """Nothing to release (kept for a uniform detector interface)."""
