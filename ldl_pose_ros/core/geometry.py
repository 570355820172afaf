# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Head-pose angle convention and rotations (numpy, float64, vectorised).

Dataset convention (all angles in degrees)
------------------------------------------
The 300W-LP / AFLW2000-3D ``Pose_Para`` convention, used for every angle in
this package (labels, network outputs, messages):

* ``yaw > 0``: the nose points towards the image left (the subject turns to
  their own right);
* ``pitch > 0``: the face turns up;
* ``roll > 0``: the face is rotated clockwise in the image (the image-right eye
  is lower than the image-left eye).

A horizontal image flip maps ``(yaw, pitch, roll)`` to ``(-yaw, pitch, -roll)``.

Rotation matrix
---------------
:func:`euler_to_matrix` returns the rotation ``R`` of the *head frame* H in
the camera optical frame O (REP-103: x right, y down, z forward into the scene)::

    R = Rx(-pitch) @ Ry(yaw) @ Rz(roll)

with ``Rx, Ry, Rz`` the standard right-handed elementary rotations.  The head
frame H coincides with O for a frontal face (0, 0, 0): ``x_H`` points to the
subject's left (image right), ``y_H`` towards the chin, ``z_H`` towards the back
of the head; the nose points along ``-z_H``.  This is the usual decomposition
of Hopenet's BIWI loader and of the 300W-LP (3DDFA) pose parameters: for a
matrix ``M`` of this form, ``yaw = atan2(M[0,2], hypot(M[1,2], M[2,2]))``,
``pitch = atan2(M[1,2], M[2,2])``, ``roll = atan2(-M[0,1], M[0,0])``, identical
to the Hopenet formulas applied to ``M.T``.

The angles are weak-perspective angles: they describe the rotation relative to
the viewing ray through the face.  :func:`ray_correction` turns them into a
rotation in the optical frame of a real (pinhole) camera.

