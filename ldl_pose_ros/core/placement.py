# Copyright 2026 The ldl_pose_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Placing predicted faces in the camera: rotation, position and their covariance.

Rotation
    The network predicts angles relative to the viewing ray through its crop (weak
    perspective).  With ray correction the rotation from the optical axis to the
    (undistorted) ray through the box centre is applied (``geometry.ray_correction``),
    so a face at the image border that looks at the camera gets its x axis pointing
    at the camera centre.

Position model
    A face is placed on the camera ray through the point between its eyes (the
    mean of the two eye landmarks when the detector gives them, otherwise the box
    centre moved up by ``EYE_LINE_OFFSET`` of the box height, where the eyes of an
    upright face sit in a BlazeFace-style box).  Its depth along the optical axis
    is ``fx * face_width_m / box_width_px``: the box is taken to span a face of
    ``face_width_m`` (default :data:`DEFAULT_FACE_WIDTH_M` = 0.15 m, the adult
    cheek-to-cheek width that face detectors' boxes roughly cover).  The ray is
    undistorted with the camera's distortion model when one is known.

Covariance model (6x6, REP-103 order x, y, z, rotX, rotY, rotZ, in the camera frame)
    Rotation: the predicted standard deviations (label-distribution widths) are
    taken as independent small rotations about the face's own axes, roll about
    the face x axis (out of the face), pitch about its y axis (face's left) and
    yaw about its z axis (towards the scalp): ``S_face = diag(roll², pitch², yaw²)``
    in rad², rotated into the camera frame as ``R S_face R^T`` because the
    message's rotational block is about the header frame's fixed axes.
    Position: the dominant error is the unknown true face size, which moves the
    point along its viewing ray: ``(rel_depth_std * Z)² r r^T`` with
    ``r = p / Z``, plus an isotropic lateral term ``(pixel_std * Z / fx)²`` on x
    and y for the error of the eye point in the image.  Cross terms between
    position and rotation are zero.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ldl_pose_ros.core import geometry
from ldl_pose_ros.core.camera import CameraIntrinsics
from ldl_pose_ros.core.faces import FacePrediction, PlacedFace

#: Nominal face width spanned by a detector box (metres).
DEFAULT_FACE_WIDTH_M = 0.15
#: Eye line above the box centre, as a fraction of the box height (no landmarks).
EYE_LINE_OFFSET = 0.1
#: Relative standard deviation of the depth from the nominal face size.
DEFAULT_REL_DEPTH_STD = 0.15
#: Standard deviation of the eye point in the image (pixels).
DEFAULT_PIXEL_STD = 3.0


def eye_point(face: FacePrediction) -> tuple[float, float]:
    """Pixel between the eyes: mean of the two eye landmarks, else just above the box centre."""
    lm = face.landmarks
    if lm is not None and lm.ndim == 2 and lm.shape[0] >= 2 and lm.shape[1] >= 2 \
            and np.all(np.isfinite(lm[:2])):
        c = lm[:2, :2].mean(axis=0)
        return float(c[0]), float(c[1])
    x1, y1, x2, y2 = (float(v) for v in face.box)
    return 0.5 * (x1 + x2), 0.5 * (y1 + y2) - EYE_LINE_OFFSET * (y2 - y1)


def face_position(
    face: FacePrediction, intrinsics: CameraIntrinsics,
    face_width_m: float = DEFAULT_FACE_WIDTH_M,
) -> np.ndarray:
    """Position (metres, camera optical frame) of the point between the eyes of ``face``."""
    if face_width_m <= 0:
        raise ValueError(f"face_width_m must be > 0, got {face_width_m}")
    x1, _, x2, _ = (float(v) for v in face.box)
    w_px = max(x2 - x1, 1.0)
    z = intrinsics.fx * face_width_m / w_px
    u, v = eye_point(face)
    xn, yn = intrinsics.normalized(u, v)
    return np.array([xn * z, yn * z, z], dtype=np.float64)


def face_rotations(faces: Sequence[FacePrediction], intrinsics: CameraIntrinsics | None,
                   ray_correction: bool = True) -> np.ndarray:
    """REP-155 face frames ``(N, 3, 3)`` in the camera optical frame (module docstring)."""
    if not faces:
        return np.zeros((0, 3, 3))
    angles = np.stack([f.angles for f in faces])
    rot = geometry.face_rotation_in_optical(angles[:, 0], angles[:, 1], angles[:, 2])
    if intrinsics is None or not ray_correction:
        return rot
    boxes = np.stack([f.box for f in faces])
    rays = intrinsics.normalized_points(0.5 * (boxes[:, :2] + boxes[:, 2:]))
    return geometry.ray_correction(rot, rays, np.eye(3))


def network_angles(rotation: np.ndarray, center_n: np.ndarray | tuple[float, float]
                   ) -> np.ndarray:
    """The network's ``(yaw, pitch, roll)`` of a face frame given in the camera frame.

    The inverse of :func:`face_rotations`' ray correction: ``rotation`` (the REP-155
    face frame, 3x3) is turned back from the viewing ray through the box centre,
    given in undistorted normalised image coordinates, to the optical axis and
    decomposed: the angles the network predicts from the face's crop.
    """
    ray = geometry.ray_rotation(np.asarray(center_n, np.float64), np.eye(3))
    return geometry.face_matrix_to_euler(ray.T @ np.asarray(rotation, np.float64))


def place_faces(faces: Sequence[FacePrediction], intrinsics: CameraIntrinsics, *,
                ray_correction: bool = True,
                face_width_m: float = DEFAULT_FACE_WIDTH_M) -> list[PlacedFace]:
    """Rotation and position of every face of one image (one vectorised rotation step)."""
    rotations = face_rotations(faces, intrinsics, ray_correction)
    return [PlacedFace(f, r, face_position(f, intrinsics, face_width_m))
            for f, r in zip(faces, rotations, strict=True)]


def pose_covariance(
    position: np.ndarray,
    rotation: np.ndarray,
    stds_deg: np.ndarray,
    fx: float,
    rel_depth_std: float = DEFAULT_REL_DEPTH_STD,
    pixel_std: float = DEFAULT_PIXEL_STD,
) -> np.ndarray:
    """6x6 covariance (x, y, z, rotX, rotY, rotZ) of a face pose in the camera frame.

    ``rotation`` is the face frame in the camera frame (3x3), ``stds_deg`` the
    predicted ``(yaw_std, pitch_std, roll_std)`` in degrees.  See the module
    docstring for the model.
    """
    p = np.asarray(position, dtype=np.float64).reshape(3)
    R = np.asarray(rotation, dtype=np.float64).reshape(3, 3)
    yaw_s, pitch_s, roll_s = np.radians(np.abs(np.asarray(stds_deg, dtype=np.float64)))
    cov = np.zeros((6, 6))
    z = p[2] if p[2] > 1e-9 else 1e-9
    r = p / z
    cov[:3, :3] = (rel_depth_std * z) ** 2 * np.outer(r, r)
    lateral = (pixel_std * z / max(fx, 1e-9)) ** 2
    cov[0, 0] += lateral
    cov[1, 1] += lateral
    s_face = np.diag([roll_s**2, pitch_s**2, yaw_s**2])
    cov[3:, 3:] = R @ s_face @ R.T
    out: np.ndarray = 0.5 * (cov + cov.T)
    return out
