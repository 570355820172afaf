# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Draw face boxes, ids, head axes and yaw/pitch/roll +/- std; the markers' label text.

What is drawn is each face's ``rotation`` and ``angles``: for the network's
:class:`~ldl_pose_ros.core.faces.FacePrediction` (``ldl-pose predict``) its own
angles, for a :class:`~ldl_pose_ros.core.faces.FaceTrack` (the node, ``bag evaluate``)
the published orientation.  Axis colours (REP-155 face frame,
``geometry.rotation_axes_2d``): x out of the face (nose direction) red, y to the
face's own left green, z towards the scalp blue.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import cv2
import numpy as np

from ldl_pose_ros.core import geometry


class Drawable(Protocol):
    """A face as drawn: its box and landmarks, rotation (3x3) and angles with stds."""

    @property
    def box(self) -> np.ndarray:
        """``(x1, y1, x2, y2)`` pixels."""

    @property
    def landmarks(self) -> np.ndarray | None:
        """Detector landmarks ``(5, 2)`` (index 2: nose tip), or None."""

    @property
    def rotation(self) -> np.ndarray:
        """The REP-155 face frame in the optical frame, 3x3."""

    @property
    def angles(self) -> np.ndarray:
        """``(yaw, pitch, roll)`` degrees."""

    @property
    def stds(self) -> np.ndarray:
        """``(yaw_std, pitch_std, roll_std)`` degrees."""

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


def pose_label(pose: Drawable) -> list[str]:
    """Text lines ``Y +12.3 +/-2.1`` etc. (ASCII: OpenCV fonts have no plus-minus sign)."""
    (yaw, pitch, roll), (sy, sp, sr) = pose.angles, pose.stds
    return [f"Y {yaw:+6.1f} +/-{sy:.1f}", f"P {pitch:+6.1f} +/-{sp:.1f}",
            f"R {roll:+6.1f} +/-{sr:.1f}"]


def marker_label(face_id: int | str, face: Drawable) -> str:
    """Text of a face's marker: its id, then the angles of the published orientation.

    ``yaw``, ``pitch`` and ``roll`` (degrees, ± the predicted std) decompose the
    face frame that ``head_poses`` and ``face_<id>`` carry, in the camera frame.
    """
    (yaw, pitch, roll), (sy, sp, sr) = face.angles, face.stds
    return (f"face {face_id} (camera frame)\n"
            f"yaw {yaw:+.1f} +- {sy:.1f}\n"
            f"pitch {pitch:+.1f} +- {sp:.1f}\n"
            f"roll {roll:+.1f} +- {sr:.1f}")


def _axis_origins(poses: Sequence[Drawable]) -> np.ndarray:
    """Nose tip when the detector gave one, else the box centre, ``(N, 2)``."""
    boxes = np.stack([p.box for p in poses]).astype(np.float64)
    origins = 0.5 * (boxes[:, :2] + boxes[:, 2:])
    for i, p in enumerate(poses):
        if p.landmarks is not None and np.all(np.isfinite(p.landmarks[2])):
            origins[i] = p.landmarks[2]
    return origins


def draw_poses(
    image_bgr: np.ndarray,
    poses: Sequence[Drawable],
    ids: Sequence[int] | None = None,
    names: Sequence[str] | None = None,
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
        names: optional face ids drawn instead of the track ids (``#front_3``).
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
    rotations = np.stack([p.rotation for p in poses])
    widths = boxes[:, 2] - boxes[:, 0]
    origins = _axis_origins(poses)
    ends = geometry.rotation_axes_2d(rotations, origins, axis_scale * widths)

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
            name = names[k] if names is not None else str(ids[k])
            cv2.putText(out, f"#{name}", org, font, scale, colors[k], thick, cv2.LINE_AA)
        if text:
            step = int(22 * scale) + 2
            for j, line in enumerate(pose_label(p)):
                org = (x1, min(h - 2, y2 + step * (j + 1)))
                cv2.putText(out, line, org, font, scale, (0, 0, 0), thick + 2, cv2.LINE_AA)
                cv2.putText(out, line, org, font, scale, (255, 255, 255), thick, cv2.LINE_AA)
    return out