Derived frames
--------------
* :func:`face_rotation_in_optical`: the REP-155 face frame F (x out of the face
  along the nose, y to the face's own left, z towards the scalp) in O.  Frontal:
  ``x_F = (0, 0, -1)``, ``y_F = (1, 0, 0)``, ``z_F = (0, -1, 0)``.
* :func:`gaze_rotation_in_optical`: an optical-style frame G of the face, as if
  a camera sat on the face looking where the nose points: ``z_G`` = nose
  direction, ``y_G`` = towards the chin (down-ish), ``x_G = y_G x z_G`` = to the
  face's own right.  Frontal: ``x_G = (-1, 0, 0)``, ``y_G = (0, 1, 0)``,
  ``z_G = (0, 0, -1)``.

Quaternions are ``(x, y, z, w)`` (ROS order) with ``w >= 0``.  The pipeline carries
rotations as 3x3 matrices; quaternions appear only in messages and inside the
One-Euro rotation smoother (:func:`slerp`, :func:`quaternion_angle`).

Face boxes are ``x1, y1, x2, y2`` pixels; :func:`box_iou` and :func:`box_ios` are the
one vectorised overlap measure of the detectors' suppression and the tracker.
"""

from __future__ import annotations

import numpy as np

# The Euler conventions live with the network (model.angles, below the core); the
# dataset convention's functions are re-exported here, where every other frame is.
from ldl_pose_ros.model.angles import euler_to_matrix, matrix_to_euler

# Columns: REP-155 face axes (x nose, y face-left, z scalp) expressed in the head frame H.
_FACE_IN_HEAD = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, -1.0], [-1.0, 0.0, 0.0]])
# Columns: gaze-frame axes (x face-right, y chin, z nose) expressed in H.
_GAZE_IN_HEAD = np.diag([-1.0, 1.0, -1.0])


def matrix_to_quaternion(rot: np.ndarray) -> np.ndarray:
    """Convert rotations ``(..., 3, 3)`` to unit quaternions ``(..., 4)`` (x, y, z, w), w >= 0."""
    m = np.asarray(rot, np.float64)
    m00, m11, m22 = m[..., 0, 0], m[..., 1, 1], m[..., 2, 2]
    # Four candidate (unnormalised) quaternions; use the best-conditioned one.
    cands = np.stack(
        [
            np.stack(
                [
                    1 + m00 - m11 - m22,
                    m[..., 0, 1] + m[..., 1, 0],
                    m[..., 0, 2] + m[..., 2, 0],
                    m[..., 2, 1] - m[..., 1, 2],
                ],
                -1,
            ),
            np.stack(
                [
                    m[..., 0, 1] + m[..., 1, 0],
                    1 - m00 + m11 - m22,
                    m[..., 1, 2] + m[..., 2, 1],
                    m[..., 0, 2] - m[..., 2, 0],
                ],
                -1,
            ),
            np.stack(
                [
                    m[..., 0, 2] + m[..., 2, 0],
                    m[..., 1, 2] + m[..., 2, 1],
                    1 - m00 - m11 + m22,
                    m[..., 1, 0] - m[..., 0, 1],
                ],
                -1,
            ),
            np.stack(
                [
                    m[..., 2, 1] - m[..., 1, 2],
                    m[..., 0, 2] - m[..., 2, 0],
                    m[..., 1, 0] - m[..., 0, 1],
                    1 + m00 + m11 + m22,
                ],
                -1,
            ),
        ],
        axis=-2,
    )
    diag = np.stack([m00 - m11 - m22, -m00 + m11 - m22, -m00 - m11 + m22, m00 + m11 + m22], -1)
    best = np.argmax(diag, axis=-1)
    q = np.take_along_axis(cands, best[..., None, None], axis=-2)[..., 0, :]
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    return np.where(q[..., 3:4] < 0, -q, q)


def quaternion_to_matrix(quat: np.ndarray) -> np.ndarray:
    """Quaternions ``(..., 4)`` (x, y, z, w; normalised here) -> ``(..., 3, 3)`` rotations."""
    q = np.asarray(quat, np.float64)
    n = np.linalg.norm(q, axis=-1, keepdims=True)
    if np.any(n < 1e-12):
        raise ValueError("zero quaternion")
    x, y, z, w = np.moveaxis(q / n, -1, 0)
    m = np.stack(
        [
            1 - 2 * (y * y + z * z),
            2 * (x * y - z * w),
            2 * (x * z + y * w),
            2 * (x * y + z * w),
            1 - 2 * (x * x + z * z),
            2 * (y * z - x * w),
            2 * (x * z - y * w),
            2 * (y * z + x * w),
            1 - 2 * (x * x + y * y),
        ],
        -1,
    )
    return m.reshape(q.shape[:-1] + (3, 3))


def face_rotation_in_optical(
    yaw: np.ndarray | float, pitch: np.ndarray | float, roll: np.ndarray | float
) -> np.ndarray:
    """REP-155 face frame (x nose, y face-left, z scalp) in the optical frame, ``(..., 3, 3)``."""
    return euler_to_matrix(yaw, pitch, roll) @ _FACE_IN_HEAD


def face_quaternion_in_optical(
    yaw: np.ndarray | float, pitch: np.ndarray | float, roll: np.ndarray | float
) -> np.ndarray:
    """Quaternion ``(..., 4)`` (x, y, z, w) of :func:`face_rotation_in_optical`."""
    return matrix_to_quaternion(face_rotation_in_optical(yaw, pitch, roll))


def gaze_rotation_in_optical(
    yaw: np.ndarray | float, pitch: np.ndarray | float, roll: np.ndarray | float
) -> np.ndarray:
    """Optical-style face frame (z nose, y chin, x face-right) in the optical frame."""
    return euler_to_matrix(yaw, pitch, roll) @ _GAZE_IN_HEAD


def face_matrix_to_euler(rot_face: np.ndarray) -> np.ndarray:
    """Inverse of :func:`face_rotation_in_optical`: ``(..., 3, 3)`` -> (yaw, pitch, roll) deg."""
    return matrix_to_euler(np.asarray(rot_face, np.float64) @ _FACE_IN_HEAD.T)


def geodesic_deg(r1: np.ndarray, r2: np.ndarray) -> np.ndarray:
    """Angle in degrees of the rotation between ``r1`` and ``r2`` (``(..., 3, 3)``)."""
    rel = np.swapaxes(np.asarray(r1, np.float64), -1, -2) @ np.asarray(r2, np.float64)
    cos = (np.trace(rel, axis1=-2, axis2=-1) - 1.0) / 2.0
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def flip_euler(
    yaw: np.ndarray | float, pitch: np.ndarray | float, roll: np.ndarray | float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Angles of the horizontally mirrored image: ``(-yaw, pitch, -roll)``."""
    return (
        -np.asarray(yaw, np.float64),
        np.asarray(pitch, np.float64),
        -np.asarray(roll, np.float64),
    )


def project_axes(
    yaw: np.ndarray | float,
    pitch: np.ndarray | float,
    roll: np.ndarray | float,
    center_xy: np.ndarray | tuple[float, float],
    length_px: np.ndarray | float,
) -> dict[str, np.ndarray]:
    """2D end points of the face axes for drawing (orthographic projection).

    Args:
        yaw: degrees, dataset convention.
        pitch: degrees, dataset convention.
        roll: degrees, dataset convention.
        center_xy: ``(..., 2)`` start point in pixels (image x right, y down).
        length_px: length of a 3D unit axis in pixels.

    Returns:
        ``{"x": nose end, "y": face-left end, "z": scalp end}``, each ``(..., 2)``
        pixels; the start point of all three is ``center_xy``.  A frontal face
        gives ``x`` = centre (pointing at the viewer), ``y`` to the image right,
        ``z`` straight up.
    """
    return rotation_axes_2d(face_rotation_in_optical(yaw, pitch, roll), center_xy, length_px)


def rotation_axes_2d(
    rot_face: np.ndarray,
    center_xy: np.ndarray | tuple[float, float],
    length_px: np.ndarray | float,
) -> dict[str, np.ndarray]:
    """:func:`project_axes` for face-frame rotations ``(..., 3, 3)`` in the optical frame."""
    rot = np.asarray(rot_face, np.float64)  # columns: axes in O (x right, y down)
    c = np.asarray(center_xy, np.float64)
    ln = np.asarray(length_px, np.float64)[..., None]
    return {name: c + ln * rot[..., :2, i] for i, name in enumerate("xyz")}


def ray_rotation(
    center_xy: np.ndarray | tuple[float, float], camera_matrix: np.ndarray
) -> np.ndarray:
    """Smallest rotation taking the optical axis ``(0, 0, 1)`` to the ray through a pixel.

    Args:
        center_xy: ``(..., 2)`` pixel (e.g. the face-box centre).
        camera_matrix: ``(3, 3)`` intrinsics K.

    Returns:
        ``(..., 3, 3)`` rotation in the optical frame.
    """
    d = pixel_rays(center_xy, camera_matrix)
    d = d / np.linalg.norm(d, axis=-1, keepdims=True)
    axis = np.stack([-d[..., 1], d[..., 0], np.zeros_like(d[..., 0])], -1)  # z x d
    s = np.linalg.norm(axis, axis=-1)
    ang = np.arctan2(s, d[..., 2])
    u = axis / np.where(s > 1e-12, s, 1.0)[..., None]
    kx = np.zeros(u.shape[:-1] + (3, 3))
    kx[..., 0, 1], kx[..., 0, 2] = -u[..., 2], u[..., 1]
    kx[..., 1, 0], kx[..., 1, 2] = u[..., 2], -u[..., 0]
    kx[..., 2, 0], kx[..., 2, 1] = -u[..., 1], u[..., 0]
    sa, ca = np.sin(ang)[..., None, None], np.cos(ang)[..., None, None]
    return np.eye(3) + sa * kx + (1 - ca) * (kx @ kx)


def pixel_rays(center_xy: np.ndarray | tuple[float, float], camera_matrix: np.ndarray
               ) -> np.ndarray:
    """``K^-1 (u, v, 1)``: the (unnormalised) ray through each pixel, ``(..., 3)``.

    Intrinsics are upper triangular, so this is back substitution by hand: a LAPACK
    inverse of a 3x3 matrix wakes OpenBLAS's thread pool, whose idle threads then spin
    for a while (about 18 ms of CPU per call on a 2-core machine, at every frame).
    """
    k = np.asarray(camera_matrix, np.float64)
    c = np.asarray(center_xy, np.float64)
    if k.shape != (3, 3) or np.any(np.tril(k, -1) != 0) or np.any(np.diag(k) == 0):
        raise ValueError(f"camera_matrix must be an upper triangular, invertible 3x3 matrix, "
                         f"got {k.tolist()}")
    z = np.full(c.shape[:-1], 1.0 / k[2, 2])
    y = (c[..., 1] - k[1, 2] * z) / k[1, 1]
    x = (c[..., 0] - k[0, 1] * y - k[0, 2] * z) / k[0, 0]
    return np.stack([x, y, z], -1)


def ray_correction(
    rot: np.ndarray, center_xy: np.ndarray | tuple[float, float], camera_matrix: np.ndarray
) -> np.ndarray:
    """Turn a weak-perspective rotation into a rotation in the camera's optical frame.

    The network sees a crop and predicts the pose relative to the viewing ray
    through the face; a face at the image border that looks straight at the
    camera therefore reads as frontal.  This applies the rotation from the
    optical axis to that ray (:func:`ray_rotation`): ``R_cam = R_ray @ rot``.
    ``rot`` is any ``(..., 3, 3)`` rotation in O (head, face or gaze frame).
    """
    return ray_rotation(center_xy, camera_matrix) @ np.asarray(rot, np.float64)


#: Rotation from the REP-155 face frame to the gaze frame: ``R_gaze = R_face @ FACE_TO_GAZE``.
FACE_TO_GAZE = _FACE_IN_HEAD.T @ _GAZE_IN_HEAD


def gaze_rotation_from_face(rot_face: np.ndarray) -> np.ndarray:
    """Gaze frame (z nose, y chin, x face-right) from the REP-155 face frame, ``(..., 3, 3)``."""
    return np.asarray(rot_face, np.float64) @ FACE_TO_GAZE


# ---------------------------------------------------------------- quaternions


def normalize_quaternion(quat: np.ndarray) -> np.ndarray:
    """A ``(4,)`` quaternion scaled to unit length; ``ValueError`` for zero or non-finite input."""
    q = np.asarray(quat, dtype=np.float64).reshape(4)
    n = float(np.linalg.norm(q))
    if not np.isfinite(n) or n < 1e-12:
        raise ValueError(f"invalid quaternion {q}")
    return q / n


def slerp(q0: np.ndarray, q1: np.ndarray, t: float) -> np.ndarray:
    """Spherical interpolation between unit quaternions ``(x, y, z, w)`` along the short arc."""
    q0 = normalize_quaternion(q0)
    q1 = normalize_quaternion(q1)
    d = float(np.dot(q0, q1))
    if d < 0.0:
        q1, d = -q1, -d
    if d > 0.9995:
        return normalize_quaternion(q0 + t * (q1 - q0))
    theta = float(np.arccos(min(d, 1.0)))
    s = float(np.sin(theta))
    out: np.ndarray = (np.sin((1.0 - t) * theta) * q0 + np.sin(t * theta) * q1) / s
    return out


def quaternion_angle(q0: np.ndarray, q1: np.ndarray) -> float:
    """Angle (radians, in [0, pi]) of the rotation between two quaternions."""
    d = abs(float(np.dot(normalize_quaternion(q0), normalize_quaternion(q1))))
    return 2.0 * float(np.arccos(min(d, 1.0)))


# ---------------------------------------------------------------- face boxes


def box_overlap(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairwise intersections ``(N, M)`` of boxes ``a`` (N, 4) and ``b`` (M, 4), and their areas.

    Boxes are ``x1, y1, x2, y2``; a box with x2 < x1 or y2 < y1 has zero area.
    """
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    iw = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    ih = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    inter = np.clip(iw, 0.0, None) * np.clip(ih, 0.0, None)
    area_a = np.clip(a[:, 2] - a[:, 0], 0.0, None) * np.clip(a[:, 3] - a[:, 1], 0.0, None)
    area_b = np.clip(b[:, 2] - b[:, 0], 0.0, None) * np.clip(b[:, 3] - b[:, 1], 0.0, None)
    return inter, area_a, area_b


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise intersection over union ``(N, M)`` of boxes ``a`` (N, 4) and ``b`` (M, 4)."""
    inter, area_a, area_b = box_overlap(a, b)
    return _ratio(inter, area_a[:, None] + area_b[None, :] - inter)


def box_ios(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise intersection over the smaller of the two areas, ``(N, M)``."""
    inter, area_a, area_b = box_overlap(a, b)
    return _ratio(inter, np.minimum(area_a[:, None], area_b[None, :]))
