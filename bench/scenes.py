# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Synthetic multi-face frames built from one photograph, for tests and benchmarks."""

from __future__ import annotations

import math

import cv2
import numpy as np

#: Approximate face box ``(x1, y1, x2, y2)`` in the shipped demo image
#: (``resources.DEMO_IMAGE``, 512x512), checked against BlazeFace and YuNet.
DEMO_FACE_BOX = (176.0, 70.0, 272.0, 172.0)


def face_grid(
    image: np.ndarray,
    face_box: tuple[float, float, float, float] | np.ndarray,
    count: int,
    canvas_size: tuple[int, int] = (640, 480),
    context: float = 2.2,
    background: int = 96,
) -> tuple[np.ndarray, np.ndarray]:
    """Paste ``count`` copies of one face into a ``canvas_size`` (width, height) frame.

    A square patch of side ``context * max(face w, h)`` around the face (edge pixels
    replicated) is resized to fill each cell of a near-square grid.  Returns the
    frame (same channel layout as ``image``) and the ``(count, 4)`` boxes where the
    face box lands in it.  Deterministic.
    """
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    width, height = canvas_size
    fb = np.asarray(face_box, dtype=np.float64)
    cols = max(1, math.ceil(math.sqrt(count * width / height)))
    rows = math.ceil(count / cols)
    while cols > 1 and (cols - 1) * rows >= count:
        cols -= 1
    cell_w, cell_h = width // cols, height // rows
    tile = min(cell_w, cell_h)
    if tile < 8:
        raise ValueError(f"{count} faces do not fit into {width}x{height}")
    side = context * max(fb[2] - fb[0], fb[3] - fb[1])
    cx, cy = (fb[0] + fb[2]) / 2, (fb[1] + fb[3]) / 2
    x0, y0 = cx - side / 2, cy - side / 2
    s = tile / side
    m = np.array([[s, 0.0, -x0 * s], [0.0, s, -y0 * s]])
    patch = cv2.warpAffine(
        image, m, (tile, tile), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE
    )
    canvas = np.full((height, width) + image.shape[2:], background, dtype=image.dtype)
    boxes = np.empty((count, 4))
    for k in range(count):
        r, c = divmod(k, cols)
        ox = c * cell_w + (cell_w - tile) // 2
        oy = r * cell_h + (cell_h - tile) // 2
        canvas[oy : oy + tile, ox : ox + tile] = patch
        boxes[k] = (fb - [x0, y0, x0, y0]) * s + [ox, oy, ox, oy]
    return canvas, boxes
