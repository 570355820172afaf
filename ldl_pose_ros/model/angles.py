# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The two Euler conventions a network may be trained in, and conversions between them.

Outputs of the package are always in the **dataset** convention
(300W-LP / AFLW2000 ``Pose_Para``, documented in :mod:`ldl_pose_ros.core.geometry`,
which re-exports :func:`euler_to_matrix` and :func:`matrix_to_euler`):
``R = Rx(-pitch) Ry(yaw) Rz(roll)`` in the camera's optical frame.  Its pitch is a
rotation about the *camera's* horizontal axis, so near |yaw| = 90 pitch and roll
turn about almost the same axis: a profile face tilted by 10 degrees in the image
reads as yaw 76, pitch 45, roll 45.  Per-angle label distributions are then wide
and their means regress towards zero.

The **head** convention turns the head first and then bends it about its own axes:
``R = Ry(yaw) Rx(-pitch) Rz(roll)``.  Yaw and pitch are the azimuth and elevation of
the direction the face points in (the roll, innermost, does not move it); roll
turns the face about that direction.  It is singular only at pitch = +-90 (looking
straight up or down), so its angles stay small and smooth for profile faces.  For
small angles the two conventions agree, signs included (yaw > 0 nose towards the
image left, pitch > 0 face up, roll > 0 clockwise in the image), and a horizontal
flip negates yaw and roll in both.

