# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Small box helpers shared by the detector backends."""

from __future__ import annotations

import numpy as np

from ldl_pose_ros.core.geometry import box_ios, box_iou


def clip_boxes(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    """Clip ``(N, 4)`` x1, y1, x2, y2 boxes to the image ``[0, width] x [0, height]``."""
    out = np.asarray(boxes, dtype=np.float64).reshape(-1, 4).copy()
    out[:, 0::2] = np.clip(out[:, 0::2], 0.0, float(width))
    out[:, 1::2] = np.clip(out[:, 1::2], 0.0, float(height))
    return out


def nms(
    boxes: np.ndarray, scores: np.ndarray, iou_threshold: float, ios_threshold: float | None = None
) -> np.ndarray:
    """Greedy non-maximum suppression; indices of the kept boxes, best score first.

    A box is suppressed by a better one when their IoU exceeds ``iou_threshold`` or,
    if given, their intersection over the smaller box exceeds ``ios_threshold``
    (removes partial boxes contained in a whole one).  Ties in score keep the earlier
    box (stable order), so callers can give priority to one source by listing it first.
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        if order.size == 1:
            break
        rest = order[1:]
        drop = box_iou(boxes[i], boxes[rest])[0] > iou_threshold
        if ios_threshold is not None:
            drop |= box_ios(boxes[i], boxes[rest])[0] > ios_threshold
        order = rest[~drop]
    return np.asarray(keep, dtype=np.int64)
