# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Default detector: MediaPipe BlazeFace, whose weights ship inside the ``mediapipe`` wheel.

Needs ``mediapipe==0.10.21`` (the last release with ``mp.solutions``), installed with
``--no-deps`` (see ``requirements/mediapipe.txt``).  ``mediapipe`` is imported only when
a :class:`MediaPipeDetector` is created, so the rest of the package works without it.
"""

from __future__ import annotations

import threading
from types import ModuleType

import numpy as np

from ldl_pose_ros.core.detection._util import clip_boxes, nms
from ldl_pose_ros.core.detection.base import Detection

#: ``model_selection`` values: full-range (faces up to ~5 m, also small faces) and
#: short-range (faces within ~2 m, a little faster).
MODEL_SELECTIONS = {"full": 1, "short": 0}


def _import_face_detection() -> ModuleType:
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
    are NaN.

    Any image size is accepted: MediaPipe letterboxes the whole image into the model
    input (192 px full-range, 128 px short-range), so faces smaller than about a
    tenth of the image's longer side are missed.  ``tiles=n > 1`` also runs the model
    on an ``n x n`` grid of overlapping sub-images and merges all boxes by NMS, which
    finds such small faces (large frames, crowds) at ``1 + n*n`` times the cost.

    Thread safety: one MediaPipe graph processes one image at a time, so
    :meth:`detect` holds a lock; use one detector per thread for parallelism.
    """

    name = "mediapipe"

    def __init__(
        self,
        score_threshold: float = 0.5,
        model_selection: int | str = "full",
        tiles: int = 1,
        tile_overlap: float = 0.25,
    ) -> None:
        if isinstance(model_selection, str):
            if model_selection not in MODEL_SELECTIONS:
                raise ValueError(
                    f"model_selection must be one of {sorted(MODEL_SELECTIONS)} or 0/1, "
                    f"got {model_selection!r}"
                )
            model_selection = MODEL_SELECTIONS[model_selection]
        if model_selection not in (0, 1):
            raise ValueError(
                f"model_selection must be 0 (short) or 1 (full), got {model_selection}"
            )
        if not 0.0 <= score_threshold <= 1.0:
            raise ValueError(f"score_threshold must be in [0, 1], got {score_threshold}")
        if tiles < 1:
            raise ValueError(f"tiles must be >= 1, got {tiles}")
        if not 0.0 <= tile_overlap < 1.0:
            raise ValueError(f"tile_overlap must be in [0, 1), got {tile_overlap}")
        self.tiles = int(tiles)
        self.tile_overlap = float(tile_overlap)
        self.score_threshold = float(score_threshold)
        self.model_selection = int(model_selection)
        face_detection = _import_face_detection()
        self._solution = face_detection.FaceDetection(
            model_selection=self.model_selection, min_detection_confidence=self.score_threshold
        )
        self._lock = threading.Lock()

    def _process(self, image: np.ndarray, x0: int, y0: int, w: int, h: int) -> list[Detection]:
        """Run the graph on ``image`` (a view at offset x0, y0 of a w x h frame)."""
        ih, iw = image.shape[:2]
        with self._lock:
            if self._solution is None:
                raise RuntimeError("MediaPipeDetector is closed")
            result = self._solution.process(np.ascontiguousarray(image))
        out: list[Detection] = []
        for det in result.detections or []:
            loc = det.location_data
            rb = loc.relative_bounding_box
            box = np.array(
                [rb.xmin * iw, rb.ymin * ih, (rb.xmin + rb.width) * iw, (rb.ymin + rb.height) * ih]
            ) + [x0, y0, x0, y0]
            box = clip_boxes(box, w, h)[0]
            if box[2] - box[0] < 1.0 or box[3] - box[1] < 1.0:
                continue
            landmarks = None
            kps = loc.relative_keypoints
            if len(kps) >= 3:
                landmarks = np.full((5, 2), np.nan)
                for i in range(3):
                    landmarks[i] = (kps[i].x * iw + x0, kps[i].y * ih + y0)
            score = float(det.score[0]) if len(det.score) else 0.0
            out.append(Detection(box=box, score=score, landmarks=landmarks))
        return out

    def _tile_origins(self, size: int) -> list[tuple[int, int]]:
        """``(start, length)`` of ``self.tiles`` overlapping tiles along one image axis."""
        n = self.tiles
        length = int(np.ceil(size / (n - (n - 1) * self.tile_overlap)))
        length = min(size, max(length, 1))
        starts = np.linspace(0, size - length, n).round().astype(int)
        return [(int(s), length) for s in starts]

    def detect(self, image_rgb: np.ndarray) -> list[Detection]:
        """Detect faces in an ``(H, W, 3)`` uint8 RGB image, best score first."""
        if image_rgb.ndim != 3 or image_rgb.shape[2] != 3 or image_rgb.dtype != np.uint8:
            raise ValueError(f"expected an (H, W, 3) uint8 RGB image, got {image_rgb.shape}")
        h, w = image_rgb.shape[:2]
        dets = self._process(image_rgb, 0, 0, w, h)
        if self.tiles > 1:
            for y0, th in self._tile_origins(h):
                for x0, tw in self._tile_origins(w):
                    dets += self._process(image_rgb[y0 : y0 + th, x0 : x0 + tw], x0, y0, w, h)
            if len(dets) > 1:
                keep = nms(
                    np.stack([d.box for d in dets]),
                    np.array([d.score for d in dets]),
                    iou_threshold=0.3,
                    ios_threshold=0.6,
                )
                dets = [dets[i] for i in keep]
        dets.sort(key=lambda d: -d.score)
        return dets

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