A model trained in the head convention (``ModelConfig.angle_convention = "head"``)
is converted to the dataset convention by :func:`convert_angles` and
:func:`convert_std` in the one inference path (``model.runner``).  The module sits
with the model, below the core, so the runner can use it.
"""

from __future__ import annotations

import numpy as np

#: Euler conventions of a network's bins (``ModelConfig.angle_convention``).
ANGLE_CONVENTIONS = ("dataset", "head")


def rot_x(a: np.ndarray) -> np.ndarray:
    """Elementary rotations ``(..., 3, 3)`` about x (angles in radians)."""
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([o, z, z, z, c, -s, z, s, c], -1).reshape(a.shape + (3, 3))


def rot_y(a: np.ndarray) -> np.ndarray:
    """Elementary rotations ``(..., 3, 3)`` about y (angles in radians)."""
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([c, z, s, z, o, z, -s, z, c], -1).reshape(a.shape + (3, 3))


def rot_z(a: np.ndarray) -> np.ndarray:
    """Elementary rotations ``(..., 3, 3)`` about z (angles in radians)."""
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([c, -s, z, s, c, z, z, z, o], -1).reshape(a.shape + (3, 3))


def euler_to_matrix(
    yaw: np.ndarray | float, pitch: np.ndarray | float, roll: np.ndarray | float
) -> np.ndarray:
    """Rotation of the head frame in the optical frame, ``Rx(-pitch) Ry(yaw) Rz(roll)``.

    Args:
        yaw: degrees, dataset convention; scalar or array.
        pitch: degrees, broadcastable with ``yaw``.
        roll: degrees, broadcastable with ``yaw``.

    Returns:
        ``(..., 3, 3)`` float64 rotation matrices.
    """
    y, p, r = np.broadcast_arrays(
        *(np.radians(np.asarray(v, np.float64)) for v in (yaw, pitch, roll))
    )
    return rot_x(-p) @ rot_y(y) @ rot_z(r)


def matrix_to_euler(rot: np.ndarray) -> np.ndarray:
    """Inverse of :func:`euler_to_matrix`: ``(..., 3, 3)`` -> ``(..., 3)`` (yaw, pitch, roll) deg.

    Yaw is in [-90, 90]; at the singularity |yaw| = 90 the roll is set to 0.
    """
    m = np.asarray(rot, np.float64)
    cy = np.hypot(m[..., 1, 2], m[..., 2, 2])
    yaw = np.arctan2(m[..., 0, 2], cy)
    singular = cy < 1e-9
    pitch = np.where(
        singular, -np.arctan2(m[..., 2, 1], m[..., 1, 1]), np.arctan2(m[..., 1, 2], m[..., 2, 2])
    )
    roll = np.where(singular, 0.0, np.arctan2(-m[..., 0, 1], m[..., 0, 0]))
    return np.degrees(np.stack([yaw, pitch, roll], axis=-1))




def _wrap(deg: np.ndarray) -> np.ndarray:
    return (np.asarray(deg, np.float64) + 180.0) % 360.0 - 180.0


def head_euler_to_matrix(yaw: np.ndarray | float, pitch: np.ndarray | float,
                         roll: np.ndarray | float) -> np.ndarray:
    """Rotation ``Ry(yaw) Rx(-pitch) Rz(roll)`` (degrees in, ``(..., 3, 3)`` out)."""
    y, p, r = np.broadcast_arrays(
        *(np.radians(np.asarray(v, np.float64)) for v in (yaw, pitch, roll)))
    return rot_y(y) @ rot_x(-p) @ rot_z(r)


def matrix_to_head_euler(rot: np.ndarray) -> np.ndarray:
    """Inverse of :func:`head_euler_to_matrix`: ``(..., 3)`` (yaw, pitch, roll) degrees.

    Yaw is in (-180, 180], pitch in [-90, 90].
    """
    m = np.asarray(rot, np.float64)
    # Ry(a) Rx(t) Rz(c): m[1,2] = -sin t, m[0,2] = sin a cos t, m[2,2] = cos a cos t,
    # m[1,0] = cos t sin c, m[1,1] = cos t cos c.
    t = np.arcsin(np.clip(-m[..., 1, 2], -1.0, 1.0))
    yaw = np.arctan2(m[..., 0, 2], m[..., 2, 2])
    roll = np.arctan2(m[..., 1, 0], m[..., 1, 1])
    return np.degrees(np.stack([yaw, -t, roll], axis=-1))


def matrix_to_dataset_euler(rot: np.ndarray) -> np.ndarray:
    """Dataset-convention angles of rotations, on the branch with the smaller pitch and roll.

    ``R = Rx(-p) Ry(y) Rz(r)`` has two solutions, ``(y, p, r)`` and
    ``(180 - y, p + 180, r + 180)``.  :func:`~ldl_pose_ros.core.geometry.matrix_to_euler`
    keeps |yaw| <= 90; datasets label a face turned past 90 degrees with a yaw beyond 90
    and a small pitch and roll, which is the other branch.
    """
    a = matrix_to_euler(rot)
    b = np.stack([_wrap(np.sign(a[..., 0] + 1e-12) * 180.0 - a[..., 0]),
                  _wrap(a[..., 1] + 180.0), _wrap(a[..., 2] + 180.0)], axis=-1)
    use_b = (np.abs(b[..., 1]) + np.abs(b[..., 2])) < (np.abs(a[..., 1]) + np.abs(a[..., 2]))
    return np.where(use_b[..., None], b, a)


def convert_angles(angles: np.ndarray, src: str, dst: str) -> np.ndarray:
    """Convert ``(..., 3)`` (yaw, pitch, roll) degrees from convention ``src`` to ``dst``."""
    for name in (src, dst):
        if name not in ANGLE_CONVENTIONS:
            raise ValueError(f"angle convention must be one of {ANGLE_CONVENTIONS}, got {name!r}")
    a = np.asarray(angles, np.float64)
    if src == dst:
        return a.copy()
    if src == "head":
        return matrix_to_dataset_euler(head_euler_to_matrix(a[..., 0], a[..., 1], a[..., 2]))
    return matrix_to_head_euler(euler_to_matrix(a[..., 0], a[..., 1], a[..., 2]))


#: Standard deviation of an angle uniform on the circle (360 / sqrt(12) degrees): the
#: most a converted std says.
MAX_ANGLE_STD = 360.0 / 12.0 ** 0.5


def convert_std(angles: np.ndarray, std: np.ndarray, src: str, dst: str,
                step: float = 0.5) -> np.ndarray:
    """Propagate per-angle standard deviations ``(N, 3)`` through :func:`convert_angles`.

    First-order (Jacobian by central differences of ``step`` degrees at ``angles``,
    independent angles): ``std_dst_i = sqrt(sum_k (J_ik std_k)^2)``.  Near the dataset
    convention's singularity (|yaw| near 90) its pitch and roll stds grow, as they should,
    up to :data:`MAX_ANGLE_STD` (an angle that is anywhere on the circle: a larger first-order
    figure would claim more than "unknown").
    """
    a = np.asarray(angles, np.float64).reshape(-1, 3)
    s = np.asarray(std, np.float64).reshape(-1, 3)
    if src == dst:
        return s.copy()
    var = np.zeros_like(a)
    for k in range(3):
        d = np.zeros(3)
        d[k] = step
        jac = _wrap(convert_angles(a + d, src, dst) - convert_angles(a - d, src, dst)) / (2 * step)
        var += (jac * s[:, k:k + 1]) ** 2
    return np.minimum(np.sqrt(var), MAX_ANGLE_STD)
