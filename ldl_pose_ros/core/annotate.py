# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Draw face boxes, ids, head axes and yaw/pitch/roll +/- std on a BGR image.

Axis colours (REP-155 face frame, ``geometry.project_axes``): x out of the face
(nose direction) red, y to the face's own left green, z towards the scalp blue.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from ldl_pose_ros.core import geometry
from ldl_pose_ros.core.faces import FacePose

AXIS_COLORS_BGR = {"x": (0, 0, 255), "y": (0, 200, 0), "z": (255, 64, 0)}
BOX_COLOR_BGR = (0, 220, 255)
_PALETTE = np.array(
    [
        (0, 220, 255),
        (255, 160, 0),
        (80, 200, 80),
        (200, 80, 255),
        (0, 128, 255),
        (255, 255, 0),
        (160, 160, 255),
        (255, 0, 160),
    ],
    dtype=np.int64,
)


def id_color(face_id: int) -> tuple[int, int, int]:
    """Return a stable BGR colour for a track id."""
    c = _PALETTE[int(face_id) % len(_PALETTE)]
    return int(c[0]), int(c[1]), int(c[2])


def pose_label(pose: FacePose) -> list[str]:
    """Text lines ``Y +12.3 +/-2.1`` etc. (ASCII: OpenCV fonts have no plus-minus sign)."""
    return [
        f"Y {pose.yaw:+6.1f} +/-{pose.yaw_std:.1f}",
        f"P {pose.pitch:+6.1f} +/-{pose.pitch_std:.1f}",
        f"R {pose.roll:+6.1f} +/-{pose.roll_std:.1f}",
    ]


def _axis_origins(poses: Sequence[FacePose]) -> np.ndarray:
    """Nose tip when the detector gave one, else the box centre, ``(N, 2)``."""
    boxes = np.stack([p.box for p in poses]).astype(np.float64)
    origins = 0.5 * (boxes[:, :2] + boxes[:, 2:])
    for i, p in enumerate(poses):
        if p.landmarks is not None and np.all(np.isfinite(p.landmarks[2])):
            origins[i] = p.landmarks[2]
    return origins


def draw_poses(
    image_bgr: np.ndarray,
    poses: Sequence[FacePose],
    ids: Sequence[int] | None = None,
    copy: bool = True,
    axis_scale: float = 0.6,
    text: bool = True,
    landmarks: bool = True,
) -> np.ndarray:
    """Draw every pose onto a BGR uint8 image and return it.

    Args:
        image_bgr: ``(H, W, 3)`` uint8 BGR image.
        poses: faces to draw.
        ids: optional track ids (one per pose), drawn as ``#id`` and used for colours.
        copy: draw on a copy (default) instead of in place.
        axis_scale: axis length relative to the box width.
        text: draw the angle lines under each box.
        landmarks: draw the finite detector landmarks as dots.
    """
    if image_bgr.ndim != 3 or image_bgr.shape[2] != 3 or image_bgr.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 BGR image, got {image_bgr.shape}")
    if ids is not None and len(ids) != len(poses):
        raise ValueError(f"got {len(ids)} ids for {len(poses)} poses")
    out = image_bgr.copy() if copy else image_bgr
    if not poses:
        return out
    h, w = out.shape[:2]
    thick = max(1, round(min(h, w) / 320))
    boxes = np.stack([p.box for p in poses]).astype(np.float64)
    angles = np.stack([p.angles for p in poses])
    widths = boxes[:, 2] - boxes[:, 0]
    origins = _axis_origins(poses)
    ends = geometry.project_axes(
        angles[:, 0], angles[:, 1], angles[:, 2], origins, axis_scale * widths
    )

    # Boxes: one polyline call per colour.
    rects = np.stack(
        [boxes[:, [0, 1]], boxes[:, [2, 1]], boxes[:, [2, 3]], boxes[:, [0, 3]]], axis=1
    )
    rects = np.round(rects).astype(np.int32)
    colors = [id_color(i) for i in ids] if ids is not None else [BOX_COLOR_BGR] * len(poses)
    for color in set(colors):
        sel = [r for r, c in zip(rects, colors, strict=True) if c == color]
        cv2.polylines(out, sel, True, color, thick, cv2.LINE_AA)

    # Axes: one call per axis for all faces; the nose axis drawn last (on top).
    start = np.round(origins).astype(np.int32)
    for name in ("z", "y", "x"):
        end = np.round(ends[name]).astype(np.int32)
        segs = np.stack([start, end], axis=1)
        cv2.polylines(out, list(segs), False, AXIS_COLORS_BGR[name], thick + 1, cv2.LINE_AA)

    if landmarks:
        for p in poses:
            if p.landmarks is None:
                continue
            for x, y in np.asarray(p.landmarks, dtype=np.float64):
                if np.isfinite(x) and np.isfinite(y):
                    cv2.circle(out, (round(x), round(y)), thick + 1, (255, 255, 255), -1)

    font = cv2.FONT_HERSHEY_SIMPLEX
    for k, p in enumerate(poses):
        scale = float(np.clip(widths[k] / 200.0, 0.35, 0.8))
        x1, y1, _, y2 = (int(round(v)) for v in boxes[k])
        if ids is not None:
            org = (x1, max(12, y1 - 4))
            cv2.putText(out, f"#{ids[k]}", org, font, scale, colors[k], thick, cv2.LINE_AA)
        if text:
            step = int(22 * scale) + 2
            for j, line in enumerate(pose_label(p)):
                org = (x1, min(h - 2, y2 + step * (j + 1)))
                cv2.putText(out, line, org, font, scale, (0, 0, 0), thick + 2, cv2.LINE_AA)
                cv2.putText(out, line, org, font, scale, (255, 255, 255), thick, cv2.LINE_AA)
    return out
